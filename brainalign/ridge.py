"""Cross-validated ridge regression with efficient leave-one-out alpha selection.

The outer loop runs over folds that keep every group of stimuli (a passage or an image)
in one test fold. Inside each training fold the inputs are standardised, the targets
centred, and the ridge penalty is chosen by exact leave-one-out (LOO) error computed in
closed form from ONE eigendecomposition per training fold, shared by all alphas:

* dual form (n_train <= n_features): eigendecomposition of the kernel ``K = X X^T``;
* primal form (n_train > n_features): eigendecomposition of ``X^T X``.

With the hat matrix ``H`` of ridge with an unpenalised intercept the LOO residuals are
``e = (y - H y) / (1 - diag(H))``. Nothing computed from the test rows of a fold (their
mean, scale or targets) enters the scaler or the choice of alpha.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.errors import ConfigError, DataError

Fold = tuple[NDArray[np.intp], NDArray[np.intp]]

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


def _clip_null_eigenvalues(eigenvalues: NDArray[np.float64]) -> NDArray[np.float64]:
    """Set eigenvalues indistinguishable from 0 by round-off to exactly 0.

    The centred kernel always has the constant vector in its null space; eigh returns
    its eigenvalue as +-eps * lambda_max rather than 0. Left positive, it would turn the
    exact 1/n that the intercept's term cancels in 1 - diag(H) into 1/n * (1 - tiny/alpha),
    an error that grows like 1/alpha^2 in the LOO error of small alphas.
    """
    tolerance = eigenvalues.size * np.finfo(np.float64).eps * max(float(eigenvalues.max()), 0.0)
    return np.where(eigenvalues > tolerance, eigenvalues, 0.0)


@dataclass(frozen=True)
class _EigenBasis:
    """One eigendecomposition of a standardised training fold, shared by all alphas.

    With ``h = 1 / (eigenvalues + alpha)`` and ``R = basis.T @ Y_centred``:
    fitted training values are ``basis @ (gain * h * R)`` and predictions for new rows
    ``T_new @ (h * R)``, where ``gain`` is the eigenvalue in the dual form and 1 in the
    primal form, and ``T_new`` comes from :meth:`transform`.

    Attributes
    ----------
    form : {"dual", "primal"}
    basis : ndarray of shape (n_train, m)
        Dual: the orthonormal eigenvectors U of ``K = X X^T`` (m = n_train, a complete
        basis). Primal: ``X V`` with V the eigenvectors of ``X^T X`` (m = n_features).
    eigenvalues : ndarray of shape (m,)
        Eigenvalues; those within round-off of 0 (or negative) set to exactly 0.
    training_inputs : ndarray of shape (n_train, n_features)
        The standardised training inputs (dual form only, to build test kernels).
    feature_eigenvectors : ndarray of shape (n_features, n_features)
        V (primal form only).
    """

    form: Literal["dual", "primal"]
    basis: NDArray[np.float64]
    eigenvalues: NDArray[np.float64]
    training_inputs: NDArray[np.float64] | None = None
    feature_eigenvectors: NDArray[np.float64] | None = None

    @classmethod
    def from_training(cls, inputs: NDArray[np.float64], kernel: NDArray[np.float64] | None = None) -> _EigenBasis:
        """Decompose standardised training inputs of shape (n_train, n_features).

        ``kernel``, if given, is ``inputs @ inputs.T`` already computed (dual form only).
        """
        n_train, n_features = inputs.shape
        if n_train <= n_features:
            eigenvalues, eigenvectors = np.linalg.eigh(inputs @ inputs.T if kernel is None else kernel)
            return cls("dual", eigenvectors, _clip_null_eigenvalues(eigenvalues), training_inputs=inputs)
        eigenvalues, eigenvectors = np.linalg.eigh(inputs.T @ inputs)
        return cls(
            "primal", inputs @ eigenvectors, _clip_null_eigenvalues(eigenvalues), feature_eigenvectors=eigenvectors
        )

    def transform(self, new_inputs: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map standardised new rows (n_new, n_features) to (n_new, m) for prediction."""
        if self.form == "dual":
            return (new_inputs @ self.training_inputs.T) @ self.basis
        return new_inputs @ self.feature_eigenvectors

    def loo_residual_denominators(self, alpha: float) -> NDArray[np.float64]:
        """``1 - diag(H)`` of the model with an unpenalised intercept, shape (n_train,).

        The intercept adds ``1/n`` to every diagonal entry of the hat matrix of the
        centred problem (the centred columns are orthogonal to the constant).
        """
        n_train = self.basis.shape[0]
        if self.form == "dual":
            # U is complete (rows of unit norm), so 1 - diag(U diag(s/(s+a)) U^T) equals
            # U^2 @ (a/(s+a)): no cancellation between 1 and a number close to 1.
            return (self.basis**2) @ (alpha / (self.eigenvalues + alpha)) - 1.0 / n_train
        return 1.0 - 1.0 / n_train - (self.basis**2) @ (1.0 / (self.eigenvalues + alpha))

    def loo_residuals(
        self, alpha: float, projected: NDArray[np.float64], centred_targets: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Numerators ``y - H y`` of the LOO residuals for a block of targets.

        Parameters
        ----------
        alpha : float
        projected : ndarray of shape (m, n_block)
            ``basis.T @ centred_targets``.
        centred_targets : ndarray of shape (n_train, n_block)

        Returns
        -------
        ndarray of shape (n_train, n_block)
        """
        if self.form == "dual":
            # Y = U R exactly, so Y - HY = U diag(a/(s+a)) R without subtracting Y.
            return self.basis @ ((alpha / (self.eigenvalues + alpha))[:, None] * projected)
        return centred_targets - self.basis @ ((1.0 / (self.eigenvalues + alpha))[:, None] * projected)


def _loo_mean_squared_errors(
    basis: _EigenBasis,
    projected: NDArray[np.float64],
    centred_targets: NDArray[np.float64],
    alphas: NDArray[np.float64],
    chunk_size: int,
) -> NDArray[np.float64]:
    """Mean squared LOO error per alpha and target, shape (n_alphas, n_targets)."""
    n_targets = centred_targets.shape[1]
    errors = np.empty((alphas.size, n_targets))
    for index, alpha in enumerate(alphas):
        denominators = basis.loo_residual_denominators(alpha)
        # A denominator <= 0 only arises from round-off when the model interpolates the
        # training rows; its LOO error is unbounded, so that alpha must never win.
        degenerate = denominators <= 0
        safe = np.where(degenerate, 1.0, denominators)[:, None]
        for start in range(0, n_targets, chunk_size):
            block = slice(start, start + chunk_size)
            residuals = basis.loo_residuals(alpha, projected[:, block], centred_targets[:, block]) / safe
            errors[index, block] = np.mean(residuals**2, axis=0)
        if np.any(degenerate):
            errors[index] = np.inf
    return errors


def _pooled_loo_mean_squared_errors_dual(
    basis: _EigenBasis, centred_targets: NDArray[np.float64], alphas: NDArray[np.float64], chunk_size: int
) -> NDArray[np.float64]:
    """Mean over all targets of the squared LOO errors, per alpha, in the dual form.

    The sum over targets of the squared numerators of sample i is
    ``[U F G F U^T]_ii`` with ``F = diag(a/(s+a))`` and ``G = U^T (Y Y^T) U`` (n x n).
    ``Y Y^T`` costs one n^2 x n_targets product; after it every alpha costs n^3
    instead of n^2 x n_targets, a large saving for many targets (e.g. 50,000 voxels).
    With fewer targets than training rows the row norms of ``U F R``, ``R = U^T Y``
    (n x n_targets), give the same sums for n^2 x n_targets per alpha.

    Parameters
    ----------
    basis : _EigenBasis
        Dual form.
    centred_targets : ndarray of shape (n_train, n_targets)
    alphas : ndarray of shape (n_alphas,)
    chunk_size : int
        Targets per block of the ``Y Y^T`` accumulation.

    Returns
    -------
    ndarray of shape (n_alphas,)
    """
    n_train, n_targets = centred_targets.shape
    eigenvectors = basis.basis
    # shrinkage[a, k] = alpha_a / (s_k + alpha_a): the diagonal of F for every alpha.
    shrinkage = alphas[:, None] / (basis.eigenvalues[None, :] + alphas[:, None])
    # 1 - diag(H) for every alpha at once, as in loo_residual_denominators.
    denominators = shrinkage @ (eigenvectors**2).T - 1.0 / n_train
    if n_targets < 2 * n_train:
        # R = U^T Y, then (with more targets than rows) G = R R^T: n^2 t + n^2 t / 2
        # multiply-adds against n^2 t / 2 + 2 n^3 for U^T (Y Y^T) U.
        factor = eigenvectors.T @ centred_targets
        if n_targets >= n_train:
            factor = factor @ factor.T
    else:
        target_gram = np.zeros((n_train, n_train))
        for start in range(0, n_targets, chunk_size):
            block = np.ascontiguousarray(centred_targets[:, start : start + chunk_size])
            target_gram += block @ block.T
        factor = eigenvectors.T @ target_gram @ eigenvectors
    scaled_basis = np.empty_like(eigenvectors)
    product = np.empty((n_train, factor.shape[1]))
    errors = np.empty(alphas.size)
    for index in range(alphas.size):
        if np.any(denominators[index] <= 0):
            errors[index] = np.inf
            continue
        if n_targets < n_train:
            # Numerators U F R; their squared row norms are the per-sample sums.
            np.matmul(eigenvectors, shrinkage[index][:, None] * factor, out=product)
            squared_numerators = np.einsum("ij,ij->i", product, product)
        else:
            np.multiply(eigenvectors, shrinkage[index], out=scaled_basis)
            np.matmul(scaled_basis, factor, out=product)
            squared_numerators = np.einsum("ik,ik->i", product, scaled_basis)
        errors[index] = np.sum(squared_numerators / denominators[index] ** 2) / (n_train * n_targets)
    return errors


def _standardise_in_place(
    inputs: NDArray[np.float64], standardize: bool, source: tuple[NDArray, NDArray[np.intp]] | None = None
) -> tuple[NDArray, NDArray]:
    """Centre (and scale) the columns of ``inputs`` in place; return the mean and scale.

    Parameters
    ----------
    inputs : ndarray of shape (n_train, n_features), float64
        Training rows; overwritten with their standardised values. In place because a
        fold of 500 x 10,000 voxels would otherwise cost several 40 MB temporaries.
    standardize : bool
        Divide by the column standard deviation (ddof=0, as ``StandardScaler``).
    source : (X, rows), optional
        First fill ``inputs`` with ``X[rows]`` (X float64, rows valid indices), with no
        temporary copy.

    Returns
    -------
    mean, scale : ndarray of shape (n_features,)
        Apply to new rows as ``(x - mean) / scale``. Zero-variance columns get scale 1.
    """
    if source is not None:
        # The caller checked the indices, so "clip" never clips; unlike the default
        # "raise" it lets take write straight into the buffer.
        np.take(source[0], source[1], axis=0, out=inputs, mode="clip")
    # Column sums as a BLAS matrix-vector product: several times faster than
    # inputs.mean(axis=0), and as accurate (both accumulate the rows in sequence).
    mean = (np.ones(inputs.shape[0]) @ inputs) / inputs.shape[0]
    inputs -= mean
    scale = np.ones_like(mean)
    if standardize:
        scale = np.sqrt(np.einsum("ij,ij->j", inputs, inputs) / inputs.shape[0])
        # A constant column is (about) zero once centred; scale 1 keeps it so. Constancy
        # is tested exactly: the std of e.g. a column of 0.1 is round-off (~1e-17), not
        # 0, and dividing by it would blow round-off up into a unit-variance column.
        # Only a column whose std is at round-off level of its mean can be constant (the
        # computed mean of a constant column c is within n * eps * |c| of c), so the
        # exact test, a full pass over the data, runs on those columns alone.
        round_off = max(1e-8, 8 * inputs.shape[0] * np.finfo(np.float64).eps)
        candidates = np.flatnonzero(scale <= round_off * np.abs(mean))
        if candidates.size:
            constant = candidates[np.ptp(inputs[:, candidates], axis=0) == 0]
            scale[constant] = 1.0
        scale[scale == 0] = 1.0
        # Multiplying by the reciprocal (within an ulp of dividing) is about twice as fast.
        inputs *= 1.0 / scale
    return mean, scale


def _standardise_new_rows(
    out: NDArray[np.float64], source: NDArray[np.float64], rows: NDArray[np.intp], mean: NDArray, scale: NDArray
) -> NDArray[np.float64]:
    """Write ``(source[rows] - mean) / scale`` into ``out`` and return it (rows already checked)."""
    np.take(source, rows, axis=0, out=out, mode="clip")
    out -= mean
    out *= 1.0 / scale
    return out


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
    _standardise_in_place(standardised, standardize)
    basis = _EigenBasis.from_training(standardised)
    centred_targets = Y.astype(np.float64) - Y.mean(axis=0, dtype=np.float64)
    if pooled and basis.form == "dual":
        return _pooled_loo_mean_squared_errors_dual(basis, centred_targets, alphas, chunk_size)
    projected = basis.basis.T @ centred_targets
    errors = _loo_mean_squared_errors(basis, projected, centred_targets, alphas, chunk_size)
    return errors.mean(axis=1) if pooled else errors


def _fit_and_predict_fold(
    X: NDArray[np.float64],
    Y: NDArray[np.float64],
    alphas: NDArray[np.float64],
    train: NDArray[np.intp],
    test: NDArray[np.intp],
    buffer: NDArray[np.float64],
    per_target_alpha: bool,
    standardize: bool,
    chunk_size: int,
    predictions: NDArray[np.float64],
    chosen: NDArray[np.float64],
    number: int,
) -> None:
    """One fold of :func:`cross_val_predict_ridge`: fills ``predictions[test]`` and ``chosen[number]``.

    ``buffer`` (reused by every fold) receives the standardised training rows followed by
    the standardised test rows: the training block is written once per fold and
    standardised in place, never copied again.
    """
    n_train, n_test = train.size, test.size
    training_inputs = buffer[:n_train]
    mean, scale = _standardise_in_place(training_inputs, standardize, source=(X, train))
    test_inputs = _standardise_new_rows(buffer[n_train : n_train + n_test], X, test, mean, scale)
    if n_train <= X.shape[1] and 3 * n_test <= n_train:
        # Dual form with few test rows (4 folds or more): the training kernel and the
        # test-by-training kernel from one symmetric product over the stacked rows. It
        # also computes the small test-by-test block, yet beats a symmetric product plus
        # a thin general one (~10% at 500 + 125 rows).
        rows = buffer[: n_train + n_test]
        kernel = rows @ rows.T
        basis = _EigenBasis.from_training(training_inputs, kernel=kernel[:n_train, :n_train])
        test_transform = kernel[n_train:, :n_train] @ basis.basis
    else:
        basis = _EigenBasis.from_training(training_inputs)
        test_transform = basis.transform(test_inputs)

    training_targets = Y[train]
    target_mean = training_targets.mean(axis=0)
    centred_targets = np.subtract(training_targets, target_mean, out=training_targets)
    if not per_target_alpha and basis.form == "dual":
        # One alpha for all targets: neither the LOO errors nor the predictions need
        # the n_train x n_targets projection U^T Y, only n_train x n_train matrices.
        pooled = _pooled_loo_mean_squared_errors_dual(basis, centred_targets, alphas, chunk_size)
        best = alphas[np.argmin(pooled)]
        chosen[number] = best
        test_weights = (test_transform / (basis.eigenvalues + best)) @ basis.basis.T
        predictions[test] = test_weights @ centred_targets + target_mean
        return

    n_targets = Y.shape[1]
    projected = basis.basis.T @ centred_targets
    if per_target_alpha:
        errors = _loo_mean_squared_errors(basis, projected, centred_targets, alphas, chunk_size)
        alpha_of_target = alphas[np.argmin(errors, axis=0)]
    else:
        pooled = _loo_mean_squared_errors(basis, projected, centred_targets, alphas, chunk_size).mean(axis=1)
        alpha_of_target = np.full(n_targets, alphas[np.argmin(pooled)])
    chosen[number] = alpha_of_target if per_target_alpha else alpha_of_target[0]
    for start in range(0, n_targets, chunk_size):
        block = slice(start, start + chunk_size)
        inverse = 1.0 / (basis.eigenvalues[:, None] + alpha_of_target[None, block])
        predictions[test, block] = test_transform @ (inverse * projected[:, block]) + target_mean[block]


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
        Bad ``alphas`` or ``chunk_size``.
    DataError
        Inputs of the wrong shape or non-finite, or folds that do not index the data,
        overlap, leave fewer than 2 training rows or do not test every sample once.
    """
    _check_chunk_size(chunk_size)
    X, Y, was_1d = _check_inputs(X, Y)
    alphas = _check_alphas(alphas)
    folds = _check_folds(folds, X.shape[0])

    # One conversion for all folds (no copy when already float64); each fold then gathers
    # its rows into one buffer reused across folds.
    X = X.astype(np.float64, copy=False)
    Y = Y.astype(np.float64, copy=False)
    n_targets = Y.shape[1]
    predictions = np.empty(Y.shape, dtype=np.float64)
    chosen = np.empty((len(folds), n_targets) if per_target_alpha else len(folds))
    buffer = np.empty((max(train.size + test.size for train, test in folds), X.shape[1]))
    for number, (train, test) in enumerate(folds):
        _fit_and_predict_fold(
            X, Y, alphas, train, test, buffer, per_target_alpha, standardize, chunk_size, predictions, chosen, number
        )

    if was_1d:
        predictions = predictions[:, 0]
    return (predictions, chosen) if return_alphas else predictions
