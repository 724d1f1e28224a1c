"""Cross-validated ridge in torch: the algorithm of :mod:`brainalign.ridge_loo` on a torch device.

The same float64 computation as the numpy backend (centre per session and standardise each
training fold, one eigendecomposition per fold, closed-form leave-one-out or leave-one-group-out
error for every alpha on standardised targets, predictions of the test rows) with torch tensors, so that it runs on a CUDA GPU when one is configured
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
from brainalign.ridge_checks import DEVICES
from brainalign.ridge_groups import GroupBlocks, block_inverses, pooled_dual_squared_errors, squared_errors_per_target


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


def _standardise(
    rows: torch.Tensor, standardize: bool, codes: torch.Tensor | None = None, n_sessions: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Standardise freshly gathered rows (n, p) in place; return them, the column mean and scale (p,).

    With session ``codes`` (n,) each session is centred on its own mean and the mean returned
    is (n_sessions, p), as :func:`brainalign.ridge_loo.standardise_in_place`.

    Zero-variance columns get scale 1; as in the numpy core, a column is only called constant
    when all its values are equal, not when its std is round-off. In place because a fold of
    500 x 10,000 voxels would otherwise allocate several 40 MB temporaries.
    """
    n_rows = rows.shape[0]
    if codes is None:
        mean = rows.sum(dim=0) / n_rows
        rows -= mean
        level = mean.abs()
    else:
        mean = _session_means(rows, codes, n_sessions)
        rows -= mean[codes]
        level = mean.abs().amax(dim=0)
    scale = torch.ones_like(level)
    if standardize:
        scale = torch.linalg.vector_norm(rows, dim=0) / n_rows**0.5
        round_off = max(1e-8, 8 * n_rows * torch.finfo(torch.float64).eps)
        candidates = torch.nonzero(scale <= round_off * level).flatten()
        if candidates.numel():
            block = rows[:, candidates]
            constant = candidates[block.amax(dim=0) == block.amin(dim=0)]
            scale[constant] = 1.0
        scale[scale == 0] = 1.0
        rows *= 1.0 / scale
    return rows, mean, scale


