"""Cross-validated ridge regression with efficient leave-one-out alpha selection.

The outer loop runs over folds that keep every group of stimuli (a passage or an image)
in one test fold. Inside each training fold the inputs are standardised, the targets
centred, and the ridge penalty is chosen by exact leave-one-out (LOO) error computed in
closed form from ONE eigendecomposition per training fold, shared by all alphas
(:mod:`brainalign.ridge_loo`; the same algorithm in torch, for a GPU, in
:mod:`brainalign.ridge_torch`):

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
from brainalign.ridge_loo import (
    EigenBasis,
    cross_val_predict_numpy,
    loo_mean_squared_errors,
    pooled_loo_mean_squared_errors_dual,
    standardise_in_place,
)

Fold = tuple[NDArray[np.intp], NDArray[np.intp]]

# Targets are processed in column blocks of this size so that the per-alpha residual
# matrices stay at n_train x chunk_size however many voxels are predicted.
DEFAULT_CHUNK_SIZE = 4096

# Config key ridge.backend: numpy (the default; byte-identical tables run to run) or torch
# (on ridge.device: cpu, cuda or auto = cuda when torch sees a GPU).
BACKENDS = ("numpy", "torch")
DEVICES = ("cpu", "cuda", "auto")


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


def check_backend(backend: str, device: str) -> None:
    """Check the config keys ``ridge.backend`` and ``ridge.device`` (see :data:`BACKENDS`).

    Whether a CUDA GPU is present is checked where the torch backend runs
    (:func:`brainalign.ridge_torch.resolve_device`), not here.

    Raises
    ------
    ConfigError
        Unknown backend or device, or ``cuda`` with the numpy backend.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"config key ridge.backend: unknown backend {backend!r}; use one of {list(BACKENDS)}")
    if device not in DEVICES:
        raise ConfigError(f"config key ridge.device: unknown device {device!r}; use one of {list(DEVICES)}")
    if backend == "numpy" and device == "cuda":
        raise ConfigError(
            "config key ridge.device is 'cuda' but ridge.backend is 'numpy', which runs on the CPU only; "
            "set ridge.backend: torch to use a GPU, or ridge.device: auto"
        )


def _check_chunk_size(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive integer; got {chunk_size!r}")


def _check_alphas(alphas: ArrayLike) -> NDArray[np.float64]:
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ConfigError(f"alphas must be a non-empty 1-D sequence of positive numbers; got shape {alphas.shape}")
    if not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ConfigError(f"alphas must be finite and > 0; got {alphas.tolist()}")
    return alphas


def _all_finite(matrix: NDArray) -> bool:
    """Whether a numeric array holds no NaN or inf, in one pass and without a mask.

    A NaN or inf in the data makes the sum NaN or inf; a finite sum therefore proves
    all values finite. Only a sum that overflows needs the element-wise test.
    """
    if not np.issubdtype(matrix.dtype, np.inexact):
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(matrix)):
            return True
    return bool(np.all(np.isfinite(matrix)))


