"""The refitted permutation null: the identity permutation reproduces the observed scores, and
every permutation equals a brute-force refit of the whole cross-validation on permuted targets."""

import numpy as np
import pytest

from brainalign.fold_pairs import (
    block_outcomes,
    fold_pair_blocks,
    fold_strata,
    standardise_by_training_folds,
    standardise_within_folds,
)
from brainalign.metrics import pearson_per_column
from brainalign.held_out_models import held_out_model
from brainalign.refit_null import refit_permutation_null, refitted_predictions
from brainalign.score_uncertainty import widened_interval
from brainalign.resampling import group_layout, group_permutations, pair_mask
from brainalign.ridge import cross_val_predict_ridge, grouped_folds

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)


def _scores(X, Y, folds, *, groups, sessions, per_target_alpha, distance, masks):
    """2v2 per pair set and within-fold mean Pearson r, fitted the way fit_subject fits them."""
    predicted = cross_val_predict_ridge(X, Y, ALPHAS, folds, groups=groups, sessions=sessions,
                                        per_target_alpha=per_target_alpha)
    predicted, actual = standardise_by_training_folds(predicted, Y, folds, sessions)
    blocks = fold_pair_blocks(X, Y, ALPHAS, folds, (predicted, actual), distance=distance, sessions=sessions,
                              groups=groups, per_target_alpha=per_target_alpha)
    outcomes, _ = block_outcomes(blocks, len(Y))
    two_vs_two = {name: np.count_nonzero(outcomes & mask) / np.count_nonzero(mask) for name, mask in masks.items()}
    r = pearson_per_column(standardise_within_folds(predicted, folds), standardise_within_folds(actual, folds))
    return two_vs_two, float(r.mean())


# (input dims, target dims, distance, two sessions, per-target alpha): dual and primal forms;
# the similarities from target kernels (n_train < 1.2 target dims: all models with 80 targets, the
# pair models with 40) and directly from the predictions.
CASES = [
    (40, 12, "correlation", False, False),
    (12, 40, "cosine", True, False),
    (20, 80, "euclidean", True, False),
    (200, 30, "euclidean", False, False),
    (8, 8, "correlation", True, False),
    (60, 100, "cosine", False, True),
    (30, 5, "euclidean", True, False),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_refit_null_equals_a_brute_force_refit_and_the_identity_gives_the_observed_scores(case):
    input_dims, target_dims, distance, two_sessions, per_target_alpha = CASES[case]
    rng = np.random.default_rng(case)
    passages = np.repeat(np.arange(20), rng.choice([3, 4], 20))
    n = passages.size
    groups = np.array([f"p{p:02d}" for p in passages])
    sessions = np.where(passages < 10, "exp2", "exp3") if two_sessions else np.full(n, "exp2")
    X = rng.standard_normal((n, input_dims)) + rng.standard_normal((20, input_dims))[passages]
    Y = 0.3 * X[:, : min(input_dims, target_dims)].sum(axis=1, keepdims=True) + rng.standard_normal((n, target_dims))
    Y += (sessions == "exp3")[:, None]
    folds = grouped_folds(groups, 4, seed=case)
    names = ("all", "within_session", "cross_session") if two_sessions else ("all",)
    masks = {name: pair_mask(sessions, n, name) for name in names}
    options = {"groups": groups, "sessions": sessions, "per_target_alpha": per_target_alpha}
    layout = group_layout(n, groups, fold_strata(sessions, folds))
    permutations = np.vstack([np.arange(n), group_permutations(rng, layout, 3)])
    null = refit_permutation_null(X, Y, ALPHAS, folds, permutations, masks=masks, distance=distance, pearson=True,
                                  **options)
    for row, permutation in enumerate(permutations):
        two_vs_two, r = _scores(X, Y[permutation], folds, distance=distance, masks=masks, **options)
        for name in names:
            assert null.two_vs_two[name][row] == pytest.approx(two_vs_two[name], abs=1e-12)
        assert null.pearson[row] == pytest.approx(r, abs=1e-9)
    assert len({null.two_vs_two["all"][row] for row in range(4)}) > 1  # the permutations change the score


def test_a_permutation_across_folds_is_refused():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(8), 3)
    folds = grouped_folds(groups, 4)
    model = held_out_model(rng.standard_normal((24, 5)), rng.standard_normal((24, 3)), ALPHAS, folds[0],
                           groups=groups)
    swapped = np.arange(24)
    first, other = folds[0][1][0], folds[1][1][0]
    swapped[[first, other]] = swapped[[other, first]]
    with pytest.raises(ValueError, match="out of its training set"):
        refitted_predictions(model, swapped[None, :])


