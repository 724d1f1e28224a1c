"""Uncertainty of brain-alignment scores: bootstrap CIs, permutation p-values, paired tests, FDR.

Every test resamples *stimuli*, the units that were sampled, and is vectorised over resamples:

- **Bootstrap CI of 2v2** (:func:`bootstrap_two_vs_two`): stimuli are drawn with replacement
  and 2v2 is recomputed over the pairs of distinct drawn stimuli, from the n x n pair-outcome
  matrix (the predictions are fixed; a pair's outcome does not depend on which other stimuli
  were drawn). With multiplicities ``c`` (one row per resample) the resampled accuracy is
  ``c O c / ((sum c)^2 - sum c^2)``, one matrix product per chunk of resamples.
- **Permutation p-value against chance** (:func:`permutation_two_vs_two`): the correspondence
  between predicted and actual stimuli is permuted (columns of the similarity matrix) and
  2v2 recomputed; ``p = (1 + #{null >= observed}) / (1 + n_permutations)`` (one-sided:
  better than chance).
- **Paired test of two model variants on the same stimuli**
  (:func:`paired_permutation_two_vs_two`): under the null hypothesis the two variants'
  predictions are exchangeable stimulus by stimulus, so each permutation swaps the predicted
  rows of a random subset of stimuli between A and B and recomputes both accuracies on the
  same pairs; two-sided. Its CI (:func:`paired_bootstrap_two_vs_two`) draws one set of
  stimuli per resample for both variants.
- **Across subjects** (:func:`sign_flip_test`): the per-subject differences are sign-flipped
  (exactly enumerated when there are few subjects).
- **Benjamini-Hochberg** q-values (:func:`benjamini_hochberg`).

The mean Pearson r of encoding has its own CI and p-value in :mod:`brainalign.pearson_stats`.

Seeds come from :func:`rng_for`, which hashes the config seed with the identity of the row,
so a table is byte-identical across reruns and independent of job order.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as scipy_stats

from brainalign.errors import ConfigError, DataError
from brainalign.metrics import pair_outcomes, tie_tolerance

# Elements of the largest temporary array built per chunk of resamples (about 32 MB of float64).
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class StatisticsSettings:
    """How uncertainty is computed (config section ``statistics``)."""

    n_bootstrap: int = 1000
    n_permutations: int = 1000
    ci_level: float = 0.95
    fdr_alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.n_bootstrap < 0 or self.n_permutations < 0:
            raise ConfigError("config keys statistics.n_bootstrap and n_permutations must be >= 0")
        if not 0 < self.ci_level < 1:
            raise ConfigError(f"config key statistics.ci_level must be in (0, 1); got {self.ci_level}")
        if not 0 < self.fdr_alpha < 1:
            raise ConfigError(f"config key statistics.fdr_alpha must be in (0, 1); got {self.fdr_alpha}")


def rng_for(seed: int, *identity: object) -> np.random.Generator:
    """A generator seeded by the config seed and the identity of what is resampled.

    The identity (e.g. direction, subject, ROI, model, layer, metric, purpose) is hashed with
    SHA-256, so the stream does not depend on Python's hash randomisation or on job order.
    """
    digest = hashlib.sha256("\x1f".join(map(str, identity)).encode()).digest()
    words = np.frombuffer(digest[:16], dtype=np.uint32).tolist()
    return np.random.default_rng(np.random.SeedSequence([int(seed), *words]))


def _chunks(total: int, per_item: int) -> Iterator[tuple[int, int]]:
    size = max(1, _CHUNK_ELEMENTS // max(1, per_item))
    for start in range(0, total, size):
        yield start, min(total, start + size)


def bootstrap_counts(rng: np.random.Generator, n_items: int, n_resamples: int) -> NDArray[np.float64]:
    """Multiplicity of each item in each bootstrap resample.

    Returns
    -------
    ndarray of shape (n_resamples, n_items)
        Row b counts how often each item was drawn in resample b (rows sum to ``n_items``).
    """
    return rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_resamples).astype(np.float64)


def _percentile_interval(values: NDArray[np.float64], level: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def resampled_pair_means(outcomes: ArrayLike, counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """2v2 accuracy over the pairs of distinct stimuli of each resample.

    Parameters
    ----------
    outcomes : array-like of shape (n_stimuli, n_stimuli)
        Symmetric pair outcomes with a zero diagonal (:func:`brainalign.metrics.pair_outcomes`).
    counts : ndarray of shape (n_resamples, n_stimuli)
        Multiplicities (:func:`bootstrap_counts`); all ones gives the plain 2v2.

    Returns
    -------
    ndarray of shape (n_resamples,)
        NaN for a resample that drew a single distinct stimulus.
    """
    outcomes = np.asarray(outcomes, dtype=np.float64)
    weighted = np.einsum("bi,bi->b", counts @ outcomes, counts)
    pairs = counts.sum(axis=1) ** 2 - np.einsum("bi,bi->b", counts, counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, weighted / np.where(pairs > 0, pairs, 1.0), np.nan)


def bootstrap_two_vs_two(
    outcomes: ArrayLike, *, n_resamples: int, level: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bootstrap CI of 2v2 accuracy over stimuli.

    Parameters
    ----------
    outcomes : array-like of bool, shape (n_stimuli, n_stimuli)
        Pair outcomes (:func:`brainalign.metrics.two_vs_two_pair_matrix`).
    n_resamples : int
        Bootstrap resamples; 0 gives (NaN, NaN).
    level : float
        Coverage, e.g. 0.95.
    rng : numpy.random.Generator

    Returns
    -------
    (low, high) : tuple of float
    """
    outcomes = np.asarray(outcomes)
    if n_resamples < 1:
        return float("nan"), float("nan")
    n = outcomes.shape[0]
    values = np.empty(n_resamples)
    for start, stop in _chunks(n_resamples, n * n):
        values[start:stop] = resampled_pair_means(outcomes, bootstrap_counts(rng, n, stop - start))
    return _percentile_interval(values, level)