def _check_inputs(X: ArrayLike, Y: ArrayLike) -> tuple[NDArray, NDArray, bool]:
    """Return X (n, p), Y as (n, t) and whether Y was 1-D."""
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2:
        raise DataError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}")
    if Y.ndim not in (1, 2):
        raise DataError(f"Y must be 1-D or 2-D (n_samples, n_targets); got shape {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise DataError(f"X and Y must have the same number of rows; got {X.shape[0]} and {Y.shape[0]}")
    if X.shape[1] == 0 or (Y.ndim == 2 and Y.shape[1] == 0):
        raise DataError(f"X and Y need at least one column; got shapes {X.shape} and {Y.shape}")
    for name, matrix in (("X", X), ("Y", Y)):
        if not np.issubdtype(matrix.dtype, np.number) or not _all_finite(matrix):
            raise DataError(f"{name} must hold finite numbers (no NaN or inf)")
    was_1d = Y.ndim == 1
    return X, (Y[:, None] if was_1d else Y), was_1d


def _check_folds(folds: Sequence[Fold], n_samples: int) -> list[Fold]:
    """Check that the folds index the data, never overlap train/test and cover each sample once."""
    if len(folds) == 0:
        raise DataError("folds is empty; build them with grouped_folds")
    checked = []
    times_tested = np.zeros(n_samples, dtype=np.int64)
    for number, fold in enumerate(folds):
        if len(fold) != 2:
            raise DataError(f"fold {number} must be a (train_idx, test_idx) pair")
        train, test = (np.asarray(indices) for indices in fold)
        for name, indices in (("train", train), ("test", test)):
            if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
                raise DataError(f"fold {number}: {name} indices must be a 1-D integer array")
            if indices.size and (indices.min() < 0 or indices.max() >= n_samples):
                raise DataError(f"fold {number}: {name} indices fall outside 0..{n_samples - 1}")
        if np.unique(train).size < 2:
            raise DataError(f"fold {number} has {np.unique(train).size} training samples; ridge needs at least 2")
        if np.intersect1d(train, test).size:
            raise DataError(f"fold {number}: train and test indices overlap, which would leak test data")
        np.add.at(times_tested, test, 1)
        checked.append((train, test))
    if np.any(times_tested != 1):
        bad = np.flatnonzero(times_tested != 1)
        raise DataError(
            f"the test sets must cover every sample exactly once to give out-of-fold predictions; "
            f"{bad.size} samples are tested 0 or several times (first: {bad[:5].tolist()})"
        )
    return checked


def ridge_loo_errors(
    X_train: ArrayLike,
    Y_train: ArrayLike,
    alphas: ArrayLike,
    *,
    standardize: bool = True,
    pooled: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> NDArray[np.float64]:
    """Mean squared leave-one-out error of ridge with an intercept, for every alpha.

    The inputs are standardised (or only centred) with the statistics of all the given
    rows, which are then held fixed: the result equals refitting
    ``Ridge(alpha, fit_intercept=True)`` n times on the standardised rows, each time
    without one row, and predicting that row.

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

    Returns
    -------
    ndarray of shape (n_alphas, n_targets), or (n_alphas,) if ``pooled``
    """
    _check_chunk_size(chunk_size)
    X, Y, _ = _check_inputs(X_train, Y_train)
    alphas = _check_alphas(alphas)
    if X.shape[0] < 2:
        raise DataError(f"leave-one-out needs at least 2 samples; got {X.shape[0]}")
    standardised = np.array(X, dtype=np.float64)
    standardise_in_place(standardised, standardize)
    basis = EigenBasis.from_training(standardised)
    centred_targets = Y.astype(np.float64) - Y.mean(axis=0, dtype=np.float64)
    if pooled and basis.form == "dual":
        return pooled_loo_mean_squared_errors_dual(basis, centred_targets, alphas, chunk_size)
    projected = basis.basis.T @ centred_targets
    errors = loo_mean_squared_errors(basis, projected, centred_targets, alphas, chunk_size)
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
) -> NDArray[np.float64] | tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Out-of-fold ridge predictions with the penalty chosen inside each training fold.

    For each fold, using the training rows only: standardise the input columns (zero
    variance columns get scale 1), centre the targets, choose alpha by minimal mean
    squared leave-one-out error (closed form, one eigendecomposition per fold for all
    alphas), then predict the test rows, standardised with the training statistics,
    and add back the training target mean.

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
        averaged over all targets.
    standardize : bool, default=True
        Scale input columns to unit variance; with False they are only centred.
    return_alphas : bool, default=False
        Also return the chosen alphas.
    chunk_size : int, default=4096
        Number of targets processed at once; bounds the memory of the per-alpha
        residuals to ``n_train * chunk_size`` floats.
    backend : {"numpy", "torch"}, default="numpy"
        numpy (:mod:`brainalign.ridge_loo`) or the same algorithm in torch
        (:mod:`brainalign.ridge_torch`, equal to round-off on the CPU).
    device : {"cpu", "cuda", "auto"}, default="auto"
        Where the torch backend runs; ``auto`` is the GPU when torch sees one. The numpy
        backend runs on the CPU and accepts ``cpu`` or ``auto``.

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
        overlap, leave fewer than 2 training rows or do not test every sample once.
    """
    check_backend(backend, device)
    _check_chunk_size(chunk_size)
    X, Y, was_1d = _check_inputs(X, Y)
    alphas = _check_alphas(alphas)
    folds = _check_folds(folds, X.shape[0])

    # One conversion for all folds (no copy when already float64).
    X = X.astype(np.float64, copy=False)
    Y = Y.astype(np.float64, copy=False)
    options = {"per_target_alpha": per_target_alpha, "standardize": standardize, "chunk_size": chunk_size}
    if backend == "torch":
        from brainalign.ridge_torch import cross_val_predict_torch  # torch only when asked for

        predictions, chosen = cross_val_predict_torch(X, Y, alphas, folds, device=device, **options)
    else:
        predictions, chosen = cross_val_predict_numpy(X, Y, alphas, folds, **options)
    if was_1d:
        predictions = predictions[:, 0]
    return (predictions, chosen) if return_alphas else predictions
