"""Scores of one direction x ROI x layer with their CIs and permutation p-values.

Every resampling moves whole CV groups (:mod:`brainalign.resampling`). One set of group
permutations, within strata of outer fold x session x group size
(:func:`brainalign.fold_pairs.fold_strata`), serves every number of a fit:

* **p-values** are exact permutation tests of the whole cross-validation: each permutation
  refits every ridge model, alpha choice included, on the permuted targets
  (:func:`brainalign.refit_null.refit_permutation_null`), so they carry the covariance between
  the folds' scores that a test of the fitted models alone misses;
* **CIs** are group-bootstrap percentile intervals of the fitted models' outcomes, widened by
  the ratio of the refitted null's spread to the fitted-models null's spread on the same
  permutations (:func:`widened_interval`; never narrowed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from brainalign.fold_pairs import (
    SimilarityBlock,
    block_outcomes,
    standardise_within_folds,
    fixed_fit_null_two_vs_two,
    fold_strata,
)
from brainalign.metrics import pearson_per_column
from brainalign.pearson_stats import bootstrap_mean_pearson, fixed_null_mean_pearson
from brainalign.refit_null import refit_permutation_null
from brainalign.resampling import group_layout, group_permutations, pair_mask
from brainalign.stats import StatisticsSettings, bootstrap_two_vs_two, permutation_p_value, rng_for

PAIR_SETS: tuple[str, ...] = ("all", "within_session", "cross_session")
"""Values of the ``pairs`` column: the pairs of stimuli a 2v2 score averages over. Subjects with
one session get ``all`` only; Pearson r rows are always ``all``."""


def scores_with_uncertainty(
    inputs: NDArray,
    targets: NDArray,
    blocks: Sequence[SimilarityBlock],
    pooled: tuple[NDArray[np.float64], NDArray[np.float64]],
    *,
    folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]],
    alphas: Sequence[float],
    distance: str,
    per_target_alpha: bool,
    statistics: StatisticsSettings,
    seed: int,
    identity: tuple,
    groups: Sequence[str],
    sessions: Sequence[str],
    pearson: bool,
) -> tuple[dict[tuple[str, str], dict], NDArray[np.bool_], NDArray[np.float32]]:
    """2v2 per pair set (and, with ``pearson``, the mean Pearson r) with CI and p.

    Parameters
    ----------
    inputs, targets : ndarray of shape (n, n_features), (n, n_targets)
        The ridge's inputs and raw targets.
    blocks : sequence of SimilarityBlock
        The fitted models' similarity blocks (:func:`brainalign.fold_pairs.fold_pair_blocks`).
    pooled : (predicted, actual), each (n, n_targets)
        Out-of-fold predictions and targets standardised by training folds; the Pearson r of
        a column is its within-fold r averaged over folds (:func:`standardise_within_folds`).
    folds, alphas, distance, per_target_alpha
        As the ridge was fitted.
    statistics : StatisticsSettings
    seed : int
    identity : tuple
        (direction, dataset, subject, roi, model, task, method, layer): seeds the resampling.
    groups, sessions : sequence of str of length n
    pearson : bool

    Returns
    -------
    rows : dict
        (metric, pair set) -> score, ci_low, ci_high, p_value.
    outcomes : ndarray of bool, shape (n, n)
    half_margins : ndarray of float32, shape (n, n)
    """
    n = len(groups)
    outcomes, half = block_outcomes(blocks, n)
    pair_sets = PAIR_SETS if len(set(sessions)) > 1 else PAIR_SETS[:1]
    masks = {pairs: pair_mask(sessions, n, pairs) for pairs in pair_sets}
    layout = group_layout(n, groups, fold_strata(sessions, folds))
    permutations = group_permutations(rng_for(seed, *identity, "2v2", "permutation"), layout,
                                      statistics.n_permutations)
    refit = refit_permutation_null(
        inputs, targets, alphas, folds, permutations, masks=masks, distance=distance, groups=groups,
        sessions=sessions, per_target_alpha=per_target_alpha, pearson=pearson, progress_label=fit_label(identity),
    ) if statistics.n_permutations else None
    fixed = fixed_fit_null_two_vs_two(blocks, masks, permutations)
    rows = {}
    for pairs, mask in masks.items():
        score = float(np.count_nonzero(outcomes & mask) / np.count_nonzero(mask))
        # The seed of the all-pairs row keeps the identity it had before pair sets existed.
        suffix = () if pairs == "all" else (pairs,)
        low, high = bootstrap_two_vs_two(
            outcomes, n_resamples=statistics.n_bootstrap, level=statistics.ci_level,
            rng=rng_for(seed, *identity, "2v2", *suffix, "bootstrap"), groups=groups, mask=mask,
        )
        null = refit.two_vs_two[pairs] if refit else np.empty(0)
        low, high = widened_interval(score, low, high, null, fixed[pairs], (0.0, 1.0))
        rows[("2v2", pairs)] = {"score": score, "ci_low": low, "ci_high": high,
                                "p_value": permutation_p_value(null, score)}
    if pearson:
        # Correlated within folds, averaged over folds, as the refitted null does.
        predicted, actual = (standardise_within_folds(matrix, folds) for matrix in pooled)
        score = float(np.mean(pearson_per_column(predicted, actual)))
        low, high = bootstrap_mean_pearson(
            predicted, actual, n_resamples=statistics.n_bootstrap, level=statistics.ci_level,
            rng=rng_for(seed, *identity, "pearson_r", "bootstrap"), groups=groups, strata=fold_of(folds, n),
        )
        null = refit.pearson if refit else np.empty(0)
        _, fixed_r = fixed_null_mean_pearson(predicted, actual, permutations)
        low, high = widened_interval(score, low, high, null, fixed_r, (-1.0, 1.0))
        rows[("pearson_r", "all")] = {"score": score, "ci_low": low, "ci_high": high,
                                      "p_value": permutation_p_value(null, score - 1e-12)}
    return rows, outcomes, half.astype(np.float32)


def fit_label(identity: tuple) -> str:
    """``"decoding pereira S01 language layer 4 (gpt2/qa/prompt)"`` from a fit's identity
    (direction, dataset, subject, roi, model, task, method, layer)."""
    direction, dataset, subject, roi, model, task, method, layer = identity
    return f"{direction} {dataset} {subject} {roi} layer {layer} ({model}/{task}/{method})"


def fold_of(folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]], n: int) -> NDArray[np.intp]:
    """The outer fold that tests each of the ``n`` stimuli."""
    fold = np.empty(n, dtype=np.intp)
    for number, (_, test) in enumerate(folds):
        fold[test] = number
    return fold


def widened_interval(
    score: float, low: float, high: float, refit: NDArray[np.float64], fixed: NDArray[np.float64],
    bounds: tuple[float, float],
) -> tuple[float, float]:
    """A bootstrap CI widened by how much refitting the models spreads the null.

    The group bootstrap resamples pair outcomes of the fitted models, so like the fixed-fit
    permutation null it misses the covariance between the folds' scores. The interval's
    distances from ``score`` are multiplied by ``sd(refit) / sd(fixed)``, the ratio of the two
    nulls' spreads on the same permutations (never below 1: the interval is never narrowed),
    and clipped to ``bounds``.

    Returns
    -------
    (low, high) : tuple of float
    """
    refit, fixed = refit[np.isfinite(refit)], fixed[np.isfinite(fixed)]
    if not (np.isfinite(low) and np.isfinite(high)) or refit.size < 2 or fixed.size < 2:
        return low, high
    spread = float(np.std(fixed))
    factor = max(1.0, float(np.std(refit)) / spread) if spread > 0 else 1.0
    return (max(bounds[0], score - factor * (score - low)), min(bounds[1], score + factor * (high - score)))