def _pooled_loo_errors_dual(
    eigenvectors: torch.Tensor,
    eigenvalues: torch.Tensor,
    targets: torch.Tensor,
    alphas: torch.Tensor,
    chunk_size: int,
    inverse_scale: torch.Tensor | None,
    blocks: GroupBlocks | None,
    leverage: float | torch.Tensor,
) -> NDArray[np.float64]:
    """Mean over targets of the squared LOO errors per alpha, dual form, shape (n_alphas,).

    ``eigenvectors`` (n, n) and ``eigenvalues`` (n,) of the training kernel, ``targets``
    (n, n_targets) centred, ``inverse_scale`` (n_targets,) 1 / training std (or None),
    ``blocks`` the groups left out together (or None) and ``leverage`` the intercepts' hat
    diagonal (:class:`brainalign.ridge_loo.EigenBasis`). The formulas of
    :func:`brainalign.ridge_loo.pooled_loo_mean_squared_errors_dual`.
    """
    n_train, n_targets = targets.shape
    shrinkage = alphas[:, None] / (eigenvalues[None, :] + alphas[:, None])
    denominators = shrinkage @ (eigenvectors**2).T - leverage
    if n_targets < 2 * n_train:
        factor = eigenvectors.T @ targets
        if inverse_scale is not None:
            factor = factor * inverse_scale
        if n_targets >= n_train:
            factor = factor @ factor.T
    else:
        gram = torch.zeros((n_train, n_train), dtype=targets.dtype, device=targets.device)
        for start in range(0, n_targets, chunk_size):
            block = targets[:, start : start + chunk_size]
            if inverse_scale is not None:
                block = block * inverse_scale[start : start + chunk_size]
            gram += block @ block.T
        factor = eigenvectors.T @ gram @ eigenvectors
    errors = np.empty(alphas.shape[0])
    degenerate = (denominators <= 0).any(dim=1).cpu().numpy()
    gathered = None if blocks is None else eigenvectors[blocks.index]
    for index in range(alphas.shape[0]):
        if blocks is not None and n_targets >= n_train:
            total = pooled_dual_squared_errors(gathered, shrinkage[index], factor, blocks, torch)
            errors[index] = np.inf if total is None else float(total) / (n_train * n_targets)
            continue
        if blocks is not None:
            inverses = block_inverses(gathered, shrinkage[index], True, blocks, torch)
            if inverses is None:
                errors[index] = np.inf
                continue
        elif degenerate[index]:
            errors[index] = np.inf
            continue
        if n_targets < n_train:
            product = eigenvectors @ (shrinkage[index][:, None] * factor)
            if blocks is not None:
                total = squared_errors_per_target(product, inverses, blocks, torch).sum()
                errors[index] = float(total) / (n_train * n_targets)
                continue
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
    blocks: GroupBlocks | None,
    leverage: float | torch.Tensor,
) -> NDArray[np.float64]:
    """Mean squared LOO error per alpha and target, shape (n_alphas, n_targets).

    ``basis`` (n, m): U in the dual form, ``X V`` in the primal form; ``projected`` (m, t) is
    ``basis.T @ targets``; ``blocks`` the groups left out together (or None); ``leverage`` the
    intercepts' hat diagonal. The formulas of
    :class:`brainalign.ridge_loo.EigenBasis` and :func:`brainalign.ridge_loo.loo_mean_squared_errors`.
    """
    n_train, n_targets = targets.shape
    squared_basis = basis**2
    errors = np.empty((alphas.shape[0], n_targets))
    gathered = None if blocks is None else basis[blocks.index]
    for index in range(alphas.shape[0]):
        alpha = alphas[index]
        weights = alpha / (eigenvalues + alpha) if dual else 1.0 / (eigenvalues + alpha)
        if blocks is not None:
            inverses = block_inverses(gathered, weights, dual, blocks, torch)
            if inverses is None:
                errors[index] = np.inf
                continue
            for start in range(0, n_targets, chunk_size):
                block = slice(start, start + chunk_size)
                fitted_part = basis @ (weights[:, None] * projected[:, block])
                numerators = fitted_part if dual else targets[:, block] - fitted_part
                squared = squared_errors_per_target(numerators, inverses, blocks, torch)
                errors[index, block] = (squared / n_train).cpu().numpy()
            continue
        if dual:
            denominators = squared_basis @ weights - leverage
        else:
            denominators = 1.0 - leverage - squared_basis @ weights
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


