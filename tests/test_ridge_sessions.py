"""Per-session centring inside the folds: training rows only, and a session offset cannot win 2v2 pairs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from brainalign.alignment import standardise_by_training_folds
from brainalign.brains.store import SINGLE_SESSION
from brainalign.errors import DataError
from brainalign.metrics import two_vs_two
from brainalign.ridge import cross_val_predict_ridge, grouped_folds, session_centred_targets

N_PASSAGES, PER_PASSAGE, N_EXP2 = 40, 4, 24  # passages 0..23 in session exp2, the rest in exp3


def _problem(seed=0, n_features=50, n_targets=6):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(N_PASSAGES), PER_PASSAGE)
    sessions = np.where(groups < N_EXP2, "exp2", "exp3")
    offset = (sessions == "exp3")[:, None]
    X = rng.standard_normal((groups.size, n_features)) * rng.uniform(0.5, 3, n_features) + 4.0 * offset
    Y = X[:, :4] @ rng.standard_normal((4, n_targets)) + rng.standard_normal((groups.size, n_targets)) - 6.0 * offset
    return X, Y, groups, sessions


def _manual(X, Y, sessions, folds, alpha):
    """Reference: centre per session with the training rows' means, then scaler + Ridge per fold."""
    predictions = np.empty(Y.shape)
    centred_targets = np.empty(Y.shape)
    for train, test in folds:
        X_c, Y_c = X.astype(float).copy(), Y.astype(float).copy()
        for session in np.unique(sessions):
            rows = sessions == session
            in_train = rows.copy()
            in_train[test] = False
            X_c[rows] -= X[in_train].mean(axis=0)
            Y_c[rows] -= Y[in_train].mean(axis=0)
        scaler = StandardScaler().fit(X_c[train])
        model = Ridge(alpha=alpha).fit(scaler.transform(X_c[train]), Y_c[train])
        predictions[test] = model.predict(scaler.transform(X_c[test]))
        centred_targets[test] = Y_c[test]
    return predictions, centred_targets


@pytest.mark.parametrize("n_features", [50, 300], ids=["primal", "dual"])
def test_predictions_are_those_of_ridge_on_training_session_centred_rows(n_features):
    X, Y, groups, sessions = _problem(n_features=n_features)
    folds = grouped_folds(groups, 5, seed=1)
    predictions = cross_val_predict_ridge(X, Y, [3.0], folds, sessions=sessions)
    expected, expected_targets = _manual(X, Y, sessions, folds, 3.0)
    np.testing.assert_allclose(predictions, expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())
    np.testing.assert_allclose(session_centred_targets(Y, sessions, folds), expected_targets, rtol=1e-12, atol=1e-12)
    # Nothing is added back: no prediction carries its session's offset (-6 in exp3).
    for session in ("exp2", "exp3"):
        assert abs(predictions[sessions == session].mean()) < 0.5


def test_a_single_session_gives_todays_results():
    X, Y, groups, _ = _problem()
    folds = grouped_folds(groups, 5)
    alphas = np.logspace(-2, 4, 7)
    expected, expected_alphas = cross_val_predict_ridge(X, Y, alphas, folds, groups=groups, return_alphas=True)
    for single in ([SINGLE_SESSION] * Y.shape[0], None):
        predictions, chosen = cross_val_predict_ridge(
            X, Y, alphas, folds, groups=groups, sessions=single, return_alphas=True
        )
        np.testing.assert_array_equal(predictions, expected)
        np.testing.assert_array_equal(chosen, expected_alphas)
    np.testing.assert_array_equal(session_centred_targets(Y, [SINGLE_SESSION] * Y.shape[0], folds), Y)


