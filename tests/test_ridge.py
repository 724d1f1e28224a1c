"""Cross-validated ridge: agreement with scikit-learn, exact LOO, no test leakage, grouped folds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.preprocessing import StandardScaler

from brainalign.errors import ConfigError, DataError
from brainalign.metrics import pearson_per_column
from brainalign.ridge import (
    alphas_at_grid_edge,
    chosen_alphas_label,
    cross_val_predict_ridge,
    grouped_folds,
    ridge_loo_errors,
)

# (n_samples, n_features): the first uses the dual (kernel) form in every training fold,
# the second the primal form.
REGIMES = {"dual n<p": (40, 100), "primal n>p": (120, 15)}


def _problem(n_samples: int, n_features: int, n_targets: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    # Columns on very different scales and offsets make the standardisation matter.
    X = rng.standard_normal((n_samples, n_features)) * rng.uniform(0.1, 10, n_features) + rng.uniform(-5, 5, n_features)
    weights = rng.standard_normal((n_features, n_targets)) / np.sqrt(n_features)
    Y = (X - X.mean(0)) / X.std(0) @ weights + 0.5 * rng.standard_normal((n_samples, n_targets)) + 3.0
    groups = np.arange(n_samples) // 4
    return X, Y, groups


def _ridgecv_reference(X_train, Y_train, alphas, *, standardize_targets, alpha_per_target=False):
    """RidgeCV on the scaled training rows; with ``standardize_targets`` on standardised targets.

    Returns the fitted input scaler, the model and the target (mean, std) to map its
    predictions back to the targets' units.
    """
    scaler = StandardScaler().fit(X_train)
    mean, std = (Y_train.mean(0), Y_train.std(0)) if standardize_targets else (0.0, 1.0)
    model = RidgeCV(alphas=alphas, alpha_per_target=alpha_per_target).fit(
        scaler.transform(X_train), (Y_train - mean) / std
    )
    return scaler, model, mean, std


def _sklearn_fold_predictions(X, Y, folds, alpha_of_fold):
    expected = np.empty(Y.shape)
    for (train, test), alpha in zip(folds, alpha_of_fold):
        scaler = StandardScaler().fit(X[train])
        model = Ridge(alpha=alpha, fit_intercept=True).fit(scaler.transform(X[train]), Y[train])
        expected[test] = model.predict(scaler.transform(X[test]))
    return expected


@pytest.mark.parametrize("shape", REGIMES.values(), ids=REGIMES.keys())
@pytest.mark.parametrize("alpha", [0.01, 3.0, 1e4])
def test_fixed_alpha_matches_sklearn_ridge(shape, alpha):
    X, Y, groups = _problem(*shape)
    folds = grouped_folds(groups, 5, seed=1)
    predictions = cross_val_predict_ridge(X, Y, [alpha], folds)
    expected = _sklearn_fold_predictions(X, Y, folds, [alpha] * len(folds))
    np.testing.assert_allclose(predictions, expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("shape", REGIMES.values(), ids=REGIMES.keys())
def test_float32_input_matches_float64(shape):
    X, Y, groups = _problem(*shape)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    folds = grouped_folds(groups, 4)
    predictions = cross_val_predict_ridge(X, Y, [1.0], folds)
    assert predictions.dtype == np.float64
    expected = _sklearn_fold_predictions(X.astype(np.float64), Y.astype(np.float64), folds, [1.0] * 4)
    np.testing.assert_allclose(predictions, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("shape", REGIMES.values(), ids=REGIMES.keys())
def test_loo_errors_match_brute_force_refits(shape):
    n_samples, n_features = shape[0] // 2, shape[1]
    X, Y, _ = _problem(n_samples, n_features, n_targets=3, seed=2)
    alphas = np.array([1e-2, 1.0, 30.0, 1e3])
    standardised = StandardScaler().fit_transform(X)
    brute_force = np.zeros((alphas.size, Y.shape[1]))
    for index, alpha in enumerate(alphas):
        for left_out in range(n_samples):
            keep = np.arange(n_samples) != left_out
            model = Ridge(alpha=alpha, fit_intercept=True).fit(standardised[keep], Y[keep])
            brute_force[index] += (model.predict(standardised[left_out : left_out + 1])[0] - Y[left_out]) ** 2
    brute_force /= n_samples
    np.testing.assert_allclose(ridge_loo_errors(X, Y, alphas), brute_force, rtol=1e-7)
    np.testing.assert_allclose(ridge_loo_errors(X, Y, alphas, pooled=True), brute_force.mean(axis=1), rtol=1e-7)
    # Chunking over targets must not change anything.
    np.testing.assert_allclose(ridge_loo_errors(X, Y, alphas, chunk_size=1), brute_force, rtol=1e-7)


@pytest.mark.parametrize("shape", REGIMES.values(), ids=REGIMES.keys())
@pytest.mark.parametrize("per_target_alpha", [False, True])
@pytest.mark.parametrize("standardize_targets", [True, False], ids=["standardised targets", "centred targets"])
def test_alpha_choice_and_predictions_match_sklearn_ridgecv(shape, per_target_alpha, standardize_targets):
    X, Y, groups = _problem(*shape, seed=3)
    Y = Y * np.array([1.0, 30.0, 0.2, 5.0])  # target scales that matter to a pooled choice
    X_before, Y_before = X.copy(), Y.copy()
    alphas = np.logspace(-2, 4, 7)
    folds = grouped_folds(groups, 5)
    predictions, chosen = cross_val_predict_ridge(
        X, Y, alphas, folds, per_target_alpha=per_target_alpha, return_alphas=True,
        standardize_targets=standardize_targets,
    )
    # The per-fold standardisation works in place on copies, never on the caller's arrays.
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)
    assert chosen.shape == ((5, Y.shape[1]) if per_target_alpha else (5,))
    for number, (train, test) in enumerate(folds):
        scaler, reference, mean, std = _ridgecv_reference(
            X[train], Y[train], alphas, standardize_targets=standardize_targets, alpha_per_target=per_target_alpha
        )
        np.testing.assert_array_equal(chosen[number], reference.alpha_)
        expected = reference.predict(scaler.transform(X[test])) * std + mean
        np.testing.assert_allclose(predictions[test], expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())


def test_test_rows_never_influence_scaler_or_alpha():
    X, Y, groups = _problem(60, 150, seed=4)
    alphas = np.logspace(-2, 6, 9)
    folds = grouped_folds(groups, 5)
    predictions, chosen = cross_val_predict_ridge(X, Y, alphas, folds, return_alphas=True)
    train, test = folds[0]
    rng = np.random.default_rng(5)

    # Huge test targets: would move a LOO error computed over all rows and the target mean.
    poisoned_Y = Y.copy()
    poisoned_Y[test] = 1e6 * rng.standard_normal((test.size, Y.shape[1]))
    predictions_y, chosen_y = cross_val_predict_ridge(X, poisoned_Y, alphas, folds, return_alphas=True)
    assert chosen_y[0] == chosen[0]
    np.testing.assert_array_equal(predictions_y[test], predictions[test])

    # Huge test inputs: would move a scaler fitted on all rows. The fold's predictions
    # must be exactly the training-only model applied to the new rows.
    poisoned_X = X.copy()
    poisoned_X[test] = 1e6 * rng.standard_normal((test.size, X.shape[1]))
    predictions_x, chosen_x = cross_val_predict_ridge(poisoned_X, Y, alphas, folds, return_alphas=True)
    assert chosen_x[0] == chosen[0]
    scaler = StandardScaler().fit(X[train])
    model = Ridge(alpha=chosen[0]).fit(scaler.transform(X[train]), Y[train])
    np.testing.assert_allclose(predictions_x[test], model.predict(scaler.transform(poisoned_X[test])), rtol=1e-6)


def test_planted_signal_is_recovered_and_shuffled_rows_are_not():
    rng = np.random.default_rng(6)
    n_samples, n_features, n_targets = 200, 50, 30
    X = rng.standard_normal((n_samples, n_features))
    Y = X @ rng.standard_normal((n_features, n_targets)) + 0.1 * rng.standard_normal((n_samples, n_targets))
    folds = grouped_folds(np.arange(n_samples) // 4, 5)
    alphas = np.logspace(-2, 6, 10)
    planted = pearson_per_column(cross_val_predict_ridge(X, Y, alphas, folds), Y)
    assert planted.min() > 0.95
    shuffled_Y = Y[rng.permutation(n_samples)]
    shuffled_predictions, chosen = cross_val_predict_ridge(X, shuffled_Y, alphas, folds, return_alphas=True)
    # Without signal LOO picks heavy shrinkage, so each fold predicts about its training
    # mean, which is anti-correlated with the fold's own mean: pooled over folds, r is
    # biased negative. Within a fold that artefact is absent and r must be about 0.
    assert chosen.min() >= 1e3
    within_fold = [pearson_per_column(shuffled_predictions[test], shuffled_Y[test]).mean() for _, test in folds]
    assert abs(np.mean(within_fold)) < 0.1
    assert pearson_per_column(shuffled_predictions, shuffled_Y).mean() < 0.0


def test_one_dimensional_target_keeps_its_shape():
    X, Y, groups = _problem(40, 10, seed=7)
    folds = grouped_folds(groups, 4)
    predictions = cross_val_predict_ridge(X, Y[:, 0], [0.1, 10.0], folds)
    assert predictions.shape == (40,)
    np.testing.assert_allclose(predictions, cross_val_predict_ridge(X, Y[:, :1], [0.1, 10.0], folds)[:, 0])


def test_chunking_does_not_change_predictions():
    X, Y, groups = _problem(40, 60, n_targets=9, seed=8)
    folds = grouped_folds(groups, 4)
    alphas = np.logspace(-1, 3, 5)
    for per_target_alpha in (False, True):
        whole = cross_val_predict_ridge(X, Y, alphas, folds, per_target_alpha=per_target_alpha)
        chunked = cross_val_predict_ridge(X, Y, alphas, folds, per_target_alpha=per_target_alpha, chunk_size=2)
        np.testing.assert_allclose(chunked, whole, rtol=1e-10)


def test_constant_input_column_is_harmless():
    X, Y, groups = _problem(40, 8, seed=9)
    folds = grouped_folds(groups, 4)
    alphas = np.logspace(-1, 3, 5)
    # 0.1 is not exactly representable: the column's computed std is round-off (not 0),
    # and scaling by it would turn the column into a constant +-1 feature.
    with_constant = np.column_stack([X, np.full(40, 0.1), np.full(40, 2.5)])
    assert 0 < np.std(with_constant, axis=0)[-2] < 1e-15
    np.testing.assert_allclose(ridge_loo_errors(with_constant, Y, alphas), ridge_loo_errors(X, Y, alphas), rtol=1e-10)
    np.testing.assert_allclose(
        cross_val_predict_ridge(with_constant, Y, alphas, folds),
        cross_val_predict_ridge(X, Y, alphas, folds),
        rtol=1e-10,
    )


def test_standardize_false_only_centres():
    X, Y, groups = _problem(40, 12, seed=10)
    folds = grouped_folds(groups, 4)
    expected = np.empty(Y.shape)
    for train, test in folds:
        expected[test] = Ridge(alpha=2.0).fit(X[train], Y[train]).predict(X[test])
    np.testing.assert_allclose(cross_val_predict_ridge(X, Y, [2.0], folds, standardize=False), expected, rtol=1e-6)


def test_cross_val_predict_ridge_rejects_bad_input():
    X, Y, groups = _problem(20, 5, seed=11)
    folds = grouped_folds(groups, 5)
    with pytest.raises(ConfigError, match="alphas"):
        cross_val_predict_ridge(X, Y, [1.0, -1.0], folds)
    with pytest.raises(ConfigError, match="alphas"):
        cross_val_predict_ridge(X, Y, [], folds)
    with pytest.raises(DataError, match="same number of rows"):
        cross_val_predict_ridge(X[:19], Y, [1.0], folds)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="finite"):
        cross_val_predict_ridge(bad, Y, [1.0], folds)
    with pytest.raises(DataError, match="overlap"):
        cross_val_predict_ridge(X, Y, [1.0], [(np.arange(20), np.arange(5))] + folds[1:])
    with pytest.raises(DataError, match="exactly once"):
        cross_val_predict_ridge(X, Y, [1.0], folds[:4])


def test_grouped_folds_keep_groups_together_and_balance_sizes():
    rng = np.random.default_rng(12)
    sizes = rng.integers(1, 7, size=60)
    groups = rng.permutation(np.repeat([f"passage-{k}" for k in range(60)], sizes))
    folds = grouped_folds(groups, 5, seed=3)
    tested = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tested), np.arange(groups.size))
    fold_sizes = []
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(groups.size))
        fold_sizes.append(test.size)
    assert max(fold_sizes) - min(fold_sizes) <= sizes.max()


def test_grouped_folds_are_deterministic_per_seed():
    groups = np.arange(627) // 4
    first = grouped_folds(groups, 5, seed=0)
    again = grouped_folds(groups, 5, seed=0)
    other = grouped_folds(groups, 5, seed=1)
    for (train_a, test_a), (train_b, test_b) in zip(first, again):
        np.testing.assert_array_equal(test_a, test_b)
        np.testing.assert_array_equal(train_a, train_b)
    assert any(not np.array_equal(test_a, test_b) for (_, test_a), (_, test_b) in zip(first, other))
    # Pereira-like: 157 groups (the last of 3) over 5 folds differ by at most one group.
    fold_sizes = [test.size for _, test in first]
    assert sum(fold_sizes) == 627 and max(fold_sizes) - min(fold_sizes) <= 4


def test_grouped_folds_reject_too_few_groups_or_folds():
    with pytest.raises(DataError, match="fewer stimuli groups than folds"):
        grouped_folds([0, 0, 1, 1, 2, 2], 4)
    with pytest.raises(ConfigError, match="n_folds"):
        grouped_folds([0, 1, 2], 1)


@pytest.mark.parametrize("n_folds", [2, 3, 5])
def test_few_and_many_folds_match_sklearn_ridgecv(n_folds):
    # With few folds the test rows are many and the dual form computes the test kernel
    # separately; with many folds it comes from one product over the stacked rows.
    X, Y, groups = _problem(60, 100, seed=13)
    alphas = np.logspace(-2, 4, 7)
    folds = grouped_folds(groups, n_folds)
    predictions, chosen = cross_val_predict_ridge(X, Y, alphas, folds, return_alphas=True)
    for number, (train, test) in enumerate(folds):
        scaler, reference, mean, std = _ridgecv_reference(X[train], Y[train], alphas, standardize_targets=True)
        assert chosen[number] == reference.alpha_
        np.testing.assert_allclose(
            predictions[test], reference.predict(scaler.transform(X[test])) * std + mean, rtol=1e-6, atol=1e-9
        )


@pytest.mark.parametrize("shape", REGIMES.values(), ids=REGIMES.keys())
def test_standardised_alpha_choice_ignores_the_scale_of_a_target_and_the_centred_choice_does_not(shape):
    X, Y, groups = _problem(*shape, seed=21)
    rng = np.random.default_rng(22)
    Y[:, 0] = rng.standard_normal(Y.shape[0])  # a noise target, best fitted by the largest alpha
    rescaled = Y.copy()
    rescaled[:, 0] *= 1000.0  # e.g. a "rogue" high-variance dimension of a language model
    alphas = np.logspace(-2, 5, 8)
    folds = grouped_folds(groups, 5)
    predictions, chosen = cross_val_predict_ridge(X, Y, alphas, folds, groups=groups, return_alphas=True)
    predictions_rescaled, chosen_rescaled = cross_val_predict_ridge(
        X, rescaled, alphas, folds, groups=groups, return_alphas=True
    )
    np.testing.assert_array_equal(chosen_rescaled, chosen)
    np.testing.assert_allclose(predictions_rescaled[:, 0], 1000.0 * predictions[:, 0], rtol=1e-9)
    np.testing.assert_allclose(predictions_rescaled[:, 1:], predictions[:, 1:], rtol=1e-9)
    # Targets only centred (the choice before issue 12): the rescaled column dominates.
    _, centred_chosen = cross_val_predict_ridge(
        X, Y, alphas, folds, groups=groups, return_alphas=True, standardize_targets=False
    )
    _, centred_chosen_rescaled = cross_val_predict_ridge(
        X, rescaled, alphas, folds, groups=groups, return_alphas=True, standardize_targets=False
    )
    assert np.all(centred_chosen_rescaled > centred_chosen)


def test_chosen_alphas_label_and_grid_edge():
    assert chosen_alphas_label([100.0, 100.0, 1000.0, 100.0, 100.0]) == "100;100;1000;100;100"
    assert chosen_alphas_label(np.logspace(-2, 6, 10)[[6, 5]]) == "2154.43;278.256"
    assert chosen_alphas_label([[1.0, 10.0, 100.0], [0.1, 0.1, 10.0]]) == "10;0.1"  # median per fold
    grid = [0.1, 1.0, 10.0]
    assert not alphas_at_grid_edge([1.0, 1.0], grid)
    assert alphas_at_grid_edge([1.0, 10.0], grid) and alphas_at_grid_edge([0.1, 1.0], grid)
    assert alphas_at_grid_edge([[0.1, 0.1, 1.0], [1.0, 1.0, 1.0]], grid)
    assert not alphas_at_grid_edge([1.0], [1.0])
