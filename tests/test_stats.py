"""Known-answer and calibration tests of brainalign.stats."""

import numpy as np
import pytest

from brainalign.errors import ConfigError
from brainalign.metrics import (
    half_margins,
    pair_outcomes,
    similarity_matrix,
    two_vs_two,
    two_vs_two_pair_matrix,
)
from brainalign.families import benjamini_hochberg
from brainalign.paired_stats import paired_bootstrap_two_vs_two, paired_permutation_two_vs_two
from brainalign.stats import (
    StatisticsSettings,
    bootstrap_counts,
    bootstrap_two_vs_two,
    permutation_two_vs_two,
    resampled_pair_means,
    rng_for,
)
from brainalign.subject_tests import sign_flip_floor, sign_flip_test, t_interval


def noisy_pair(rng, n=30, dims=6, signal=0.0):
    actual = rng.standard_normal((n, dims))
    predicted = signal * actual + rng.standard_normal((n, dims))
    return predicted, actual


def test_benjamini_hochberg_matches_a_hand_computed_example():
    # sorted: 0.005, 0.01, 0.03, 0.04 -> p*m/rank = 0.02, 0.02, 0.04, 0.04 (already monotone)
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.005, np.nan])
    np.testing.assert_allclose(q[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(q[4])
    # a step-up case: 0.01*3/1 = 0.03 but the later 0.02*3/2 = 0.03, 0.9*3/3 = 0.9
    np.testing.assert_allclose(benjamini_hochberg([0.9, 0.02, 0.011]), [0.9, 0.03, 0.03])
    np.testing.assert_allclose(benjamini_hochberg([0.8, 0.9]), [0.9, 0.9])


def test_resampled_pair_means_with_unit_counts_is_plain_two_vs_two():
    predicted, actual = noisy_pair(np.random.default_rng(0), signal=0.5)
    outcomes = two_vs_two_pair_matrix(predicted, actual)
    value = resampled_pair_means(outcomes, np.ones((1, 30)))[0]
    assert value == pytest.approx(two_vs_two(predicted, actual))
    # a resample drawing stimulus 0 twice and 1 once scores pairs {0,1} (x2) only
    counts = np.zeros((1, 30))
    counts[0, :2] = [2, 1]
    assert resampled_pair_means(outcomes, counts)[0] == pytest.approx(float(outcomes[0, 1]))


def test_batched_pair_outcomes_equal_the_single_matrix_version():
    predicted, actual = noisy_pair(np.random.default_rng(1), signal=1.0)
    similarity = similarity_matrix(predicted, actual)
    stacked = np.stack([similarity, similarity[:, ::-1]])
    assert np.array_equal(pair_outcomes(stacked)[0], two_vs_two_pair_matrix(predicted, actual))
    assert np.array_equal(pair_outcomes(stacked)[1], pair_outcomes(similarity[:, ::-1]))


def test_permutation_p_is_uniform_under_the_null_and_minimal_on_a_planted_signal():
    rng = np.random.default_rng(2)
    p_values = []
    for run in range(200):
        predicted, actual = noisy_pair(rng, n=24, dims=4)
        _, p = permutation_two_vs_two(similarity_matrix(predicted, actual), n_permutations=199, rng=rng_for(0, run))
        p_values.append(p)
    p_values = np.array(p_values)
    # Uniform: P(p <= 0.1) = 0.1 (sd 0.021 over 200 runs), P(p <= 0.5) = 0.5 (sd 0.035).
    assert 0.04 <= np.mean(p_values <= 0.1) <= 0.17
    assert 0.38 <= np.mean(p_values <= 0.5) <= 0.62
    predicted, actual = noisy_pair(rng, n=24, dims=4, signal=2.0)
    observed, p = permutation_two_vs_two(similarity_matrix(predicted, actual), n_permutations=199, rng=rng_for(0, "s"))
    assert observed == pytest.approx(two_vs_two(predicted, actual)) and observed > 0.8
    assert p == pytest.approx(1 / 200)


def test_bootstrap_ci_covers_the_population_two_vs_two_at_about_the_nominal_rate():
    # A fixed predictor on a population of 1500 stimuli; the true 2v2 is over all its pairs.
    rng = np.random.default_rng(3)
    predicted, actual = noisy_pair(rng, n=1500, dims=5, signal=0.6)
    population = two_vs_two_pair_matrix(predicted, actual)
    truth = population.sum() / (1500 * 1499)
    covered = []
    for run in range(150):
        sample = rng.choice(1500, size=60, replace=False)
        low, high = bootstrap_two_vs_two(
            population[np.ix_(sample, sample)], n_resamples=400, level=0.9, rng=rng_for(0, run)
        )
        covered.append(low <= truth <= high)
    # nominal 0.90; the sd of the coverage over 150 runs is about 0.025
    assert 0.8 <= np.mean(covered) <= 0.97


def test_paired_permutation_test_is_calibrated_and_finds_a_planted_difference():
    rng = np.random.default_rng(4)
    p_values = []
    for run in range(120):
        actual = rng.standard_normal((24, 4))
        a = similarity_matrix(actual + 1.5 * rng.standard_normal((24, 4)), actual)
        b = similarity_matrix(actual + 1.5 * rng.standard_normal((24, 4)), actual)
        _, p = paired_permutation_two_vs_two(half_margins(a), half_margins(b), n_permutations=199, rng=rng_for(0, run))
        p_values.append(p)
    p_values = np.array(p_values)
    assert 0.02 <= np.mean(p_values <= 0.1) <= 0.19
    assert 0.36 <= np.mean(p_values <= 0.5) <= 0.64
    actual = rng.standard_normal((40, 4))
    good = similarity_matrix(actual + 0.3 * rng.standard_normal((40, 4)), actual)
    poor = similarity_matrix(actual + 3.0 * rng.standard_normal((40, 4)), actual)
    difference, p = paired_permutation_two_vs_two(half_margins(good), half_margins(poor), n_permutations=199, rng=rng_for(1))
    assert difference == pytest.approx(pair_outcomes(good).mean() * 40 / 39 - pair_outcomes(poor).mean() * 40 / 39)
    assert difference > 0.2 and p == pytest.approx(1 / 200)
    low, high = paired_bootstrap_two_vs_two(pair_outcomes(good), pair_outcomes(poor), n_resamples=300, level=0.95, rng=rng_for(2))
    assert 0 < low < difference < high


def test_sign_flip_enumerates_few_subjects_exactly():
    # 3 positive values: only the all-plus and all-minus patterns reach |mean| -> 2 / 8
    assert sign_flip_test([1.0, 2.0, 3.0], n_permutations=1000, rng=rng_for(0)) == pytest.approx(0.25)
    assert sign_flip_test([0.1, 0.2], n_permutations=1000, rng=rng_for(0)) == pytest.approx(0.5)
    assert sign_flip_test([1.0, -1.0], n_permutations=1000, rng=rng_for(0)) == pytest.approx(1.0)
    # 12 subjects: sampled patterns, p close to the exact 2 / 4096
    p = sign_flip_test(np.arange(1.0, 13.0), n_permutations=999, rng=rng_for(0))
    assert p <= 0.005
    low, high = t_interval([1.0, 2.0, 3.0], 0.95)
    assert low == pytest.approx(2 - 4.302653 * 1 / np.sqrt(3), rel=1e-5) and high == pytest.approx(4 - low)
    assert np.isnan(t_interval([1.0], 0.95)).all()
    # the floor of the exact test: 0.5 with 2 subjects, 0.0625 with 5
    assert sign_flip_floor(2, 1000) == 0.5 and sign_flip_floor(5, 1000) == 0.0625
    assert sign_flip_floor(12, 999) == pytest.approx(1 / 1000)


def test_group_resampling_keeps_passages_whole_and_restricts_pairs_by_mask():
    from brainalign.resampling import pair_mask

    rng = np.random.default_rng(6)
    groups = np.repeat(np.arange(10), 4)
    actual = rng.standard_normal((40, 5))
    similarity = similarity_matrix(actual + 0.7 * rng.standard_normal((40, 5)), actual)
    outcomes = pair_outcomes(similarity)
    # single-stimulus groups reproduce the single-stimulus scheme exactly
    assert bootstrap_two_vs_two(outcomes, n_resamples=50, level=0.9, rng=rng_for(0), groups=np.arange(40)) == (
        bootstrap_two_vs_two(outcomes, n_resamples=50, level=0.9, rng=rng_for(0)))
    low, high = bootstrap_two_vs_two(outcomes, n_resamples=400, level=0.95, rng=rng_for(1), groups=groups)
    assert low < outcomes.sum() / (40 * 39) < high
    sessions = np.where(groups < 5, "x", "y")
    within = pair_mask(sessions, 40, "within_session")
    observed, p = permutation_two_vs_two(similarity, n_permutations=99, rng=rng_for(2), groups=groups,
                                         sessions=sessions, mask=within)
    assert observed == pytest.approx(outcomes[within].mean()) and p == pytest.approx(1 / 100)
    empty = pair_mask(None, 40, "cross_session")
    assert all(np.isnan(permutation_two_vs_two(similarity, n_permutations=9, rng=rng_for(2), mask=empty)))


def test_seeds_depend_on_identity_and_are_reproducible():
    a = bootstrap_counts(rng_for(0, "decoding", "S01"), 10, 3)
    assert np.array_equal(a, bootstrap_counts(rng_for(0, "decoding", "S01"), 10, 3))
    assert not np.array_equal(a, bootstrap_counts(rng_for(0, "decoding", "S02"), 10, 3))
    assert not np.array_equal(a, bootstrap_counts(rng_for(1, "decoding", "S01"), 10, 3))
    assert (a.sum(axis=1) == 10).all()


def test_settings_reject_out_of_range_values():
    with pytest.raises(ConfigError, match="ci_level"):
        StatisticsSettings(ci_level=1.5)
    with pytest.raises(ConfigError, match="n_bootstrap"):
        StatisticsSettings(n_bootstrap=-1)
