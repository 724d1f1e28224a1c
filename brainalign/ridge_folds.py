"""The outer folds of :func:`brainalign.ridge.cross_val_predict_ridge` in numpy: per fold,
(session-)centre and standardise the training rows, choose alpha by closed-form leave-one-out
(or leave-one-group-out) error, and predict the test rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from brainalign.ridge_groups import GroupBlocks
from brainalign.ridge_loo import (
    EigenBasis,
    loo_mean_squared_errors,
    pooled_loo_mean_squared_errors_dual,
    standardise_in_place,
    standardise_new_rows,
)
from brainalign.ridge_sessions import session_means, subtract_session_means

Sessions = tuple[NDArray[np.intp], int]
"""Session code of every sample (n_samples,) and the number of sessions."""


def target_scale(centred_targets: NDArray[np.float64]) -> NDArray[np.float64]:
    """Training standard deviation (ddof=0) of each centred target column; 1 where it is 0."""
    scale = np.sqrt(np.einsum("ij,ij->j", centred_targets, centred_targets) / centred_targets.shape[0])
    scale[scale == 0] = 1.0
    return scale


def fit_and_predict_fold(
    X: NDArray[np.float64],
    Y: NDArray[np.float64],
    alphas: NDArray[np.float64],
    train: NDArray[np.intp],
    test: NDArray[np.intp],
    buffer: NDArray[np.float64],
    *,
    per_target_alpha: bool,
    standardize: bool,
    standardize_targets: bool,
    chunk_size: int,
    groups: NDArray | None,
    sessions: Sessions | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | float]:
    """One fold of :func:`cross_val_predict_numpy`: the test rows' predictions and the chosen alpha(s).

    ``buffer`` (reused by every fold) receives the standardised training rows followed by
    the standardised test rows: the training block is written once per fold and
    standardised in place, never copied again.

    Returns
    -------
    predictions : ndarray of shape (n_test, n_targets)
    chosen : float, or ndarray of shape (n_targets,) with ``per_target_alpha``
    """
    n_train, n_test = train.size, test.size
    training_inputs = buffer[:n_train]
    leverage = None
    if sessions is None:
        mean, scale = standardise_in_place(training_inputs, standardize, source=(X, train))
        test_codes = None
    else:
        codes, n_sessions = sessions
        train_codes = codes[train]
        mean, scale = standardise_in_place(
            training_inputs, standardize, source=(X, train), sessions=(train_codes, n_sessions)
        )
        test_codes = codes[test]
        # Centring per session fits one unpenalised intercept per session; the LOO refits them.
        leverage = 1.0 / np.bincount(train_codes, minlength=n_sessions)[train_codes]
    test_inputs = standardise_new_rows(buffer[n_train : n_train + n_test], X, test, mean, scale, test_codes)
    if n_train <= X.shape[1] and 3 * n_test <= n_train:
        # Dual form with few test rows (4 folds or more): the training kernel and the
        # test-by-training kernel from one symmetric product over the stacked rows. It
        # also computes the small test-by-test block, yet beats a symmetric product plus
        # a thin general one (~10% at 500 + 125 rows).
        rows = buffer[: n_train + n_test]
        kernel = rows @ rows.T
        basis = EigenBasis.from_training(training_inputs, kernel=kernel[:n_train, :n_train], intercept_leverage=leverage)
        test_transform = kernel[n_train:, :n_train] @ basis.basis
    else:
        basis = EigenBasis.from_training(training_inputs, intercept_leverage=leverage)
        test_transform = basis.transform(test_inputs)

    training_targets = Y[train]
    if sessions is None:
        target_mean = training_targets.mean(axis=0)
        centred_targets = np.subtract(training_targets, target_mean, out=training_targets)
    else:
        # Centred per session, the targets' mean is 0: the intercepts are the session means,
        # which are not added back to the predictions.
        target_mean = np.zeros(Y.shape[1])
        centred_targets = subtract_session_means(
            training_targets, train_codes, session_means(training_targets, train_codes, n_sessions)
        )
    # The per-target choice does not depend on the targets' scale; the pooled one does.
    scale_of_targets = target_scale(centred_targets) if standardize_targets and not per_target_alpha else None
    blocks = None if groups is None else GroupBlocks.from_labels(groups[train], None if sessions is None else train_codes)
    if not per_target_alpha and basis.form == "dual":
        # One alpha for all targets: neither the LOO errors nor the predictions need
        # the n_train x n_targets projection U^T Y, only n_train x n_train matrices.
        pooled = pooled_loo_mean_squared_errors_dual(
            basis, centred_targets, alphas, chunk_size, target_scale=scale_of_targets, blocks=blocks
        )
        best = alphas[np.argmin(pooled)]
        test_weights = (test_transform / (basis.eigenvalues + best)) @ basis.basis.T
        return test_weights @ centred_targets + target_mean, best

    n_targets = Y.shape[1]
    projected = basis.basis.T @ centred_targets
    errors = loo_mean_squared_errors(basis, projected, centred_targets, alphas, chunk_size, blocks=blocks)
    if per_target_alpha:
        alpha_of_target = alphas[np.argmin(errors, axis=0)]
    else:
        if scale_of_targets is not None:
            errors /= scale_of_targets**2
        alpha_of_target = np.full(n_targets, alphas[np.argmin(errors.mean(axis=1))])
    predictions = np.empty((n_test, n_targets))
    for start in range(0, n_targets, chunk_size):
        block = slice(start, start + chunk_size)
        inverse = 1.0 / (basis.eigenvalues[:, None] + alpha_of_target[None, block])
        predictions[:, block] = test_transform @ (inverse * projected[:, block]) + target_mean[block]
    return predictions, (alpha_of_target if per_target_alpha else alpha_of_target[0])


def cross_val_predict_numpy(
    X: NDArray[np.float64],
    Y: NDArray[np.float64],
    alphas: NDArray[np.float64],
    folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]],
    *,
    per_target_alpha: bool,
    standardize: bool,
    chunk_size: int,
    standardize_targets: bool = True,
    groups: NDArray | None = None,
    sessions: Sessions | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Out-of-fold predictions and chosen alphas of checked float64 inputs, fold by fold.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    Y : ndarray of shape (n_samples, n_targets), float64
    alphas : ndarray of shape (n_alphas,)
    folds : sequence of (train_idx, test_idx), already checked
    per_target_alpha, standardize, chunk_size, standardize_targets
        As :func:`brainalign.ridge.cross_val_predict_ridge`.
    groups : ndarray of shape (n_samples,), optional
        Group labels: the inner LOO leaves whole groups out.
    sessions : (codes, n_sessions), optional
        Centre inputs and targets per session with the training rows' session means.

    Returns
    -------
    predictions : ndarray of shape (n_samples, n_targets)
    chosen : ndarray of shape (n_folds,) or (n_folds, n_targets) with ``per_target_alpha``
    """
    n_targets = Y.shape[1]
    predictions = np.empty(Y.shape, dtype=np.float64)
    chosen = np.empty((len(folds), n_targets) if per_target_alpha else len(folds))
    # Each fold gathers its rows into one buffer reused across folds.
    buffer = np.empty((max(train.size + test.size for train, test in folds), X.shape[1]))
    options = {
        "per_target_alpha": per_target_alpha,
        "standardize": standardize,
        "standardize_targets": standardize_targets,
        "chunk_size": chunk_size,
        "groups": groups,
        "sessions": sessions,
    }
    for number, (train, test) in enumerate(folds):
        predictions[test], chosen[number] = fit_and_predict_fold(X, Y, alphas, train, test, buffer, **options)
    return predictions, chosen