def test_session_centring_uses_training_rows_only():
    X, Y, groups, sessions = _problem(seed=3)
    folds = grouped_folds(groups, 5, seed=2)
    alphas = np.logspace(-2, 4, 7)
    options = {"groups": groups, "sessions": sessions, "return_alphas": True}
    predictions, chosen = cross_val_predict_ridge(X, Y, alphas, folds, **options)
    train, test = folds[0]
    rng = np.random.default_rng(4)
    # Huge test targets would move a session mean computed over all rows, hence every row's fit.
    poisoned_Y = Y.copy()
    poisoned_Y[test] = 1e6 * rng.standard_normal((test.size, Y.shape[1]))
    predictions_y, chosen_y = cross_val_predict_ridge(X, poisoned_Y, alphas, folds, **options)
    assert chosen_y[0] == chosen[0]
    np.testing.assert_array_equal(predictions_y[test], predictions[test])
    # Huge test inputs: each test row is moved by its own session's *training* mean only.
    poisoned_X = X.copy()
    poisoned_X[test] = 1e6 * rng.standard_normal((test.size, X.shape[1]))
    predictions_x, chosen_x = cross_val_predict_ridge(poisoned_X, Y, alphas, folds, **options)
    assert chosen_x[0] == chosen[0]
    expected, _ = _manual(poisoned_X, Y, sessions, [folds[0]], chosen[0])
    np.testing.assert_allclose(predictions_x[test], expected[test], rtol=1e-7)
    # The scored targets of the fold ignore the test rows' values the same way.
    shifted = Y.copy()
    shifted[test] += 100.0
    np.testing.assert_allclose(
        session_centred_targets(shifted, sessions, folds)[test], session_centred_targets(Y, sessions, folds)[test] + 100.0
    )


def test_a_session_without_training_rows_is_an_error_naming_it():
    X, Y, groups, sessions = _problem()
    sessions = sessions.copy()
    sessions[groups == 0] = "exp1"  # one passage: in a single test fold, with no training rows there
    folds = grouped_folds(groups, 5)
    with pytest.raises(DataError, match="session 'exp1' has no training rows in outer fold"):
        cross_val_predict_ridge(X, Y, [1.0], folds, sessions=sessions)
    with pytest.raises(DataError, match="session 'exp1'"):
        session_centred_targets(Y, sessions, folds)
    # Two passages in two folds: when one is tested, the other alone cannot be left out.
    tested_with_0 = next(test for _, test in folds if 0 in test)
    other = next(group for group in np.unique(groups) if not np.isin(np.flatnonzero(groups == group), tested_with_0).any())
    sessions[groups == other] = "exp1"
    with pytest.raises(DataError, match="session 'exp1' has a single CV group among the training rows"):
        cross_val_predict_ridge(X, Y, [1.0], folds, sessions=sessions, groups=groups)
    with pytest.raises(DataError, match="sessions must hold one label per sample"):
        cross_val_predict_ridge(X, Y, [1.0], folds, sessions=sessions[:-1])


# --------------------------------------------------------------------------- planted session offset


def test_a_planted_session_offset_without_stimulus_signal_decodes_at_chance(planted_session_offset):
    alphas = np.logspace(-1, 5, 7)
    centred, scored_raw, uncentred = [], [], []
    for seed in range(10):
        voxels, features, groups, sessions = planted_session_offset(seed)
        folds = grouped_folds(groups, 5, seed=seed)
        predicted = cross_val_predict_ridge(voxels, features, alphas, folds, groups=groups, sessions=sessions)
        centred.append(two_vs_two(*standardise_by_training_folds(predicted, features, folds, sessions)))
        scored_raw.append(two_vs_two(predicted, session_centred_targets(features, sessions, folds)))
        # The same data without session centring: the offset wins cross-session pairs.
        predicted = cross_val_predict_ridge(voxels, features, alphas, folds, groups=groups)
        uncentred.append(two_vs_two(*standardise_by_training_folds(predicted, features, folds)))
    assert np.mean(centred) == pytest.approx(0.5, abs=0.02)
    assert np.mean(scored_raw) == pytest.approx(0.5, abs=0.02)
    assert np.mean(uncentred) > 0.6 and min(uncentred) > 0.55


def test_subtracting_session_means_by_runs_equals_the_gathered_subtraction():
    from brainalign.ridge_sessions import session_means, subtract_session_means

    rng = np.random.default_rng(7)
    values = rng.standard_normal((60, 5))
    for codes in (np.repeat([0, 1, 2], 20), rng.integers(0, 3, 60)):  # blocks (slices) and interleaved (gather)
        means = session_means(values, codes, 3)
        np.testing.assert_array_equal(subtract_session_means(values.copy(), codes, means), values - means[codes])
        np.testing.assert_allclose(session_means(values - means[codes], codes, 3), 0.0, atol=1e-15)
