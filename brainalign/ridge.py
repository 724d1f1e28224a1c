"""Cross-validated ridge regression with efficient leave-one-out alpha selection.

The outer loop runs over folds that keep every group of stimuli (a passage or an image)
in one test fold. Inside each training fold the inputs are standardised, the targets
centred (both per session when sessions are given: :mod:`brainalign.ridge_sessions`), and the
ridge penalty is chosen by exact leave-one-out (LOO) error on the targets standardised with
the training fold's statistics, leaving out single rows or whole groups
(:mod:`brainalign.ridge_groups`), computed in closed form from ONE eigendecomposition per
training fold, shared by all alphas (:mod:`brainalign.ridge_loo`, :mod:`brainalign.ridge_folds`;
the same algorithm in torch, for a GPU, in :mod:`brainalign.ridge_torch`):

* dual form (n_train <= n_features): eigendecomposition of the kernel ``K = X X^T``;
* primal form (n_train > n_features): eigendecomposition of ``X^T X``.

With the hat matrix ``H`` of ridge with an unpenalised intercept the LOO residuals are
``e = (y - H y) / (1 - diag(H))``. Nothing computed from the test rows of a fold (their
mean, scale or targets) enters the scaler or the choice of alpha.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.errors import ConfigError, DataError
from brainalign.ridge_checks import (
    BACKENDS,
    DEVICES,
    Fold,
    check_alphas,
    check_chunk_size,
    check_folds,
    check_inputs,
    check_labels,
    check_backend,
)
from brainalign.ridge_folds import cross_val_predict_numpy
from brainalign.ridge_groups import GroupBlocks
from brainalign.ridge_loo import (
    EigenBasis,
    loo_mean_squared_errors,
    pooled_loo_mean_squared_errors_dual,
    standardise_in_place,
)
from brainalign.ridge_sessions import (
    check_sessions_are_trained,
    session_centred_targets,
    session_codes,
    session_means,
    subtract_session_means,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_CHUNK_SIZE",
    "DEVICES",
    "Fold",
    "alphas_at_grid_edge",
    "check_backend",
    "chosen_alphas_label",
    "cross_val_predict_ridge",
    "grouped_folds",
    "predict_held_out_ridge",
    "ridge_loo_errors",
    "session_centred_targets",
]

# Targets are processed in column blocks of this size so that the per-alpha residual
# matrices stay at n_train x chunk_size however many voxels are predicted.
DEFAULT_CHUNK_SIZE = 4096

def grouped_folds(groups: ArrayLike, n_folds: int, seed: int = 0) -> list[Fold]:
    """Split samples into folds that never separate a group.

    Groups are shuffled with ``numpy.random.default_rng(seed)``, then placed largest
    first (stable, so equal-sized groups keep their shuffled order) into whichever fold
    currently holds the fewest samples. Fold sizes therefore differ by at most the size
    of one group.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Group label of each sample (e.g. passage or image id); any hashable, sortable
        dtype numpy accepts.
    n_folds : int
        Number of folds, at least 2.
    seed : int, default=0
        Seed of the shuffle; the same seed gives the same folds.

    Returns
    -------
    list of (train_idx, test_idx)
        One pair per fold, each a sorted 1-D integer array of sample indices. The test
        sets partition ``range(n_samples)``; ``train_idx`` is the complement of
        ``test_idx``.

    Raises
    ------
    ConfigError
        ``n_folds`` is not an integer >= 2.
    DataError
        ``groups`` is not 1-D or has fewer distinct groups than ``n_folds``.
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ConfigError(f"n_folds must be an integer >= 2; got {n_folds!r}")
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise DataError(f"groups must be 1-D (one label per sample); got shape {groups.shape}")
    labels, group_of_sample, group_sizes = np.unique(groups, return_inverse=True, return_counts=True)
    if labels.size < n_folds:
        raise DataError(
            f"fewer stimuli groups than folds: {labels.size} groups for {n_folds} folds; "
            "lower the config key ridge.n_folds or check the group labels"
        )

    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(labels.size)
    placement_order = shuffled[np.argsort(-group_sizes[shuffled], kind="stable")]
    fold_of_group = np.empty(labels.size, dtype=np.intp)
    fold_sizes = np.zeros(n_folds, dtype=np.int64)
    for group in placement_order:
        fold = int(np.argmin(fold_sizes))
        fold_of_group[group] = fold
        fold_sizes[fold] += group_sizes[group]

    fold_of_sample = fold_of_group[group_of_sample]
    folds = []
    for fold in range(n_folds):
        in_fold = fold_of_sample == fold
        folds.append((np.flatnonzero(~in_fold), np.flatnonzero(in_fold)))
    return folds