def _session_means(values: torch.Tensor, codes: torch.Tensor, n_sessions: int) -> torch.Tensor:
    """Mean of each session's rows (n_sessions, n_columns), as :func:`brainalign.ridge_sessions.session_means`."""
    indicator = torch.zeros((n_sessions, codes.shape[0]), dtype=values.dtype, device=values.device)
    indicator[codes, torch.arange(codes.shape[0], device=values.device)] = 1.0
    counts = indicator.sum(dim=1).clamp(min=1.0)
    return (indicator @ values) / counts[:, None]


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
    standardize_targets: bool = True,
    groups: NDArray | None = None,
    sessions: tuple[NDArray[np.intp], int] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Out-of-fold ridge predictions and chosen alphas, computed with torch on ``device``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    Y : ndarray of shape (n_samples, n_targets), float64
    alphas : ndarray of shape (n_alphas,)
    folds : sequence of (train_idx, test_idx), already checked
    per_target_alpha, standardize, chunk_size, standardize_targets, groups, sessions
        As :func:`brainalign.ridge_folds.cross_val_predict_numpy`.
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
    codes = None if sessions is None else torch.as_tensor(sessions[0], device=where)
    n_targets = Y.shape[1]
    predictions = np.empty(Y.shape, dtype=np.float64)
    chosen = np.empty((len(folds), n_targets) if per_target_alpha else len(folds))
    with torch.inference_mode():
        for number, (train, test) in enumerate(folds):
            train_rows = torch.as_tensor(train, device=where)
            test_rows = torch.as_tensor(test, device=where)
            training = inputs.index_select(0, train_rows)
            testing = inputs.index_select(0, test_rows)
            targets = outputs.index_select(0, train_rows)
            leverage = 1.0 / train.size
            if codes is None:
                training, mean, scale = _standardise(training, standardize)
                testing = testing.sub_(mean).mul_(1.0 / scale)
            else:
                train_codes, test_codes = codes[train_rows], codes[test_rows]
                # One unpenalised intercept per session (see brainalign.ridge_folds).
                leverage = 1.0 / torch.bincount(train_codes, minlength=sessions[1])[train_codes].to(torch.float64)
                training, mean, scale = _standardise(training, standardize, train_codes, sessions[1])
                testing = testing.sub_(mean[test_codes]).mul_(1.0 / scale)
                targets -= _session_means(targets, train_codes, sessions[1])[train_codes]
            dual = train.size <= X.shape[1]
            if dual:
                eigenvalues, basis = torch.linalg.eigh(training @ training.T)
                test_transform = (testing @ training.T) @ basis
            else:
                eigenvalues, feature_vectors = torch.linalg.eigh(training.T @ training)
                basis, test_transform = training @ feature_vectors, testing @ feature_vectors
            eigenvalues = _clip_null_eigenvalues(eigenvalues)
            if codes is None:
                target_mean = targets.sum(dim=0) / train.size
                targets = targets - target_mean
            else:  # centred per session: mean 0, and the session means are not added back
                target_mean = torch.zeros(n_targets, dtype=torch.float64, device=where)
            blocks = None if groups is None else GroupBlocks.from_labels(
                groups[train], None if sessions is None else sessions[0][train]
            )
            if blocks is not None:
                blocks = blocks.converted(lambda array: torch.as_tensor(array, device=where))
            inverse_scale = None
            if standardize_targets and not per_target_alpha:
                scale_of_targets = torch.linalg.vector_norm(targets, dim=0) / train.size**0.5
                inverse_scale = 1.0 / torch.where(scale_of_targets == 0, torch.ones_like(scale_of_targets), scale_of_targets)

            if not per_target_alpha and dual:
                errors = _pooled_loo_errors_dual(
                    basis, eigenvalues, targets, alpha_tensor, chunk_size, inverse_scale, blocks, leverage
                )
                best = float(alphas[np.argmin(errors)])
                chosen[number] = best
                test_weights = (test_transform / (eigenvalues + best)) @ basis.T
                predictions[test] = (test_weights @ targets + target_mean).cpu().numpy()
                continue

            projected = basis.T @ targets
            errors = _loo_errors(basis, eigenvalues, dual, projected, targets, alpha_tensor, chunk_size, blocks, leverage)
            if per_target_alpha:
                alpha_of_target = alphas[np.argmin(errors, axis=0)]
            else:
                if inverse_scale is not None:
                    errors = errors * (inverse_scale**2).cpu().numpy()
                alpha_of_target = np.full(n_targets, alphas[np.argmin(errors.mean(axis=1))])
            chosen[number] = alpha_of_target if per_target_alpha else alpha_of_target[0]
            alpha_of_target_tensor = torch.as_tensor(alpha_of_target, dtype=torch.float64, device=where)
            for start in range(0, n_targets, chunk_size):
                block = slice(start, start + chunk_size)
                inverse = 1.0 / (eigenvalues[:, None] + alpha_of_target_tensor[None, block])
                fold_predictions = test_transform @ (inverse * projected[:, block]) + target_mean[block]
                predictions[test, block] = fold_predictions.cpu().numpy()
    return predictions, chosen
