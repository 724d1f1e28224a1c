"""Cross-validated ridge in torch: the algorithm of :mod:`brainalign.ridge_loo` on a torch device.

The same float64 computation as the numpy backend (standardise each training fold, one
eigendecomposition per fold, closed-form leave-one-out error for every alpha, predictions of
the test rows) with torch tensors, so that it runs on a CUDA GPU when one is configured
(config keys ``ridge.backend: torch`` and ``ridge.device``). On the CPU it agrees with the
numpy backend to round-off (``tests/test_ridge_torch.py``: predictions within 1e-9 of the
largest prediction, the same alphas); the default workflow keeps the numpy backend, whose
tables are byte-identical run to run. Inputs arrive checked by
:func:`brainalign.ridge.cross_val_predict_ridge`, which is the only caller.

torch is imported by this module alone; the numpy backend never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray

from brainalign.errors import ConfigError
from brainalign.ridge import DEVICES


def resolve_device(device: str) -> torch.device:
    """The torch device of a ``ridge.device`` setting.

    Parameters
    ----------
    device : {"cpu", "cuda", "auto"}
        ``auto`` is the GPU when torch sees one, else the CPU.

    Raises
    ------
    ConfigError
        Unknown name, or ``cuda`` when torch sees no CUDA GPU.
    """
    if device not in DEVICES:
        raise ConfigError(f"config key ridge.device: unknown device {device!r}; use one of {list(DEVICES)}")
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(
            "config key ridge.device is 'cuda' but torch sees no CUDA GPU here "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); run the ridge jobs on a "
            "GPU node with a CUDA build of torch, or set ridge.device: auto (GPU when present) or cpu"
        )
    return torch.device("cuda")


def _clip_null_eigenvalues(eigenvalues: torch.Tensor) -> torch.Tensor:
    """Eigenvalues within round-off of 0 (or negative) set to exactly 0 (as the numpy core)."""
    tolerance = eigenvalues.numel() * torch.finfo(torch.float64).eps * max(float(eigenvalues.max()), 0.0)
    return torch.where(eigenvalues > tolerance, eigenvalues, torch.zeros_like(eigenvalues))


def _standardise(rows: torch.Tensor, standardize: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Standardise freshly gathered rows (n, p) in place; return them, the column mean and scale (p,).

    Zero-variance columns get scale 1; as in the numpy core, a column is only called constant
    when all its values are equal, not when its std is round-off. In place because a fold of
    500 x 10,000 voxels would otherwise allocate several 40 MB temporaries.
    """
    n_rows = rows.shape[0]
    mean = rows.sum(dim=0) / n_rows
    rows -= mean
    scale = torch.ones_like(mean)
    if standardize:
        scale = torch.linalg.vector_norm(rows, dim=0) / n_rows**0.5
        round_off = max(1e-8, 8 * n_rows * torch.finfo(torch.float64).eps)
        candidates = torch.nonzero(scale <= round_off * mean.abs()).flatten()
        if candidates.numel():
            block = rows[:, candidates]
            constant = candidates[block.amax(dim=0) == block.amin(dim=0)]
            scale[constant] = 1.0
        scale[scale == 0] = 1.0
        rows *= 1.0 / scale
    return rows, mean, scale


def _pooled_loo_errors_dual(
    eigenvectors: torch.Tensor, eigenvalues: torch.Tensor, targets: torch.Tensor, alphas: torch.Tensor, chunk_size: int
) -> NDArray[np.float64]:
    """Mean over targets of the squared LOO errors per alpha, dual form, shape (n_alphas,).

    ``eigenvectors`` (n, n) and ``eigenvalues`` (n,) of the training kernel, ``targets``
    (n, n_targets) centred. The formulas of
    :func:`brainalign.ridge_loo.pooled_loo_mean_squared_errors_dual`.
    """
    n_train, n_targets = targets.shape
    shrinkage = alphas[:, None] / (eigenvalues[None, :] + alphas[:, None])
    denominators = shrinkage @ (eigenvectors**2).T - 1.0 / n_train
    if n_targets < 2 * n_train:
        factor = eigenvectors.T @ targets
        if n_targets >= n_train:
            factor = factor @ factor.T
    else:
        gram = torch.zeros((n_train, n_train), dtype=targets.dtype, device=targets.device)
        for start in range(0, n_targets, chunk_size):
            block = targets[:, start : start + chunk_size]
            gram += block @ block.T
        factor = eigenvectors.T @ gram @ eigenvectors
    errors = np.empty(alphas.shape[0])
    degenerate = (denominators <= 0).any(dim=1).cpu().numpy()
    for index in range(alphas.shape[0]):
        if degenerate[index]:
            errors[index] = np.inf
            continue
        if n_targets < n_train:
            product = eigenvectors @ (shrinkage[index][:, None] * factor)
            squared = (product * product).sum(dim=1)
        else:
            scaled = eigenvectors * shrinkage[index]
            squared = ((scaled @ factor) * scaled).sum(dim=1)
        errors[index] = float((squared / denominators[index] ** 2).sum()) / (n_train * n_targets)
    return errors