def ridge_loo_errors(
    X_train: ArrayLike,
    Y_train: ArrayLike,
    alphas: ArrayLike,
    *,
    standardize: bool = True,
    pooled: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    groups: ArrayLike | None = None,
    standardize_targets: bool = False,
    sessions: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Mean squared leave-one-out (or leave-one-group-out) error of ridge with an intercept, per alpha.

    The inputs are standardised (or only centred) with the statistics of all the given
    rows, which are then held fixed: the result equals refitting
    ``Ridge(alpha, fit_intercept=True)`` on the standardised rows without one row (or one
    group of rows) at a time, and predicting the rows left out. Nothing is refitted: the
    errors come in closed form from one eigendecomposition (:mod:`brainalign.ridge_groups`
    for groups).

    Parameters
    ----------
    X_train : array-like of shape (n_samples, n_features)
    Y_train : array-like of shape (n_samples, n_targets) or (n_samples,)
    alphas : array-like of shape (n_alphas,)
        Positive penalties.
    standardize : bool, default=True
        Scale the input columns to unit variance after centring.
    pooled : bool, default=False
        Return the mean over targets per alpha instead of one error per target.
    chunk_size : int, default=4096
        Targets processed at once.
    groups : array-like of shape (n_samples,), optional
        Group labels: leave out one whole group at a time. ``None``: single rows.
    standardize_targets : bool, default=False
        Errors of the targets scaled to unit variance (ddof=0) instead of in their units.
    sessions : array-like of shape (n_samples,), optional
        Session labels: one unpenalised intercept per session (inputs and targets centred
        per session, as :func:`cross_val_predict_ridge` does), refitted without each left-out
        row or group, like the session means of the retained rows.

    Returns
    -------
    ndarray of shape (n_alphas, n_targets), or (n_alphas,) if ``pooled``
    """
    check_chunk_size(chunk_size)
    X, Y, _ = check_inputs(X_train, Y_train)
    alphas = check_alphas(alphas)
    if X.shape[0] < 2:
        raise DataError(f"leave-one-out needs at least 2 samples; got {X.shape[0]}")
    groups = check_labels(groups, X.shape[0], "groups")
    if groups is not None and np.unique(groups).size < 2:
        raise DataError("leave-one-group-out needs at least 2 groups")
    standardised = np.array(X, dtype=np.float64)
    centred_targets = Y.astype(np.float64) - Y.mean(axis=0, dtype=np.float64)
    coded, leverage = session_codes(sessions, X.shape[0]), None
    if coded is not None:
        codes, n_sessions = coded[0], coded[1].size
        subtract_session_means(centred_targets, codes, session_means(centred_targets, codes, n_sessions))
        leverage = 1.0 / np.bincount(codes)[codes]
    blocks = None if groups is None else GroupBlocks.from_labels(groups, None if coded is None else coded[0])
    standardise_in_place(standardised, standardize, sessions=None if coded is None else (coded[0], coded[1].size))
    basis = EigenBasis.from_training(standardised, intercept_leverage=leverage)
    if standardize_targets:
        standardise_in_place(centred_targets, True)
    if pooled and basis.form == "dual":
        return pooled_loo_mean_squared_errors_dual(basis, centred_targets, alphas, chunk_size, blocks=blocks)
    projected = basis.basis.T @ centred_targets
    errors = loo_mean_squared_errors(basis, projected, centred_targets, alphas, chunk_size, blocks=blocks)
    return errors.mean(axis=1) if pooled else errors


def cross_val_predict_ridge(
    X: ArrayLike,
    Y: ArrayLike,
    alphas: ArrayLike,
    folds: Sequence[Fold],
    *,
    per_target_alpha: bool = False,
    standardize: bool = True,
    return_alphas: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    backend: str = "numpy",
    device: str = "auto",
    groups: ArrayLike | None = None,
    sessions: ArrayLike | None = None,
    standardize_targets: bool = True,
) -> NDArray[np.float64] | tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Out-of-fold ridge predictions with the penalty chosen inside each training fold.

    For each fold, using the training rows only: (with ``sessions``, centre inputs and
    targets per session,) standardise the input columns (zero variance columns get scale 1),
    centre the targets, choose alpha by minimal mean squared leave-one-out error on the
    targets standardised with the training statistics (closed form, one eigendecomposition
    per fold for all alphas; whole groups left out with ``groups``), then predict the test
    rows, transformed with the training statistics, in the targets' units. Without sessions
    the training target mean is added back; with sessions nothing is: the predictions are of
    the session-centred targets (:func:`session_centred_targets`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Inputs, e.g. voxels (decoding) or model representations (encoding).
    Y : array-like of shape (n_samples, n_targets) or (n_samples,)
        Targets. Computation is in float64 whatever the input dtype.
    alphas : array-like of shape (n_alphas,)
        Candidate positive penalties. When several give the same LOO error the first
        one listed wins.
    folds : sequence of (train_idx, test_idx)
        As returned by :func:`grouped_folds`. The test sets must cover every sample
        exactly once and never overlap their training set.
    per_target_alpha : bool, default=False
        Choose one alpha per target instead of one alpha minimising the LOO error
        averaged over all (standardised) targets. A per-target choice does not depend on
        the targets' scale.
    standardize : bool, default=True
        Scale input columns to unit variance; with False they are only centred.
    return_alphas : bool, default=False
        Also return the chosen alphas.
    chunk_size : int, default=4096
        Number of targets processed at once; bounds the memory of the per-alpha
        residuals to ``n_train * chunk_size`` floats.
    backend : {"numpy", "torch"}, default="numpy"
        numpy (:mod:`brainalign.ridge_folds`) or the same algorithm in torch
        (:mod:`brainalign.ridge_torch`, equal to round-off on the CPU).
    device : {"cpu", "cuda", "auto"}, default="auto"
        Where the torch backend runs; ``auto`` is the GPU when torch sees one. The numpy
        backend runs on the CPU and accepts ``cpu`` or ``auto``.
    groups : array-like of shape (n_samples,), optional
        Group label of each sample (the CV groups, e.g. passages): the inner LOO leaves
        whole groups of the training fold out, in closed form (:mod:`brainalign.ridge_groups`),
        so that no group's rows sit on both sides of the inner split. ``None``: single rows.
    sessions : array-like of shape (n_samples,), optional
        Session (acquisition block) of each sample. Inside each fold, X and Y are centred
        per session with the training rows' session means (test rows with their session's
        training mean), and the predictions are of the session-centred Y, carrying no
        session offset: score them against
        :func:`~brainalign.ridge_sessions.session_centred_targets`. ``None`` or one label:
        no session centring (the results equal those without ``sessions``).
    standardize_targets : bool, default=True
        Choose the (pooled) alpha on targets standardised with the training fold's
        statistics. False: on targets that are only centred, as before issue 12 (high
        variance columns then dominate the choice); kept to compare against.

    Returns
    -------
    predictions : ndarray of shape Y.shape, float64
        Row i is predicted by the model of the fold that tests i.
    alphas_per_fold : ndarray of shape (n_folds,) or (n_folds, n_targets)
        Only with ``return_alphas``; 2-D when ``per_target_alpha`` (n_targets = 1 for a
        1-D Y).

    Raises
    ------
    ConfigError
        Bad ``alphas``, ``chunk_size``, ``backend`` or ``device``; ``device="cuda"`` with
        the numpy backend, or when torch sees no CUDA GPU.
    DataError
        Inputs of the wrong shape or non-finite, or folds that do not index the data,
        overlap, leave fewer than 2 training rows or do not test every sample once;
        ``groups`` or ``sessions`` not one label per sample; a session with no training
        rows in a fold (named).
    """
    return _predict(X, Y, alphas, folds, cover=True, per_target_alpha=per_target_alpha, standardize=standardize,
                    return_alphas=return_alphas, chunk_size=chunk_size, backend=backend, device=device, groups=groups,
                    sessions=sessions, standardize_targets=standardize_targets)


def predict_held_out_ridge(
    X: ArrayLike, Y: ArrayLike, alphas: ArrayLike, splits: Sequence[Fold], **options
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`cross_val_predict_ridge` for splits whose test sets need not partition the rows.

    Each split is fitted exactly as a fold there (the same options, backends and checks,
    except that test sets may overlap or leave rows untested), e.g. the models trained
    without two outer folds at a time (:mod:`brainalign.fold_pairs`).

    Returns
    -------
    predictions : ndarray of shape Y.shape (2-D), float64
        Rows tested by several splits hold the last split's prediction; untested rows are
        undefined. Read each split's test rows right after fitting one split at a time, or
        pass splits with disjoint test sets.
    alphas_per_split : ndarray of shape (n_splits,) or (n_splits, n_targets)
    """
    return _predict(X, Y, alphas, splits, cover=False, return_alphas=True, **options)


def _predict(X, Y, alphas, folds, *, cover, per_target_alpha=False, standardize=True, return_alphas=False,
             chunk_size=DEFAULT_CHUNK_SIZE, backend="numpy", device="auto", groups=None, sessions=None,
             standardize_targets=True):
    """Check the inputs (test sets partition the rows only with ``cover``) and fit each fold on its backend."""
    check_backend(backend, device)
    check_chunk_size(chunk_size)
    X, Y, was_1d = check_inputs(X, Y)
    alphas = check_alphas(alphas)
    folds = check_folds(folds, X.shape[0], cover=cover)
    groups = check_labels(groups, X.shape[0], "groups")
    coded = session_codes(sessions, X.shape[0])
    if coded is not None:
        check_sessions_are_trained(*coded, folds, groups)
        coded = (coded[0], coded[1].size)

    # One conversion for all folds (no copy when already float64).
    X = X.astype(np.float64, copy=False)
    Y = Y.astype(np.float64, copy=False)
    options = {
        "per_target_alpha": per_target_alpha,
        "standardize": standardize,
        "standardize_targets": standardize_targets,
        "chunk_size": chunk_size,
        "groups": groups,
        "sessions": coded,
    }
    if backend == "torch":
        from brainalign.ridge_torch import cross_val_predict_torch  # torch only when asked for

        predictions, chosen = cross_val_predict_torch(X, Y, alphas, folds, device=device, **options)
    else:
        predictions, chosen = cross_val_predict_numpy(X, Y, alphas, folds, **options)
    if was_1d:
        predictions = predictions[:, 0]
    return (predictions, chosen) if return_alphas else predictions


def chosen_alphas_label(chosen: ArrayLike) -> str:
    """The alphas chosen per outer fold as one table cell, e.g. ``"100;100;1000;100;100"``.

    Parameters
    ----------
    chosen : array-like of shape (n_folds,) or (n_folds, n_targets)
        As returned by :func:`cross_val_predict_ridge` with ``return_alphas``; with one alpha
        per target, each fold contributes the median over its targets.

    Returns
    -------
    str
        One value per fold in fold order, joined with ``;``, each with 6 significant digits
        (``format(alpha, "g")``).
    """
    chosen = np.asarray(chosen, dtype=np.float64)
    per_fold = np.median(chosen, axis=1) if chosen.ndim == 2 else chosen
    return ";".join(f"{alpha:g}" for alpha in per_fold)


def alphas_at_grid_edge(chosen: ArrayLike, alphas: ArrayLike) -> bool:
    """Whether any fold's chosen alpha (per-target: its median) is the smallest or largest of ``alphas``.

    Such a choice may be limited by the grid rather than by the data. A grid of one alpha
    has no edge to warn about.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.size < 2:
        return False
    chosen = np.asarray(chosen, dtype=np.float64)
    per_fold = np.median(chosen, axis=1) if chosen.ndim == 2 else chosen
    return bool(np.any((per_fold <= alphas.min()) | (per_fold >= alphas.max())))
