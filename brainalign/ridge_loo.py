"""The numpy core of :mod:`brainalign.ridge`: standardisation, one eigendecomposition per
training fold and closed-form leave-one-out errors for every alpha (single rows here, whole
groups with :mod:`brainalign.ridge_groups`); :mod:`brainalign.ridge_folds` runs the folds.

Dual form (n_train <= n_features): eigendecomposition of the kernel ``K = X X^T``; primal form
(n_train > n_features): of ``X^T X``. With the hat matrix ``H`` of ridge with an unpenalised
intercept the LOO residuals are ``e = (y - H y) / (1 - diag(H))``. Everything is float64 and
deterministic; :mod:`brainalign.ridge_torch` is the same algorithm in torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from brainalign.ridge_groups import GroupBlocks, block_inverses, pooled_dual_squared_errors, squared_errors_per_target
from brainalign.ridge_sessions import session_means, subtract_session_means


def clip_null_eigenvalues(eigenvalues: NDArray[np.float64]) -> NDArray[np.float64]:
    """Set eigenvalues indistinguishable from 0 by round-off to exactly 0.

    The centred kernel always has the constant vector in its null space; eigh returns
    its eigenvalue as +-eps * lambda_max rather than 0. Left positive, it would turn the
    exact 1/n that the intercept's term cancels in 1 - diag(H) into 1/n * (1 - tiny/alpha),
    an error that grows like 1/alpha^2 in the LOO error of small alphas.
    """
    tolerance = eigenvalues.size * np.finfo(np.float64).eps * max(float(eigenvalues.max()), 0.0)
    return np.where(eigenvalues > tolerance, eigenvalues, 0.0)


@dataclass(frozen=True)
class EigenBasis:
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
    intercept_leverage : float or ndarray of shape (n_train,)
        Diagonal of the hat matrix of the unpenalised intercepts: ``1 / n_train`` for one
        intercept, ``1 / n_s`` (the training rows of the row's session) for one intercept per
        session, which is what centring inputs and targets per session fits
        (:mod:`brainalign.ridge_sessions`). The intercepts are refitted by every left-out row
        or group, so the centring leaks nothing into the LOO error.
    """

    form: Literal["dual", "primal"]
    basis: NDArray[np.float64]
    eigenvalues: NDArray[np.float64]
    training_inputs: NDArray[np.float64] | None = None
    feature_eigenvectors: NDArray[np.float64] | None = None
    intercept_leverage: float | NDArray[np.float64] = 0.0

    @classmethod
    def from_training(
        cls,
        inputs: NDArray[np.float64],
        kernel: NDArray[np.float64] | None = None,
        intercept_leverage: NDArray[np.float64] | None = None,
    ) -> EigenBasis:
        """Decompose standardised training inputs of shape (n_train, n_features).

        ``kernel``, if given, is ``inputs @ inputs.T`` already computed (dual form only).
        ``intercept_leverage`` (n_train,) is given with per-session intercepts; default
        ``1 / n_train``.
        """
        n_train, n_features = inputs.shape
        leverage = 1.0 / n_train if intercept_leverage is None else intercept_leverage
        if n_train <= n_features:
            eigenvalues, eigenvectors = np.linalg.eigh(inputs @ inputs.T if kernel is None else kernel)
            return cls(
                "dual", eigenvectors, clip_null_eigenvalues(eigenvalues), training_inputs=inputs,
                intercept_leverage=leverage,
            )
        eigenvalues, eigenvectors = np.linalg.eigh(inputs.T @ inputs)
        return cls(
            "primal", inputs @ eigenvectors, clip_null_eigenvalues(eigenvalues), feature_eigenvectors=eigenvectors,
            intercept_leverage=leverage,
        )

    def transform(self, new_inputs: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map standardised new rows (n_new, n_features) to (n_new, m) for prediction."""
        if self.form == "dual":
            return (new_inputs @ self.training_inputs.T) @ self.basis
        return new_inputs @ self.feature_eigenvectors

    def group_inverses(
        self, alpha: float, gathered: NDArray[np.float64], blocks: GroupBlocks
    ) -> NDArray[np.float64] | None:
        """``(I - H_gg)^-1`` of every group (n_groups, size, size), or None when the model
        interpolates a group (:func:`brainalign.ridge_groups.block_inverses`).

        ``gathered`` is ``basis[blocks.index]``.
        """
        dual = self.form == "dual"
        weights = alpha / (self.eigenvalues + alpha) if dual else 1.0 / (self.eigenvalues + alpha)
        return block_inverses(gathered, weights, dual, blocks, np)

    def loo_residual_denominators(self, alpha: float) -> NDArray[np.float64]:
        """``1 - diag(H)`` of the model with unpenalised intercept(s), shape (n_train,).

        The intercept adds ``1/n`` (per session: ``1/n_s``) to every diagonal entry of the
        hat matrix of the centred problem (the centred columns are orthogonal to the
        constant, or to each session's indicator).
        """
        if self.form == "dual":
            # U is complete (rows of unit norm), so 1 - diag(U diag(s/(s+a)) U^T) equals
            # U^2 @ (a/(s+a)): no cancellation between 1 and a number close to 1.
            return (self.basis**2) @ (alpha / (self.eigenvalues + alpha)) - self.intercept_leverage
        return 1.0 - self.intercept_leverage - (self.basis**2) @ (1.0 / (self.eigenvalues + alpha))

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


def loo_mean_squared_errors(
    basis: EigenBasis,
    projected: NDArray[np.float64],
    centred_targets: NDArray[np.float64],
    alphas: NDArray[np.float64],
    chunk_size: int,
    blocks: GroupBlocks | None = None,
) -> NDArray[np.float64]:
    """Mean squared LOO error per alpha and target, shape (n_alphas, n_targets).

    With ``blocks`` (:class:`brainalign.ridge_groups.GroupBlocks` of the training rows) whole
    groups are left out instead of single rows.
    """
    n_train, n_targets = centred_targets.shape
    errors = np.empty((alphas.size, n_targets))
    gathered = None if blocks is None else basis.basis[blocks.index]
    for index, alpha in enumerate(alphas):
        if blocks is not None:
            inverses = basis.group_inverses(alpha, gathered, blocks)
            if inverses is None:
                errors[index] = np.inf
                continue
            for start in range(0, n_targets, chunk_size):
                block = slice(start, start + chunk_size)
                numerators = basis.loo_residuals(alpha, projected[:, block], centred_targets[:, block])
                errors[index, block] = squared_errors_per_target(numerators, inverses, blocks, np)
            errors[index] /= n_train
            continue
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


def pooled_loo_mean_squared_errors_dual(
    basis: EigenBasis,
    centred_targets: NDArray[np.float64],
    alphas: NDArray[np.float64],
    chunk_size: int,
    target_scale: NDArray[np.float64] | None = None,
    blocks: GroupBlocks | None = None,
) -> NDArray[np.float64]:
    """Mean over all targets of the squared LOO errors, per alpha, in the dual form.

    The sum over targets of the squared numerators of sample i is
    ``[U F G F U^T]_ii`` with ``F = diag(a/(s+a))`` and ``G = U^T (Y Y^T) U`` (n x n).
    ``Y Y^T`` costs one n^2 x n_targets product; after it every alpha costs n^3
    instead of n^2 x n_targets, a large saving for many targets (e.g. 50,000 voxels).
    With fewer targets than training rows the row norms of ``U F R``, ``R = U^T Y``
    (n x n_targets), give the same sums for n^2 x n_targets per alpha. With groups, the
    diagonal (size x size) blocks of the same matrices replace the diagonal
    (:mod:`brainalign.ridge_groups`).

    Parameters
    ----------
    basis : EigenBasis
        Dual form.
    centred_targets : ndarray of shape (n_train, n_targets)
    alphas : ndarray of shape (n_alphas,)
    chunk_size : int
        Targets per block of the ``Y Y^T`` accumulation.
    target_scale : ndarray of shape (n_targets,), optional
        Errors of target j are those of ``Y[:, j] / target_scale[j]`` (the training-fold
        standard deviation: the choice is then that on standardised targets).
    blocks : GroupBlocks, optional
        Leave whole groups out instead of single rows.

    Returns
    -------
    ndarray of shape (n_alphas,)
    """
    n_train, n_targets = centred_targets.shape
    eigenvectors = basis.basis
    inverse_scale = None if target_scale is None else 1.0 / target_scale
    # shrinkage[a, k] = alpha_a / (s_k + alpha_a): the diagonal of F for every alpha.
    shrinkage = alphas[:, None] / (basis.eigenvalues[None, :] + alphas[:, None])
    # 1 - diag(H) for every alpha at once, as in loo_residual_denominators (single-row LOO).
    denominators = None if blocks is not None else shrinkage @ (eigenvectors**2).T - basis.intercept_leverage
    if n_targets < 2 * n_train:
        # R = U^T Y, then (with more targets than rows) G = R R^T: n^2 t + n^2 t / 2
        # multiply-adds against n^2 t / 2 + 2 n^3 for U^T (Y Y^T) U.
        factor = eigenvectors.T @ centred_targets
        if inverse_scale is not None:
            factor *= inverse_scale
        if n_targets >= n_train:
            factor = factor @ factor.T
    else:
        target_gram = np.zeros((n_train, n_train))
        for start in range(0, n_targets, chunk_size):
            columns = slice(start, start + chunk_size)
            block = (
                np.ascontiguousarray(centred_targets[:, columns])
                if inverse_scale is None
                else centred_targets[:, columns] * inverse_scale[columns]
            )
            target_gram += block @ block.T
        factor = eigenvectors.T @ target_gram @ eigenvectors
    gathered = None if blocks is None else eigenvectors[blocks.index]
    scaled_basis = np.empty_like(eigenvectors)
    product = np.empty((n_train, factor.shape[1]))
    errors = np.empty(alphas.size)
    for index in range(alphas.size):
        if blocks is not None and n_targets >= n_train:
            total = pooled_dual_squared_errors(gathered, shrinkage[index], factor, blocks, np)
            errors[index] = np.inf if total is None else total / (n_train * n_targets)
            continue
        if blocks is not None:
            inverses = block_inverses(gathered, shrinkage[index], True, blocks, np)
            if inverses is None:
                errors[index] = np.inf
                continue
        elif np.any(denominators[index] <= 0):
            errors[index] = np.inf
            continue
        if n_targets < n_train:
            # Numerators U F R; their squared row norms are the per-sample sums.
            np.matmul(eigenvectors, shrinkage[index][:, None] * factor, out=product)
            if blocks is not None:
                total = squared_errors_per_target(product, inverses, blocks, np).sum()
                errors[index] = total / (n_train * n_targets)
                continue
            squared_numerators = np.einsum("ij,ij->i", product, product)
        else:
            np.multiply(eigenvectors, shrinkage[index], out=scaled_basis)
            np.matmul(scaled_basis, factor, out=product)
            squared_numerators = np.einsum("ik,ik->i", product, scaled_basis)
        errors[index] = np.sum(squared_numerators / denominators[index] ** 2) / (n_train * n_targets)
    return errors


def standardise_in_place(
    inputs: NDArray[np.float64],
    standardize: bool,
    source: tuple[NDArray, NDArray[np.intp]] | None = None,
    sessions: tuple[NDArray[np.intp], int] | None = None,
) -> tuple[NDArray, NDArray]:
    """Centre (per session) and scale the columns of ``inputs`` in place; return the means and scale.

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
    sessions : (codes, n_sessions), optional
        Session code of each row (n_train,): centre each session's rows on their own mean
        (:mod:`brainalign.ridge_sessions`), in the same passes as the plain centring.

    Returns
    -------
    mean : ndarray of shape (n_features,), or (n_sessions, n_features) with ``sessions``
    scale : ndarray of shape (n_features,)
        Apply to new rows as ``(x - mean) / scale`` (with sessions: the row's session mean).
        Zero-variance columns (after centring) get scale 1.
    """
    if source is not None:
        # The caller checked the indices, so "clip" never clips; unlike the default
        # "raise" it lets take write straight into the buffer.
        np.take(source[0], source[1], axis=0, out=inputs, mode="clip")
    if sessions is None:
        # Column sums as a BLAS matrix-vector product: several times faster than
        # inputs.mean(axis=0), and as accurate (both accumulate the rows in sequence).
        mean = (np.ones(inputs.shape[0]) @ inputs) / inputs.shape[0]
        inputs -= mean
        level = np.abs(mean)
    else:
        mean = session_means(inputs, *sessions)
        subtract_session_means(inputs, sessions[0], mean)
        level = np.abs(mean).max(axis=0)
    scale = np.ones(inputs.shape[1])
    if standardize:
        scale = np.sqrt(np.einsum("ij,ij->j", inputs, inputs) / inputs.shape[0])
        # A constant column is (about) zero once centred; scale 1 keeps it so. Constancy
        # is tested exactly: the std of e.g. a column of 0.1 is round-off (~1e-17), not
        # 0, and dividing by it would blow round-off up into a unit-variance column.
        # Only a column whose std is at round-off level of its mean can be constant (the
        # computed mean of a constant column c is within n * eps * |c| of c), so the
        # exact test, a full pass over the data, runs on those columns alone.
        round_off = max(1e-8, 8 * inputs.shape[0] * np.finfo(np.float64).eps)
        candidates = np.flatnonzero(scale <= round_off * level)
        if candidates.size:
            constant = candidates[np.ptp(inputs[:, candidates], axis=0) == 0]
            scale[constant] = 1.0
        scale[scale == 0] = 1.0
        # Multiplying by the reciprocal (within an ulp of dividing) is about twice as fast.
        inputs *= 1.0 / scale
    return mean, scale


def standardise_new_rows(
    out: NDArray[np.float64],
    source: NDArray[np.float64],
    rows: NDArray[np.intp],
    mean: NDArray,
    scale: NDArray,
    codes: NDArray[np.intp] | None = None,
) -> NDArray[np.float64]:
    """Write ``(source[rows] - mean) / scale`` into ``out`` and return it (rows already checked).

    With ``codes`` (the rows' session codes), ``mean`` is (n_sessions, n_features) and each row
    gets its session's mean.
    """
    np.take(source, rows, axis=0, out=out, mode="clip")
    if codes is None:
        out -= mean
    else:
        subtract_session_means(out, codes, mean)
    out *= 1.0 / scale
    return out
