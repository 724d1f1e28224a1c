"""The torch ridge backend equals the numpy backend on the CPU; backend and device selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.errors import ConfigError
from brainalign.ridge import check_backend, cross_val_predict_ridge, grouped_folds
from brainalign.ridge_torch import resolve_device

# Round-off only: both compute in float64 (numpy's OpenBLAS vs torch's own BLAS/LAPACK);
# measured up to 4e-15 of the largest prediction on the CPU. A GPU's eigensolver and
# summation order differ more, hence a looser bound there (untested on a GPU so far).
RELATIVE_TOLERANCE = 1e-12
CUDA_RELATIVE_TOLERANCE = 1e-9

# (n_samples, n_features, n_targets), 5 folds: decoding-like (dual form, many inputs, fewer
# targets than training rows), encoding-like (dual form, more than twice as many targets as
# training rows: the Y Y^T path), in between (the R R^T path), and the primal form (more
# training rows than features).
PROBLEMS = {
    "decoding dual": (60, 300, 12),
    "encoding dual, t > 2n": (40, 60, 200),
    "dual, n <= t < 2n": (40, 60, 45),
    "primal n>p": (120, 15, 6),
}


def _problem(n_samples, n_features, n_targets, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_samples, 5))
    X = latent @ rng.standard_normal((5, n_features)) + rng.standard_normal((n_samples, n_features))
    X = X * rng.uniform(0.1, 10, n_features) + rng.uniform(-5, 5, n_features)
    Y = latent @ rng.standard_normal((5, n_targets)) + 0.7 * rng.standard_normal((n_samples, n_targets)) + 2.0
    X[:, 3] = 0.1  # a constant column: scale 1, as in the numpy backend
    return X, Y, np.arange(n_samples) // 4


@pytest.mark.parametrize("shape", PROBLEMS.values(), ids=PROBLEMS.keys())
@pytest.mark.parametrize("per_target_alpha", [False, True], ids=["one alpha", "per target"])
def test_torch_on_cpu_equals_numpy(shape, per_target_alpha):
    X, Y, groups = _problem(*shape)
    folds = grouped_folds(groups, 5, seed=2)
    alphas = np.logspace(-2, 5, 8)
    kwargs = {"per_target_alpha": per_target_alpha, "return_alphas": True, "chunk_size": 7}
    expected, expected_alphas = cross_val_predict_ridge(X, Y, alphas, folds, **kwargs)
    predicted, chosen = cross_val_predict_ridge(X, Y, alphas, folds, backend="torch", device="cpu", **kwargs)
    np.testing.assert_array_equal(chosen, expected_alphas)
    if per_target_alpha:  # not a trivial agreement: the targets chose different alphas
        assert np.unique(expected_alphas).size > 1
    assert predicted.dtype == np.float64 and predicted.shape == Y.shape
    np.testing.assert_allclose(predicted, expected, rtol=0, atol=RELATIVE_TOLERANCE * np.abs(expected).max())


@pytest.mark.parametrize("shape", PROBLEMS.values(), ids=PROBLEMS.keys())
@pytest.mark.parametrize("per_target_alpha", [False, True], ids=["one alpha", "per target"])
@pytest.mark.parametrize("option", ["groups and sessions", "centred targets"])
def test_torch_on_cpu_equals_numpy_with_groups_sessions_and_target_scaling(shape, per_target_alpha, option):
    X, Y, groups = _problem(*shape, seed=1)
    Y[:, 0] *= 100.0  # a target scale that the standardised choice must ignore
    sessions = np.where(groups < groups.max() // 2, "exp2", "exp3")
    X[sessions == "exp3"] += 3.0  # a session offset to remove
    folds = grouped_folds(groups, 5, seed=2)
    alphas = np.logspace(-2, 5, 8)
    kwargs = {"per_target_alpha": per_target_alpha, "return_alphas": True, "chunk_size": 7}
    if option == "groups and sessions":
        kwargs.update(groups=groups, sessions=sessions)
    else:
        kwargs.update(standardize_targets=False)
    expected, expected_alphas = cross_val_predict_ridge(X, Y, alphas, folds, **kwargs)
    predicted, chosen = cross_val_predict_ridge(X, Y, alphas, folds, backend="torch", device="cpu", **kwargs)
    np.testing.assert_array_equal(chosen, expected_alphas)
    np.testing.assert_allclose(predicted, expected, rtol=0, atol=RELATIVE_TOLERANCE * np.abs(expected).max())


def test_torch_backend_keeps_a_one_dimensional_target_and_float32_input():
    X, Y, groups = _problem(40, 80, 1)
    folds = grouped_folds(groups, 4)
    expected = cross_val_predict_ridge(X.astype(np.float32), Y[:, 0], [1.0, 100.0], folds)
    predicted = cross_val_predict_ridge(X.astype(np.float32), Y[:, 0], [1.0, 100.0], folds, backend="torch")
    assert predicted.shape == (40,)
    np.testing.assert_allclose(predicted, expected, rtol=0, atol=RELATIVE_TOLERANCE * np.abs(expected).max())


def test_ridge_settings_carry_and_check_backend_and_device():
    from brainalign.alignment import RidgeSettings

    settings = RidgeSettings(alphas=(1.0, 10.0), backend="torch", device="cpu")
    assert (settings.backend, settings.device) == ("torch", "cpu")
    with pytest.raises(ConfigError, match="ridge.backend"):
        RidgeSettings(alphas=(1.0,), backend="jax")
    with pytest.raises(ConfigError, match="ridge.device"):
        RidgeSettings(alphas=(1.0,), device="cuda")  # numpy runs on the CPU only


def test_backend_and_device_selection():
    check_backend("numpy", "auto")
    check_backend("numpy", "cpu")
    check_backend("torch", "cuda")  # presence of a GPU is checked where the job runs
    for backend, device, key in (("jax", "cpu", "ridge.backend"), ("torch", "tpu", "ridge.device")):
        with pytest.raises(ConfigError, match=key):
            check_backend(backend, device)
    with pytest.raises(ConfigError, match="ridge.backend: torch"):
        check_backend("numpy", "cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_requested_without_a_gpu_is_a_config_error():
    X, Y, groups = _problem(20, 30, 2)
    with pytest.raises(ConfigError, match="ridge.device is 'cuda'.*no CUDA GPU"):
        cross_val_predict_ridge(X, Y, [1.0], grouped_folds(groups, 3), backend="torch", device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_torch_on_cuda_equals_numpy():
    X, Y, groups = _problem(*PROBLEMS["decoding dual"])
    folds = grouped_folds(groups, 5, seed=2)
    expected = cross_val_predict_ridge(X, Y, np.logspace(-2, 5, 8), folds)
    predicted = cross_val_predict_ridge(X, Y, np.logspace(-2, 5, 8), folds, backend="torch", device="cuda")
    np.testing.assert_allclose(predicted, expected, rtol=0, atol=CUDA_RELATIVE_TOLERANCE * np.abs(expected).max())
