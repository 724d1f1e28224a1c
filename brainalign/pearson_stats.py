"""Uncertainty of the mean Pearson r over columns (encoding): bootstrap CI and permutation p.

Both resample whole CV groups of stimuli (rows), like the 2v2 statistics in
:mod:`brainalign.stats` (:mod:`brainalign.resampling`), and are vectorised over resamples.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.resampling import group_bootstrap_weights, group_layout, group_permutations, group_row_sums
from brainalign.stats import resample_chunks, percentile_interval, permutation_p_value


def _standardised_columns(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Columns centred and scaled to unit (population) variance; constant columns become 0."""
    centred = matrix - matrix.mean(axis=0)
    scale = np.sqrt((centred**2).mean(axis=0))
    constant = np.ptp(matrix, axis=0) == 0
    scale[constant] = 1.0
    centred[:, constant] = 0.0
    return centred / scale


def permutation_mean_pearson(
    predicted: ArrayLike,
    actual: ArrayLike,
    *,
    n_permutations: int,
    rng: np.random.Generator,
    groups: ArrayLike | None = None,
    sessions: ArrayLike | None = None,
) -> tuple[float, float]:
    """One-sided permutation p-value of the mean over columns of Pearson r against 0.

    Whole groups of predicted rows are re-paired with whole groups of actual rows of the same
    stratum (:func:`brainalign.resampling.group_permutations`). Permuting rows does not change
    the column means and variances, so
    with column-standardised matrices and ``G = P A^T`` (n x n, computed once) a permuted
    mean r is ``sum_i G[i, perm[i]] / (n * n_columns)``. The models that made ``predicted`` are
    not refitted: :mod:`brainalign.refit_null` has the exact test of cross-validated scores.

    Parameters
    ----------
    predicted, actual : array-like of shape (n_stimuli, n_columns)
    groups, sessions : array-like of shape (n_stimuli,), optional
        CV group and session of each stimulus (None: single stimuli, one session).

    Returns
    -------
    (observed, p) : tuple of float
        The observed mean r (constant columns count as r = 0, as in
        :func:`brainalign.metrics.pearson_per_column`) and its p-value.
    """
    n = np.asarray(predicted).shape[0]
    permutations = group_permutations(rng, group_layout(n, groups, sessions), n_permutations)
    observed, null = fixed_null_mean_pearson(predicted, actual, permutations)
    return observed, permutation_p_value(null, observed - 1e-12)


def fixed_null_mean_pearson(
    predicted: ArrayLike, actual: ArrayLike, permutations: NDArray[np.intp]
) -> tuple[float, NDArray[np.float64]]:
    """The mean Pearson r over columns and its values with the rows of ``actual`` permuted.

    Parameters
    ----------
    predicted, actual : array-like of shape (n_stimuli, n_columns)
    permutations : ndarray of int, shape (n_permutations, n_stimuli)
        Row b pairs predicted row i with actual row ``permutations[b, i]``.

    Returns
    -------
    observed : float
    null : ndarray of shape (n_permutations,)
    """
    predicted = _standardised_columns(np.asarray(predicted, dtype=np.float64))
    actual = _standardised_columns(np.asarray(actual, dtype=np.float64))
    n, columns = predicted.shape
    gram = predicted @ actual.T / (n * columns)
    null = np.empty(permutations.shape[0])
    rows = np.arange(n)
    for start, stop in resample_chunks(permutations.shape[0], n):
        null[start:stop] = gram[rows, permutations[start:stop]].sum(axis=1)
    return float(np.trace(gram)), null


def correlation_from_moments(
    mean_a: NDArray[np.float64],
    mean_b: NDArray[np.float64],
    mean_ab: NDArray[np.float64],
    mean_aa: NDArray[np.float64],
    mean_bb: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Pearson r from (weighted) first and second moments, elementwise; 0 where a variance vanishes.

    Each argument has the same shape, e.g. (n_resamples, n_columns) of resample-weighted means
    of a, b, a*b, a**2 and b**2.
    """
    covariance = mean_ab - mean_a * mean_b
    variance = np.maximum(mean_aa - mean_a**2, 0.0) * np.maximum(mean_bb - mean_b**2, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(variance > 1e-24, covariance / np.sqrt(np.where(variance > 0, variance, 1.0)), 0.0)


def bootstrap_mean_pearson(
    predicted: ArrayLike,
    actual: ArrayLike,
    *,
    n_resamples: int,
    level: float,
    rng: np.random.Generator,
    groups: ArrayLike | None = None,
    strata: ArrayLike | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over columns of Pearson r, resampling groups of rows.

    Each resample's per-column correlations come from weighted moments (one product of the
    group multiplicities with the group sums of the stacked columns), never a loop over
    resamples.

    Parameters
    ----------
    predicted, actual : array-like of shape (n_stimuli, n_columns)
    groups : array-like of shape (n_stimuli,), optional
        CV group of each stimulus; groups are drawn with replacement (None: single stimuli).
    strata : array-like of shape (n_stimuli,), optional
        Outer fold (or other stratum) of each stimulus, constant within groups: groups are
        drawn within each stratum, and r is computed within each stratum and averaged weighted
        by stratum size, as the encoding's within-fold r
        (:func:`brainalign.fold_pairs.standardise_within_folds`). None: one stratum.

    Returns
    -------
    (low, high) : tuple of float
    """
    if n_resamples < 1:
        return float("nan"), float("nan")
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    n, columns = predicted.shape
    labels = np.zeros(n, dtype=np.intp) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1]
    group_labels = np.arange(n) if groups is None else np.asarray(groups)
    stratum_rows = [np.flatnonzero(labels == stratum) for stratum in range(labels.max() + 1)]
    totals = np.zeros((n_resamples, columns))
    weights = np.zeros(n_resamples)
    for rows in stratum_rows:
        layout = group_layout(rows.size, group_labels[rows])
        stratum_predicted = predicted[rows] - predicted[rows].mean(axis=0)
        stratum_actual = actual[rows] - actual[rows].mean(axis=0)
        stacked = np.hstack([stratum_predicted, stratum_actual, stratum_predicted * stratum_actual,
                             stratum_predicted**2, stratum_actual**2])
        group_totals = group_row_sums(stacked, layout)  # (n_groups, 5 columns): sums over each group's rows
        sizes = layout.sizes
        for start, stop in resample_chunks(n_resamples, 6 * columns):
            draws = group_bootstrap_weights(rng, layout.n_groups, stop - start)
            drawn = draws @ sizes
            moments = (draws @ group_totals) / drawn[:, None]
            r = np.clip(correlation_from_moments(*np.split(moments, 5, axis=1)), -1.0, 1.0)
            totals[start:stop] += drawn[:, None] * r
            weights[start:stop] += drawn
    return percentile_interval((totals / weights[:, None]).mean(axis=1), level)
