"""Pairs across two folds are scored by a model that saw neither stimulus (leave-two-folds-out)."""

import numpy as np
import pytest

from brainalign.fold_pairs import block_outcomes, fold_pair_blocks, fold_strata, standardise_by_training_folds
from brainalign.metrics import pair_outcomes, similarity_matrix
from brainalign.ridge import cross_val_predict_ridge, grouped_folds, predict_held_out_ridge
from tests.test_calibration import _passages, _structured

ALPHAS = (1.0, 100.0, 10000.0)


def _problem(rng):
    passages = _passages(rng, 16)
    features = _structured(rng, passages)
    voxels = _structured(rng, passages, dims=40, scales=(3.0, 1.0))  # independent of the features: a null
    return passages, voxels, features


def _scores(rng, runs):
    """Pooled out-of-fold 2v2 and block-decided 2v2 of decoding structured nulls."""
    pooled, blocked = [], []
    for run in range(runs):
        passages, X, Y = _problem(rng)
        folds = grouped_folds(passages, 4, seed=run)
        within = standardise_by_training_folds(cross_val_predict_ridge(X, Y, ALPHAS, folds, groups=passages), Y, folds)
        iu = np.triu_indices(passages.size, 1)
        pooled.append(pair_outcomes(similarity_matrix(*within))[iu].mean())
        blocks = fold_pair_blocks(X, Y, ALPHAS, folds, within, distance="correlation", groups=passages)
        blocked.append(block_outcomes(blocks, passages.size)[0][iu].mean())
    return np.array(pooled), np.array(blocked)


def test_pooled_pairs_are_below_chance_on_a_null_and_fold_pair_models_are_not():
    pooled, blocked = _scores(np.random.default_rng(3), 60)
    # Measured: pooled 0.484 (sd 0.11): the model predicting i was trained on its partner j.
    assert pooled.mean() < 0.49
    assert abs(blocked.mean() - 0.5) < 0.015  # measured 0.503
    assert blocked.std() < pooled.std()


def test_every_pair_is_decided_by_exactly_one_block_and_within_fold_blocks_equal_pooled_scoring():
    rng = np.random.default_rng(4)
    passages, X, Y = _problem(rng)
    folds = grouped_folds(passages, 3, seed=0)
    within = standardise_by_training_folds(cross_val_predict_ridge(X, Y, ALPHAS, folds), Y, folds)
    blocks = fold_pair_blocks(X, Y, ALPHAS, folds, within, distance="correlation")
    assert len(blocks) == 3 + 3
    n = passages.size
    times = np.zeros((n, n), dtype=int)
    for block in blocks:
        times[np.ix_(block.rows, block.rows)] += block.decides
    assert np.array_equal(times, 1 - np.eye(n, dtype=int))
    pooled = pair_outcomes(similarity_matrix(*within))
    outcomes, _ = block_outcomes(blocks, n)
    for _, test in folds:
        assert np.array_equal(outcomes[np.ix_(test, test)], pooled[np.ix_(test, test)])


def test_a_cross_fold_block_is_the_model_trained_without_both_folds():
    rng = np.random.default_rng(5)
    passages, X, Y = _problem(rng)
    folds = grouped_folds(passages, 4, seed=1)
    rows = np.concatenate([folds[0][1], folds[2][1]])
    train = np.setdiff1d(np.arange(passages.size), rows)
    predicted, _ = predict_held_out_ridge(X, Y, ALPHAS, [(train, rows)])
    # The same fit through cross_val_predict_ridge on the rows it sees, with a complementary second fold.
    keep = np.concatenate([train, rows])
    local = [(np.arange(train.size), np.arange(train.size, keep.size)),
             (np.arange(train.size, keep.size), np.arange(train.size))]
    reference = cross_val_predict_ridge(X[keep], Y[keep], ALPHAS, local)
    np.testing.assert_allclose(predicted[rows], reference[train.size:], rtol=1e-9, atol=1e-9)


def test_fold_strata_keep_permutations_inside_each_fold_and_session():
    folds = [(np.array([2, 3]), np.array([0, 1])), (np.array([0, 1]), np.array([2, 3]))]
    assert fold_strata(["a", "a", "a", "b"], folds) == ["a\x1ffold0", "a\x1ffold0", "a\x1ffold1", "b\x1ffold1"]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_predict_held_out_ridge_accepts_splits_that_do_not_partition_the_rows(backend):
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((20, 5)), rng.standard_normal((20, 3))
    splits = [(np.arange(10, 20), np.arange(0, 8))]
    predicted, chosen = predict_held_out_ridge(X, Y, ALPHAS, splits, backend=backend, device="cpu")
    numpy_predicted, _ = predict_held_out_ridge(X, Y, ALPHAS, splits)
    np.testing.assert_allclose(predicted[:8], numpy_predicted[:8], rtol=1e-9, atol=1e-9)
    assert chosen.shape == (1,)
    with pytest.raises(Exception, match="cover every sample"):
        cross_val_predict_ridge(X, Y, ALPHAS, splits)