def _accuracy(outcomes: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Mean over off-diagonal entries of (..., n, n) outcomes."""
    n = outcomes.shape[-1]
    return np.count_nonzero(outcomes, axis=(-2, -1)) / (n * (n - 1))


def permutation_p_value(null: NDArray[np.float64], observed: float) -> float:
    """``(1 + #{null >= observed}) / (1 + len(null))``; NaN without permutations."""
    if null.size == 0:
        return float("nan")
    return float((1 + np.count_nonzero(null >= observed)) / (1 + null.size))


def permutation_two_vs_two(
    similarity: ArrayLike, *, n_permutations: int, rng: np.random.Generator
) -> tuple[float, float]:
    """One-sided permutation p-value of 2v2 accuracy against chance.

    Each permutation re-pairs predicted row i with actual row ``perm[i]`` (the columns of the
    similarity matrix are permuted) and recomputes 2v2 over all pairs (in float32; the
    observed accuracy is exact).

    Parameters
    ----------
    similarity : array-like of shape (n_stimuli, n_stimuli)
        ``S[i, j] = sim(predicted[i], actual[j])`` (:func:`brainalign.metrics.similarity_matrix`).
    n_permutations : int
        0 gives NaN.
    rng : numpy.random.Generator

    Returns
    -------
    (observed, p) : tuple of float
        The observed 2v2 accuracy and its p-value.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    observed = float(_accuracy(pair_outcomes(similarity)))
    n = similarity.shape[0]
    tolerance = tie_tolerance(similarity)
    # The null is computed in float32 (half the memory traffic; it moves the null accuracies
    # by about one pair in 10,000), in place, and without a transposed pass: with
    # P = S[:, perm], margin[i, j] = P_ii + P_jj - (P_ij + P_ji), and both P (a view of the
    # column gather) and P.T = S.T[perm] are contiguous along j.
    single = similarity.astype(np.float32)
    transposed = np.ascontiguousarray(single.T)
    rows = np.arange(n)
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    null = np.empty(n_permutations)
    for start, stop in _chunks(n_permutations, 2 * n * n):
        permutations = rng.permuted(np.tile(rows, (stop - start, 1)), axis=1)
        negative_margin = transposed[permutations]
        negative_margin += np.moveaxis(single[:, permutations], 1, 0)
        matched = single[rows, permutations]  # (b, n): P_ii
        negative_margin -= matched[:, :, None]
        negative_margin -= matched[:, None, :]
        null[start:stop] = np.count_nonzero((negative_margin < -tolerance) & upper, axis=(1, 2)) / (n * (n - 1) / 2)
    return observed, permutation_p_value(null, observed)


def paired_bootstrap_two_vs_two(
    outcomes_a: ArrayLike,
    outcomes_b: ArrayLike,
    *,
    n_resamples: int,
    level: float,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the 2v2 difference A - B, one stimulus draw for both.

    Parameters
    ----------
    outcomes_a, outcomes_b : array-like of bool, shape (n_stimuli, n_stimuli)
        Pair outcomes of two model variants on the same stimuli, in the same order.

    Returns
    -------
    (low, high) : tuple of float
    """
    difference = np.asarray(outcomes_a, dtype=np.float64) - np.asarray(outcomes_b, dtype=np.float64)
    if n_resamples < 1:
        return float("nan"), float("nan")
    n = difference.shape[0]
    values = np.empty(n_resamples)
    # The accuracy is linear in the outcomes, so the difference of accuracies is the
    # resampled mean of the outcome differences.
    for start, stop in _chunks(n_resamples, n * n):
        values[start:stop] = resampled_pair_means(difference, bootstrap_counts(rng, n, stop - start))
    return _percentile_interval(values, level)


def paired_permutation_two_vs_two(
    half_a: ArrayLike,
    half_b: ArrayLike,
    *,
    n_permutations: int,
    rng: np.random.Generator,
    observed: float | None = None,
) -> tuple[float, float]:
    """Two-sided paired permutation test of the 2v2 difference A - B on the same stimulus pairs.

    Under the null hypothesis the predictions of A and B are exchangeable stimulus by
    stimulus. Each permutation swaps the predicted rows of a random half of the stimuli
    between A and B (row i of the half-margin matrices) and recomputes both accuracies.

    A pair's outcome then depends only on which variant each of its two stimuli comes from,
    so with the four outcome matrices ``O_XY[i, j] = H_X[i, j] + H_Y[j, i] > tol`` and the
    indicators ``u`` (row from A) and ``v = 1 - u`` of one permutation, the null difference
    is ``(u'(O_AA - O_BB)u - v'(O_AA - O_BB)v + 2 (u' O_AB v - v' O_AB u)) / (n (n - 1))``:
    matrix products over all permutations of a chunk at once.

    Parameters
    ----------
    half_a, half_b : array-like of shape (n_stimuli, n_stimuli)
        Half margins ``S[i, i] - S[i, j]`` of each variant (:func:`brainalign.metrics.half_margins`).
    n_permutations : int
        0 gives a NaN p-value.
    rng : numpy.random.Generator
    observed : float, optional
        The observed difference, when computed elsewhere from exact outcomes; by default it
        is computed from the half margins.

    Returns
    -------
    (difference, p) : tuple of float
        ``p = (1 + #{|null| >= |difference|}) / (1 + n_permutations)``.
    """
    half_a = np.asarray(half_a, dtype=np.float64)
    half_b = np.asarray(half_b, dtype=np.float64)
    if half_a.shape != half_b.shape or half_a.ndim != 2 or half_a.shape[0] != half_a.shape[1]:
        raise DataError(f"paired 2v2 needs two n x n matrices of the same shape; got {half_a.shape} and {half_b.shape}")
    tolerance = 1e-10 * max(float(np.max(np.abs(half_a))), float(np.max(np.abs(half_b))), 1e-300)
    n = half_a.shape[0]
    pairs = n * (n - 1)
    diagonal = np.arange(n)

    def outcomes(rows: NDArray[np.float64], columns: NDArray[np.float64]) -> NDArray[np.float64]:
        correct = (rows + columns.T) > tolerance
        correct[diagonal, diagonal] = False
        return correct.astype(np.float64)

    same = outcomes(half_a, half_a) - outcomes(half_b, half_b)
    crossed = outcomes(half_a, half_b)
    if observed is None:
        observed = float(same.sum() / pairs)
    if n_permutations < 1:
        return observed, float("nan")
    null = np.empty(n_permutations)
    for start, stop in _chunks(n_permutations, 4 * n):
        from_b = (rng.random((stop - start, n)) < 0.5).astype(np.float64)
        from_a = 1.0 - from_b
        null[start:stop] = (
            np.einsum("bi,bi->b", from_a @ same, from_a)
            - np.einsum("bi,bi->b", from_b @ same, from_b)
            + 2.0 * (np.einsum("bi,bi->b", from_a @ crossed, from_b) - np.einsum("bi,bi->b", from_b @ crossed, from_a))
        ) / pairs
    p = (1 + np.count_nonzero(np.abs(null) >= abs(observed) - 1e-12)) / (1 + n_permutations)
    return observed, float(p)


def sign_flip_test(values: ArrayLike, *, n_permutations: int, rng: np.random.Generator) -> float:
    """Two-sided sign-flip test that the mean of ``values`` is zero (e.g. one difference per subject).

    All ``2**k`` sign patterns are enumerated when that is at most ``n_permutations + 1``
    (the p-value is then exact: with k = 2 subjects it cannot go below 0.5); otherwise
    ``n_permutations`` random patterns are drawn and ``p = (1 + #) / (1 + n_permutations)``.

    Parameters
    ----------
    values : array-like of shape (k,)

    Returns
    -------
    float
        NaN when ``values`` is empty.
    """
    values = np.asarray(values, dtype=np.float64)
    k = values.size
    if k == 0:
        return float("nan")
    observed = abs(values.mean())
    if 2**k <= n_permutations + 1:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=k)))
        null = np.abs(signs @ values / k)
        return float(np.count_nonzero(null >= observed - 1e-12) / null.size)
    if n_permutations < 1:
        return float("nan")
    signs = np.where(rng.random((n_permutations, k)) < 0.5, -1.0, 1.0)
    null = np.abs(signs @ values / k)
    return float((1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + n_permutations))


def t_interval(values: ArrayLike, level: float) -> tuple[float, float]:
    """Student-t confidence interval of the mean of ``values`` (NaN with fewer than 2 values)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float("nan"), float("nan")
    half_width = scipy_stats.t.ppf(0.5 + level / 2.0, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return float(values.mean() - half_width), float(values.mean() + half_width)


def benjamini_hochberg(p_values: ArrayLike) -> NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (q-values) controlling the false discovery rate.

    ``q_(i) = min_{j >= i} min(1, m p_(j) / j)`` over the p-values sorted ascending; NaN
    p-values are left out of ``m`` and get NaN.

    Parameters
    ----------
    p_values : array-like of shape (m,)

    Returns
    -------
    ndarray of shape (m,)
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    q_values = np.full(p_values.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p_values))
    if finite.size == 0:
        return q_values
    order = finite[np.argsort(p_values[finite], kind="stable")]
    ranked = p_values[order] * finite.size / np.arange(1, finite.size + 1)
    q_values[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q_values