def _loo_errors(
    basis: torch.Tensor,
    eigenvalues: torch.Tensor,
    dual: bool,
    projected: torch.Tensor,
    targets: torch.Tensor,
    alphas: torch.Tensor,
    chunk_size: int,
) -> NDArray[np.float64]:
    """Mean squared LOO error per alpha and target, shape (n_alphas, n_targets).

    ``basis`` (n, m): U in the dual form, ``X V`` in the primal form; ``projected`` (m, t) is
    ``basis.T @ targets``. The formulas of :class:`brainalign.ridge_loo.EigenBasis`.
    """
    n_train, n_targets = targets.shape
    squared_basis = basis**2
    errors = np.empty((alphas.shape[0], n_targets))
    for index in range(alphas.shape[0]):
        alpha = alphas[index]
        if dual:
            weights = alpha / (eigenvalues + alpha)
            denominators = squared_basis @ weights - 1.0 / n_train
        else:
            weights = 1.0 / (eigenvalues + alpha)
            denominators = 1.0 - 1.0 / n_train - squared_basis @ weights
        degenerate = bool((denominators <= 0).any())
        safe = torch.where(denominators <= 0, torch.ones_like(denominators), denominators)[:, None]
        for start in range(0, n_targets, chunk_size):
            block = slice(start, start + chunk_size)
            fitted_part = basis @ (weights[:, None] * projected[:, block])
            residuals = fitted_part if dual else targets[:, block] - fitted_part
            errors[index, block] = ((residuals / safe) ** 2).mean(dim=0).cpu().numpy()
        if degenerate:
            errors[index] = np.inf
    return errors


def cross_val_predict_torch(
    X: NDArray[np.float64],
    Y: NDArray[np.float64],
    alphas: NDArray[np.float64],
    folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]],
    *,
    per_target_alpha: bool,
    standardize: bool,
    chunk_size: int,
    device: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Out-of-fold ridge predictions and chosen alphas, computed with torch on ``device``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    Y : ndarray of shape (n_samples, n_targets), float64
    alphas : ndarray of shape (n_alphas,)
    folds : sequence of (train_idx, test_idx), already checked
    per_target_alpha, standardize, chunk_size
        As :func:`brainalign.ridge.cross_val_predict_ridge`.
    device : {"cpu", "cuda", "auto"}

    Returns
    -------
    predictions : ndarray of shape (n_samples, n_targets), float64
    chosen : ndarray of shape (n_folds,) or (n_folds, n_targets) with ``per_target_alpha``
    """
    where = resolve_device(device)
    inputs = torch.as_tensor(X, dtype=torch.float64, device=where)
    outputs = torch.as_tensor(Y, dtype=torch.float64, device=where)
    alpha_tensor = torch.as_tensor(alphas, dtype=torch.float64, device=where)
    n_targets = Y.shape[1]
    predictions = np.empty(Y.shape, dtype=np.float64)
    chosen = np.empty((len(folds), n_targets) if per_target_alpha else len(folds))
    with torch.inference_mode():
        for number, (train, test) in enumerate(folds):
            train_rows = torch.as_tensor(train, device=where)
            test_rows = torch.as_tensor(test, device=where)
            training, mean, scale = _standardise(inputs.index_select(0, train_rows), standardize)
            testing = inputs.index_select(0, test_rows).sub_(mean).mul_(1.0 / scale)
            dual = train.size <= X.shape[1]
            if dual:
                eigenvalues, basis = torch.linalg.eigh(training @ training.T)
                test_transform = (testing @ training.T) @ basis
            else:
                eigenvalues, feature_vectors = torch.linalg.eigh(training.T @ training)
                basis, test_transform = training @ feature_vectors, testing @ feature_vectors
            eigenvalues = _clip_null_eigenvalues(eigenvalues)
            targets = outputs.index_select(0, train_rows)
            target_mean = targets.sum(dim=0) / train.size
            targets = targets - target_mean

            if not per_target_alpha and dual:
                best = float(alphas[np.argmin(_pooled_loo_errors_dual(basis, eigenvalues, targets, alpha_tensor, chunk_size))])
                chosen[number] = best
                test_weights = (test_transform / (eigenvalues + best)) @ basis.T
                predictions[test] = (test_weights @ targets + target_mean).cpu().numpy()
                continue

            projected = basis.T @ targets
            errors = _loo_errors(basis, eigenvalues, dual, projected, targets, alpha_tensor, chunk_size)
            if per_target_alpha:
                alpha_of_target = alphas[np.argmin(errors, axis=0)]
            else:
                alpha_of_target = np.full(n_targets, alphas[np.argmin(errors.mean(axis=1))])
            chosen[number] = alpha_of_target if per_target_alpha else alpha_of_target[0]
            alpha_of_target_tensor = torch.as_tensor(alpha_of_target, dtype=torch.float64, device=where)
            for start in range(0, n_targets, chunk_size):
                block = slice(start, start + chunk_size)
                inverse = 1.0 / (eigenvalues[:, None] + alpha_of_target_tensor[None, block])
                fold_predictions = test_transform @ (inverse * projected[:, block]) + target_mean[block]
                predictions[test, block] = fold_predictions.cpu().numpy()
    return predictions, chosen
