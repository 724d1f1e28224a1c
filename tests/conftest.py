"""Shared test set-up: never reach a model hub, keep BLAS single-threaded for stable timings."""

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _planted_session_offset(seed, n_passages=60, per_passage=4, n_voxels=60, n_dims=24):
    """Voxels and features that share nothing but a per-session offset.

    Features are low-rank (4 latent factors) with three high-variance ("rogue") dimensions;
    voxels carry passage-level drift. Experiment 3 (the last 24 passages) shifts both the
    voxels and the features (mostly along the rogue dimensions) by a session offset: the only
    thing a decoder could learn.

    Returns
    -------
    voxels (n, n_voxels), features (n, n_dims), groups (n,), sessions (n,)
    """
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_passages), per_passage)
    sessions = np.where(groups < n_passages - 24, "exp2", "exp3")
    in_exp3 = (sessions == "exp3")[:, None]
    features = rng.standard_normal((groups.size, 4)) @ rng.standard_normal((4, n_dims))
    features += 0.3 * rng.standard_normal(features.shape)
    features[:, :3] *= 10.0
    features += in_exp3 * rng.standard_normal(n_dims) * np.r_[10.0, 10.0, 10.0, np.ones(n_dims - 3)]
    drift = rng.standard_normal((n_passages, n_voxels))[groups]
    voxels = rng.standard_normal((groups.size, n_voxels)) + drift + in_exp3 * 1.5 * rng.standard_normal(n_voxels)
    return voxels, features, groups, sessions


@pytest.fixture
def planted_session_offset():
    """:func:`_planted_session_offset`: a structured null whose only shared part is a session offset."""
    return _planted_session_offset
