"""Input checks of :mod:`brainalign.ridge`: backend and device, alphas, data, folds, labels.

Each bad input is one clear :class:`~brainalign.errors.ConfigError` or
:class:`~brainalign.errors.DataError` naming the argument (or config key) and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.errors import ConfigError, DataError

Fold = tuple[NDArray[np.intp], NDArray[np.intp]]

# Config key ridge.backend: numpy (the default; byte-identical tables run to run) or torch
# (on ridge.device: cpu, cuda or auto = cuda when torch sees a GPU).
BACKENDS = ("numpy", "torch")
DEVICES = ("cpu", "cuda", "auto")


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


def check_chunk_size(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive integer; got {chunk_size!r}")


def check_alphas(alphas: ArrayLike) -> NDArray[np.float64]:
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ConfigError(f"alphas must be a non-empty 1-D sequence of positive numbers; got shape {alphas.shape}")
    if not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ConfigError(f"alphas must be finite and > 0; got {alphas.tolist()}")
    return alphas


def all_finite(matrix: NDArray) -> bool:
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


def check_inputs(X: ArrayLike, Y: ArrayLike) -> tuple[NDArray, NDArray, bool]:
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
        if not np.issubdtype(matrix.dtype, np.number) or not all_finite(matrix):
            raise DataError(f"{name} must hold finite numbers (no NaN or inf)")
    was_1d = Y.ndim == 1
    return X, (Y[:, None] if was_1d else Y), was_1d


def check_folds(folds: Sequence[Fold], n_samples: int, *, cover: bool = True) -> list[Fold]:
    """Check that the folds index the data, never overlap train/test and (``cover``) test each sample once."""
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
    if cover and np.any(times_tested != 1):
        bad = np.flatnonzero(times_tested != 1)
        raise DataError(
            f"the test sets must cover every sample exactly once to give out-of-fold predictions; "
            f"{bad.size} samples are tested 0 or several times (first: {bad[:5].tolist()})"
        )
    return checked


def check_labels(labels: ArrayLike | None, n_samples: int, name: str) -> NDArray | None:
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (n_samples,):
        raise DataError(f"{name} must hold one label per sample, shape ({n_samples},); got shape {labels.shape}")
    return labels
