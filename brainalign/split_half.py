"""Split-half reliability of repeated presentations: the building blocks of the split-half noise
ceiling (:func:`brainalign.ceilings.split_half_ceilings`; ``docs/ceilings.md``).

Per repeated stimulus, presentations 1, 3, ... (acquisition order) form half A and 2, 4, ...
half B. Per voxel the A-B correlation over stimuli is Spearman-Brown corrected to the number
of presentations the analysed matrix averages per stimulus; the ROI's encoding Pearson r
ceiling is the mean over voxels of the signed square root of that reliability, and its 2v2
ceiling the 2v2 between the halves. CIs: percentile bootstrap over the repeated stimuli,
vectorised over resamples (weighted moments, one matrix product per statistic).
"""

from __future__ import annotations

import numpy as np

from brainalign.errors import DataError
from brainalign.metrics import pair_outcomes, similarity_matrix
from brainalign.pearson_stats import correlation_from_moments
from brainalign.stats import bootstrap_counts, bootstrap_two_vs_two, percentile_interval


def spearman_brown(reliability: np.ndarray, factor: float) -> np.ndarray:
    """Reliability of the mean of ``factor`` times as many presentations: ``f r / (1 + (f - 1) r)``.

    ``reliability`` is clipped to [-1, 1] first; the result too.
    """
    r = np.clip(np.asarray(reliability, dtype=np.float64), -1.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corrected = factor * r / (1.0 + (factor - 1.0) * r)
    return np.clip(np.nan_to_num(corrected, nan=0.0), -1.0, 1.0)


def split_halves(stimulus_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Averaging weights of the two halves of every repeated stimulus.

    Parameters
    ----------
    stimulus_index : ndarray of int, shape (P,)
        The stimulus of each presentation, in acquisition order.

    Returns
    -------
    stimuli : ndarray of int, shape (m,)
        The repeated stimuli, sorted.
    half_a, half_b : ndarray, shape (m, P)
        Row i averages the odd-numbered (1st, 3rd, ...) / even-numbered presentations of
        stimulus ``stimuli[i]``: ``half_a @ responses`` is half A's (m, n_voxels) mean.
    """
    stimulus_index = np.asarray(stimulus_index)
    stimuli = np.unique(stimulus_index)
    row = np.searchsorted(stimuli, stimulus_index)
    # Rank of each presentation among its stimulus' presentations (0, 1, 2, ...).
    order = np.argsort(row, kind="stable")
    starts = np.searchsorted(row[order], np.arange(stimuli.size))
    rank = np.empty_like(row)
    rank[order] = np.arange(row.size) - starts[row[order]]
    halves = []
    for parity in (0, 1):
        weights = np.zeros((stimuli.size, row.size))
        chosen = rank % 2 == parity
        weights[row[chosen], np.flatnonzero(chosen)] = 1.0
        halves.append(weights / weights.sum(axis=1, keepdims=True))
    return stimuli, halves[0], halves[1]


def _weighted_correlations(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-column Pearson r of a and b (m, v) under row weights (B, m) summing to 1: (B, v)."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    return correlation_from_moments(weights @ a, weights @ b, weights @ (a * b), weights @ (a * a), weights @ (b * b))


def split_half_roi(
    presentations: np.ndarray,
    stimulus_index: np.ndarray,
    analysis: np.ndarray,
    *,
    distance: str,
    n_bootstrap: int,
    level: float,
    rng: np.random.Generator,
) -> dict[str, tuple[float, float, float]]:
    """Split-half ceilings of one ROI.

    Parameters
    ----------
    presentations : ndarray, shape (P, n_voxels)
        Individual presentations of the repeated stimuli.
    stimulus_index : ndarray of int, shape (P,)
        Row of ``analysis`` each presentation showed.
    analysis : ndarray, shape (n_stimuli, n_voxels)
        The averaged matrix the models are scored on (every stimulus, repeated or not).
    distance : str
        2v2 similarity (config ``ridge.distance``).
    n_bootstrap : int
        Resamples of images (0: NaN CIs).
    level : float
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``{"pearson_r": (ceiling, ci_low, ci_high), "2v2": (...)}``.
    """
    stimuli, weights_a, weights_b = split_halves(stimulus_index)
    if stimuli.size < 3:
        raise DataError(f"a split-half ceiling needs at least 3 repeated stimuli, found {stimuli.size}.")
    presentations = np.asarray(presentations, dtype=np.float64)
    half_a, half_b = weights_a @ presentations, weights_b @ presentations
    per_stimulus = np.bincount(stimulus_index, minlength=analysis.shape[0]).astype(np.float64)
    per_stimulus[per_stimulus == 0] = 1.0  # stimuli shown once
    analysed = 1.0 / np.mean(1.0 / per_stimulus)  # harmonic mean of presentations per analysed stimulus
    per_half = 1.0 / np.sqrt(np.mean(1.0 / (weights_a > 0).sum(axis=1)) * np.mean(1.0 / (weights_b > 0).sum(axis=1)))
    factor = analysed / per_half
    m = stimuli.size
    counts = np.vstack([np.ones((1, m)), bootstrap_counts(rng, m, n_bootstrap)]) / m
    reliability = spearman_brown(_weighted_correlations(half_a, half_b, counts), factor)
    pearson = (np.sign(reliability) * np.sqrt(np.abs(reliability))).mean(axis=1)

    mean = analysis.mean(axis=0, dtype=np.float64)
    std = analysis.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0
    outcomes = pair_outcomes(similarity_matrix((half_a - mean) / std, (half_b - mean) / std, distance))
    two_vs_two = float(np.count_nonzero(outcomes) / (m * (m - 1)))
    if n_bootstrap > 0:
        two_low, two_high = bootstrap_two_vs_two(outcomes, n_resamples=n_bootstrap, level=level, rng=rng)
    else:
        two_low = two_high = float("nan")
    return {"pearson_r": (float(pearson[0]), *percentile_interval(pearson[1:], level)), "2v2": (two_vs_two, two_low, two_high)}