def test_widened_interval_scales_the_distances_from_the_score_and_never_narrows():
    refit, fixed = np.array([0.4, 0.6, 0.4, 0.6]), np.array([0.45, 0.55, 0.45, 0.55])
    assert widened_interval(0.7, 0.6, 0.75, refit, fixed, (0.0, 1.0)) == pytest.approx((0.5, 0.8))
    assert widened_interval(0.7, 0.6, 0.75, fixed, refit, (0.0, 1.0)) == pytest.approx((0.6, 0.75))
    assert widened_interval(0.95, 0.9, 0.99, refit, fixed, (0.0, 1.0)) == pytest.approx((0.85, 1.0))
    assert widened_interval(0.7, np.nan, np.nan, refit, fixed, (0.0, 1.0))[0] != widened_interval(
        0.7, np.nan, np.nan, refit, fixed, (0.0, 1.0))[0]  # NaN stays NaN
    assert widened_interval(0.7, 0.6, 0.75, np.empty(0), fixed, (0.0, 1.0)) == (0.6, 0.75)


def test_within_fold_pearson_is_the_fold_size_weighted_mean_of_the_folds_correlations():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(12), rng.choice([2, 3], 12))
    folds = grouped_folds(groups, 3)
    predicted, actual = rng.standard_normal((groups.size, 4)), rng.standard_normal((groups.size, 4))
    predicted[folds[0][1]] += 5.0  # an offset between folds that the within-fold r ignores
    within = pearson_per_column(standardise_within_folds(predicted, folds), standardise_within_folds(actual, folds))
    expected = sum(test.size * pearson_per_column(predicted[test], actual[test]) for _, test in folds) / groups.size
    np.testing.assert_allclose(within, expected, atol=1e-12)


def test_alpha_choice_gathers_group_blocks_exactly_as_single_entries():
    # Whole passages of 3 or 4 move (in order) within fold x size strata: the block gather must
    # give the same LOO errors, hence the same alpha, as the entry-wise gather; permutations
    # that split groups must fall back to the entry-wise gather.
    from dataclasses import replace

    from brainalign.refit_null import _group_moves, _pooled_alpha_choice

    rng = np.random.default_rng(11)
    passages = np.repeat(np.arange(24), rng.choice([3, 4], 24))
    n = passages.size
    groups = np.array([f"p{p:02d}" for p in passages])
    X = rng.standard_normal((n, 30)) + rng.standard_normal((24, 30))[passages]
    Y = rng.standard_normal((n, 20)) + 2 * rng.standard_normal((24, 20))[passages]
    folds = grouped_folds(groups, 4, seed=0)
    model = held_out_model(X, Y, ALPHAS, folds[0], groups=groups)
    labels = np.full(n, "exp2")
    permutations = group_permutations(rng, group_layout(n, groups, fold_strata(labels, folds)), 200)
    local = np.full(n, -1)
    local[model.train] = np.arange(model.train.size)
    train_rows = local[permutations[:, model.train]]
    assert _group_moves(model.group_blocks, train_rows) is not None
    entry_wise = replace(model, group_blocks=None)
    chosen = _pooled_alpha_choice(model, train_rows)
    np.testing.assert_array_equal(chosen, _pooled_alpha_choice(entry_wise, train_rows))
    assert np.unique(chosen).size > 1  # the permutations do change the choice
    # Rows permuted one by one (groups split): no group moves, the entry-wise gather is used.
    shuffled = np.stack([rng.permutation(model.train.size) for _ in range(50)])
    assert _group_moves(model.group_blocks, shuffled) is None
    np.testing.assert_array_equal(_pooled_alpha_choice(model, shuffled), _pooled_alpha_choice(entry_wise, shuffled))


