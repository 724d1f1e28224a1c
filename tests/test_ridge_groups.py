"""Leave-one-group-out ridge errors in closed form equal refitting without each group."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from brainalign.errors import DataError
from brainalign.ridge import cross_val_predict_ridge, grouped_folds, ridge_loo_errors
from brainalign.ridge_groups import GroupBlocks

# (n_samples, n_features, n_targets): every code path of the closed form. Dual form with fewer
# targets than rows (explicit numerators), with n <= t < 2n (R R^T) and t >= 2n (Y Y^T), and
# the primal form.
SHAPES = {
    "dual t<n": (30, 80, 3),
    "dual n<=t<2n": (30, 80, 40),
    "dual t>=2n": (30, 80, 70),
    "primal": (48, 10, 3),
}
# Unequal group sizes (1 to 4 rows): the padding must add nothing.
SIZES = [1, 2, 3, 4, 1, 2, 3, 4, 3, 3, 2, 2, 4, 4, 4, 4, 3]


def _problem(n_samples, n_features, n_targets, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(SIZES)), SIZES)[:n_samples]
    drift = rng.standard_normal((groups.max() + 1, n_features))[groups]  # rows of a group share a drift
    X = (rng.standard_normal((n_samples, n_features)) + drift) * rng.uniform(0.5, 3, n_features) + 1.0
    # Targets share a group effect too: passage-mates left in training make small alphas look good.
    group_effect = 2.0 * rng.standard_normal((groups.max() + 1, n_targets))[groups]
    signal = X[:, :3].sum(axis=1, keepdims=True)
    Y = (signal + group_effect + rng.standard_normal((n_samples, n_targets))) * rng.uniform(0.1, 10, n_targets) + 2.0
    return X, Y, groups


def _brute_force(X, Y, groups, alphas):
    """Mean squared error of refits without each group, per alpha and target (inputs scaled once)."""
    standardised = StandardScaler().fit_transform(X)
    errors = np.zeros((len(alphas), Y.shape[1]))
    for index, alpha in enumerate(alphas):
        for group in np.unique(groups):
            out = groups == group
            model = Ridge(alpha=alpha).fit(standardised[~out], Y[~out])
            errors[index] += ((model.predict(standardised[out]) - Y[out]) ** 2).sum(axis=0)
    return errors / X.shape[0]


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_leave_one_group_out_in_closed_form_equals_refitting(shape):
    X, Y, groups = _problem(*shape)
    assert np.unique(np.bincount(groups)).size > 1  # unequal group sizes
    alphas = np.array([1e-2, 1.0, 30.0, 1e3])
    expected = _brute_force(X, Y, groups, alphas)
    np.testing.assert_allclose(ridge_loo_errors(X, Y, alphas, groups=groups), expected, rtol=1e-9)
    np.testing.assert_allclose(ridge_loo_errors(X, Y, alphas, groups=groups, pooled=True), expected.mean(1), rtol=1e-9)
    np.testing.assert_allclose(ridge_loo_errors(X, Y, alphas, groups=groups, chunk_size=7), expected, rtol=1e-9)
    # Leaving groups out is not leaving rows out: the errors differ (groups share a drift).
    assert not np.allclose(ridge_loo_errors(X, Y, alphas), expected, rtol=1e-3)


def test_standardised_pooled_errors_equal_refitting_on_standardised_targets():
    X, Y, groups = _problem(30, 80, 70, seed=1)
    alphas = np.array([0.1, 10.0, 1e3])
    expected = _brute_force(X, (Y - Y.mean(0)) / Y.std(0), groups, alphas).mean(axis=1)
    pooled = ridge_loo_errors(X, Y, alphas, groups=groups, pooled=True, standardize_targets=True)
    np.testing.assert_allclose(pooled, expected, rtol=1e-9)


def test_groups_of_one_row_are_the_single_row_loo():
    X, Y, _ = _problem(30, 80, 3)
    alphas = np.array([0.1, 10.0])
    assert GroupBlocks.from_labels(np.arange(30)) is None
    np.testing.assert_array_equal(ridge_loo_errors(X, Y, alphas, groups=np.arange(30)), ridge_loo_errors(X, Y, alphas))


@pytest.mark.parametrize("per_target_alpha", [False, True], ids=["one alpha", "per target"])
def test_cross_validation_chooses_the_alpha_of_brute_force_leave_one_group_out(per_target_alpha):
    X, Y, groups = _problem(48, 60, 5, seed=2)
    alphas = np.logspace(-2, 4, 13)
    folds = grouped_folds(groups, 4, seed=0)
    _, chosen = cross_val_predict_ridge(
        X, Y, alphas, folds, groups=groups, per_target_alpha=per_target_alpha, return_alphas=True
    )
    _, chosen_by_rows = cross_val_predict_ridge(X, Y, alphas, folds, per_target_alpha=per_target_alpha, return_alphas=True)
    for number, (train, _) in enumerate(folds):
        Y_train = Y[train] if per_target_alpha else (Y[train] - Y[train].mean(0)) / Y[train].std(0)
        errors = _brute_force(X[train], Y_train, groups[train], alphas)
        expected = alphas[np.argmin(errors, axis=0)] if per_target_alpha else alphas[np.argmin(errors.mean(axis=1))]
        np.testing.assert_array_equal(chosen[number], expected)
    # The inner split matters here: leaving single rows out chooses other alphas, and with
    # passage-mates left in training (one alpha) smaller ones.
    assert not np.array_equal(chosen, chosen_by_rows)
    if not per_target_alpha:
        assert np.all(chosen >= chosen_by_rows)


def test_group_labels_must_match_the_samples():
    X, Y, groups = _problem(30, 80, 3)
    folds = grouped_folds(groups, 3)
    with pytest.raises(DataError, match="groups must hold one label per sample"):
        cross_val_predict_ridge(X, Y, [1.0], folds, groups=groups[:-1])
    with pytest.raises(DataError, match="at least 2 groups"):
        ridge_loo_errors(X, Y, [1.0], groups=np.zeros(30))


@pytest.mark.parametrize("shape", [SHAPES["dual t<n"], SHAPES["primal"]], ids=["dual", "primal"])
@pytest.mark.parametrize("grouped", [True, False], ids=["groups", "rows"])
def test_with_sessions_each_refit_re_estimates_the_session_means(shape, grouped):
    # Centring per session fits one unpenalised intercept per session. Left-out rows must not
    # inform those means: the closed form equals refits that centre on the retained rows only.
    X, Y, groups = _problem(*shape, seed=5)
    sessions = np.where(groups < 8, "exp2", "exp3")
    X[sessions == "exp3"] += 2.0
    Y[sessions == "exp3"] -= 5.0
    units = groups if grouped else np.arange(groups.size)
    alphas = np.array([1e-2, 1.0, 100.0])
    centred_X = X.copy()
    for session in ("exp2", "exp3"):
        centred_X[sessions == session] -= X[sessions == session].mean(axis=0)
    standardised = StandardScaler().fit_transform(centred_X)  # the input scaling stays fixed
    expected = np.zeros((alphas.size, Y.shape[1]))
    for index, alpha in enumerate(alphas):
        for unit in np.unique(units):
            out = units == unit
            Z, T = standardised[~out].copy(), Y[~out].copy()
            test_Z, test_T = standardised[out].copy(), Y[out].copy()
            for session in ("exp2", "exp3"):
                kept = sessions[~out] == session
                z_mean, t_mean = Z[kept].mean(axis=0), T[kept].mean(axis=0)
                Z[kept] -= z_mean
                T[kept] -= t_mean
                test_Z[sessions[out] == session] -= z_mean
                test_T[sessions[out] == session] -= t_mean
            model = Ridge(alpha=alpha, fit_intercept=False).fit(Z, T)
            expected[index] += ((model.predict(test_Z) - test_T) ** 2).sum(axis=0)
    expected /= X.shape[0]
    errors = ridge_loo_errors(X, Y, alphas, groups=groups if grouped else None, sessions=sessions)
    np.testing.assert_allclose(errors, expected, rtol=1e-8)
    pooled = ridge_loo_errors(X, Y, alphas, groups=groups if grouped else None, sessions=sessions, pooled=True)
    np.testing.assert_allclose(pooled, expected.mean(axis=1), rtol=1e-8)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_pooled_error_is_unbounded_when_a_left_out_group_is_interpolated(backend):
    # Shrinkage 0 is alpha 0 on every direction: each group is fitted exactly, I - H_gg is
    # minus the intercepts' block (not positive definite), so no alpha like it may win.
    from brainalign.ridge_groups import pooled_dual_squared_errors

    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(len(SIZES)), SIZES)
    blocks = GroupBlocks.from_labels(groups)
    n = groups.size
    basis = np.linalg.qr(rng.standard_normal((n, n)))[0]
    factor = np.cov(rng.standard_normal((n, 2 * n)))
    xp = np
    if backend == "torch":
        torch = pytest.importorskip("torch")
        xp, blocks = torch, blocks.converted(torch.from_numpy)
        basis, factor = torch.from_numpy(basis), torch.from_numpy(factor)
    gathered = basis[blocks.index]
    shrinkage = xp.ones(n, dtype=gathered.dtype) if backend == "torch" else np.ones(n)
    assert pooled_dual_squared_errors(gathered, 0 * shrinkage, factor, blocks, xp) is None
    # Shrinkage 1 (alpha -> infinity) predicts the mean: the error is finite and positive.
    assert float(pooled_dual_squared_errors(gathered, shrinkage, factor, blocks, xp)) > 0
