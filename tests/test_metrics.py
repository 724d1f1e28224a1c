"""2v2 accuracy and per-column Pearson r against brute-force and scipy references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from brainalign.errors import ConfigError, DataError
from brainalign.metrics import (
    DISTANCES,
    batched_similarity,
    pearson_per_column,
    similarity_matrix,
    split_similarity,
    two_vs_two,
    two_vs_two_pair_matrix,
)


def _similarity(a: np.ndarray, b: np.ndarray, distance: str) -> float:
    if distance == "correlation":
        return float(np.corrcoef(a, b)[0, 1])
    if distance == "cosine":
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return -float(np.linalg.norm(a - b))


def _brute_force_two_vs_two(predicted: np.ndarray, actual: np.ndarray, distance: str) -> float:
    n = predicted.shape[0]
    correct = 0
    for i, j in itertools.combinations(range(n), 2):
        matched = _similarity(predicted[i], actual[i], distance) + _similarity(predicted[j], actual[j], distance)
        crossed = _similarity(predicted[i], actual[j], distance) + _similarity(predicted[j], actual[i], distance)
        correct += matched > crossed
    return correct / (n * (n - 1) / 2)


@pytest.mark.parametrize("distance", DISTANCES)
def test_two_vs_two_equals_brute_force_loop(distance):
    rng = np.random.default_rng(1)
    actual = rng.standard_normal((30, 12))
    # A weak signal gives a score well away from 0 and 1, so many pairs go either way.
    predicted = 0.3 * actual + rng.standard_normal((30, 12))
    expected = _brute_force_two_vs_two(predicted, actual, distance)
    assert 0.55 < expected < 0.95
    assert two_vs_two(predicted, actual, distance=distance) == expected


@pytest.mark.parametrize("distance", DISTANCES)
def test_pair_matrix_is_symmetric_and_matches_brute_force_per_pair(distance):
    rng = np.random.default_rng(2)
    actual = rng.standard_normal((15, 8))
    predicted = 0.5 * actual + rng.standard_normal((15, 8))
    outcomes = two_vs_two_pair_matrix(predicted, actual, distance=distance)
    assert outcomes.dtype == bool and outcomes.shape == (15, 15)
    np.testing.assert_array_equal(outcomes, outcomes.T)
    assert not outcomes.diagonal().any()
    for i, j in itertools.combinations(range(15), 2):
        matched = _similarity(predicted[i], actual[i], distance) + _similarity(predicted[j], actual[j], distance)
        crossed = _similarity(predicted[i], actual[j], distance) + _similarity(predicted[j], actual[i], distance)
        assert outcomes[i, j] == (matched > crossed)


def test_similarity_matrix_entries():
    rng = np.random.default_rng(3)
    predicted, actual = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    for distance in DISTANCES:
        similarity = similarity_matrix(predicted, actual, distance)
        expected = [[_similarity(p, a, distance) for a in actual] for p in predicted]
        np.testing.assert_allclose(similarity, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("distance", DISTANCES)
def test_split_similarity_is_the_diagonal_and_the_blocks_across_of_the_batched_similarity(distance):
    rng = np.random.default_rng(5)
    predicted, actual = rng.standard_normal((3, 7, 4)), rng.standard_normal((3, 7, 4))
    predicted[1, 2] = 0.0  # a zero row has similarity 0 (cosine, correlation), as in batched_similarity
    whole = batched_similarity(predicted, actual, distance)
    diagonal, forward, backward = split_similarity(predicted, actual, distance, 3)
    np.testing.assert_allclose(diagonal, np.diagonal(whole, axis1=1, axis2=2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(forward, whole[:, :3, 3:], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backward, whole[:, 3:, :3], rtol=1e-12, atol=1e-12)
    assert forward[0, 1, 2] == pytest.approx(_similarity(predicted[0, 1], actual[0, 5], distance), abs=1e-12)


@pytest.mark.parametrize("distance", DISTANCES)
def test_two_vs_two_is_at_chance_for_unrelated_data(distance):
    rng = np.random.default_rng(4)
    # Pairs share stimuli, so the null standard deviation shrinks only like 1/sqrt(n)
    # (measured: 0.020 at n=400, 0.011 at n=1500); 6 draws at n=1500 give about 0.004,
    # which the 0.02 bound exceeds by 4.5 standard deviations.
    scores = [two_vs_two(rng.standard_normal((1500, 20)), rng.standard_normal((1500, 20)), distance) for _ in range(6)]
    assert abs(np.mean(scores) - 0.5) < 0.02


@pytest.mark.parametrize("distance", DISTANCES)
def test_two_vs_two_is_perfect_for_a_perfect_prediction(distance):
    actual = np.random.default_rng(5).standard_normal((200, 30))
    assert two_vs_two(actual.copy(), actual, distance) > 0.99


@pytest.mark.parametrize("distance", DISTANCES)
def test_tied_pairs_score_zero(distance):
    rng = np.random.default_rng(6)
    actual = rng.standard_normal((40, 25))
    predicted = actual + 0.1 * rng.standard_normal((40, 25))
    # Identical predictions for stimuli 3 and 17 tie their pair exactly (in exact
    # arithmetic); every other pair is near certain to be correct.
    predicted[17] = predicted[3]
    outcomes = two_vs_two_pair_matrix(predicted, actual, distance)
    assert not outcomes[3, 17] and not outcomes[17, 3]
    upper = outcomes[np.triu_indices(40, 1)]
    assert upper.sum() == upper.size - 1
    assert two_vs_two(predicted, actual, distance) == pytest.approx((upper.size - 1) / upper.size)


def test_two_vs_two_accepts_float32_and_lists():
    rng = np.random.default_rng(7)
    actual = rng.standard_normal((20, 6))
    predicted = actual + rng.standard_normal((20, 6))
    expected = two_vs_two(predicted, actual)
    assert two_vs_two(predicted.tolist(), actual.tolist()) == expected
    assert two_vs_two(predicted.astype(np.float32), actual.astype(np.float32)) == pytest.approx(expected, abs=0.01)


def test_two_vs_two_rejects_bad_input():
    rng = np.random.default_rng(8)
    actual = rng.standard_normal((10, 4))
    with pytest.raises(ConfigError, match="correlation, cosine, euclidean"):
        two_vs_two(actual, actual, distance="manhattan")
    with pytest.raises(DataError, match="same shape"):
        two_vs_two(actual[:9], actual)
    with pytest.raises(DataError, match="at least 2 stimuli"):
        two_vs_two(actual[:1], actual[:1])
    with pytest.raises(DataError, match="2-D"):
        two_vs_two(actual[:, 0], actual[:, 0])
    with_nan = actual.copy()
    with_nan[2, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        two_vs_two(with_nan, actual)


def test_constant_rows_raise_under_correlation_but_not_euclidean():
    rng = np.random.default_rng(9)
    actual = rng.standard_normal((10, 4))
    predicted = rng.standard_normal((10, 4))
    predicted[4] = 0.7
    with pytest.raises(DataError, match=r"constant row.*\[4\]"):
        two_vs_two(predicted, actual)
    assert 0.0 <= two_vs_two(predicted, actual, distance="euclidean") <= 1.0
    predicted[4] = 0.0
    with pytest.raises(DataError, match="all-zero row"):
        two_vs_two(predicted, actual, distance="cosine")


def test_pearson_per_column_matches_scipy():
    rng = np.random.default_rng(10)
    actual = rng.standard_normal((50, 7))
    predicted = rng.standard_normal((50, 7)) + np.linspace(0, 2, 7) * actual
    expected = [stats.pearsonr(predicted[:, k], actual[:, k]).statistic for k in range(7)]
    np.testing.assert_allclose(pearson_per_column(predicted, actual), expected, rtol=1e-12, atol=1e-14)


def test_pearson_per_column_constant_column_is_zero_not_nan():
    rng = np.random.default_rng(11)
    actual = rng.standard_normal((30, 3))
    predicted = rng.standard_normal((30, 3))
    # 0.1 is not exactly representable: centring leaves round-off that must not become r = +-1.
    predicted[:, 1] = 0.1
    actual[:, 2] = -3.3
    r = pearson_per_column(predicted, actual)
    assert r[1] == 0.0 and r[2] == 0.0
    assert r[0] == pytest.approx(stats.pearsonr(predicted[:, 0], actual[:, 0]).statistic, rel=1e-12)


def test_pearson_per_column_one_dimensional_and_bad_shapes():
    x = np.arange(10.0)
    np.testing.assert_allclose(pearson_per_column(x, 2 * x + 1), [1.0])
    np.testing.assert_allclose(pearson_per_column(x, -x), [-1.0])
    with pytest.raises(DataError, match="same shape"):
        pearson_per_column(x, x[:9])
    with pytest.raises(DataError, match="at least 2 samples"):
        pearson_per_column(x[:1], x[:1])