def test_pair_models_compute_only_the_similarities_across_their_folds():
    # A model trained without folds A and B decides only the pairs across them: its null computes
    # the A x B and B x A blocks (and each row's own similarity), and must score what the whole
    # matrix scores. Fold models, and permutations that move a row to the other fold, keep the
    # whole matrix.
    from brainalign.fold_pairs import design_splits
    from brainalign.refit_null import (
        _cross_split,
        _kernel_similarity,
        _local_rows,
        _permuted_predictors,
        _pooled_alpha_choice,
        _similarity_kernels,
    )

    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(16), 3)
    n = groups.size
    X, Y = rng.standard_normal((n, 30)), rng.standard_normal((n, 9))
    folds = grouped_folds(groups, 4, seed=1)
    permutations = group_permutations(rng, group_layout(n, groups, fold_strata(np.full(n, "s"), folds)), 5)
    designs = design_splits(folds, n)
    fold_split, fold_decides = designs[0]
    pair_split, pair_decides = designs[len(folds)]
    fold_model = held_out_model(X, Y, ALPHAS, fold_split, groups=groups)
    assert _cross_split(fold_decides, _local_rows(fold_model, permutations)[1]) is None
    model = held_out_model(X, Y, ALPHAS, pair_split, groups=groups)
    train_rows, test_rows = _local_rows(model, permutations)
    boundary = _cross_split(pair_decides, test_rows)
    assert boundary == folds[0][1].size
    crossing = test_rows.copy()
    crossing[0, [0, -1]] = crossing[0, [-1, 0]]
    assert _cross_split(pair_decides, crossing) is None
    predictors = _permuted_predictors(model, train_rows, _pooled_alpha_choice(model, train_rows))
    for distance in ("correlation", "euclidean"):
        kernels = _similarity_kernels(model, distance)
        diagonal, whole, _ = _kernel_similarity(predictors, test_rows, kernels, distance)
        own, forward, backward = _kernel_similarity(predictors, test_rows, kernels, distance, boundary)
        np.testing.assert_allclose(own, diagonal, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(forward, whole[:, :boundary, boundary:], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(backward, whole[:, boundary:, :boundary], rtol=1e-12, atol=1e-12)


def test_a_long_null_reports_its_progress_model_by_model_and_a_short_one_stays_quiet(caplog, monkeypatch):
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(16), 3)
    n = groups.size
    X, Y = rng.standard_normal((n, 6)), rng.standard_normal((n, 4))
    folds = grouped_folds(groups, 4)
    permutations = group_permutations(rng, group_layout(n, groups, fold_strata(np.full(n, "s"), folds)), 5)
    masks = {"all": pair_mask(np.full(n, "s"), n, "all")}

    def run():
        caplog.clear()
        with caplog.at_level("INFO", logger="brainalign.refit_null"):
            refit_permutation_null(X, Y, ALPHAS, folds, permutations, masks=masks, groups=groups,
                                   progress_label="decoding pereira S01 language layer 4 (m/t/prompt)")
        return [record.getMessage() for record in caplog.records]

    assert run() == []  # well under a minute: nothing logged
    monkeypatch.setattr("brainalign.progress.PROGRESS_INTERVAL_SECONDS", 0.0)
    messages = run()
    # 4 fold models and 6 pair models, one message after each, naming the fit.
    assert len(messages) == 10
    assert messages[0].startswith("decoding pereira S01 language layer 4 (m/t/prompt), 5 permutations: 1 of 10 models")
    assert messages[-1].startswith("decoding pereira S01 language layer 4 (m/t/prompt), 5 permutations: 10 of 10 models")
