"""Uncertainty of 2v2 scores: bootstrap CIs and permutation p-values that resample CV groups.

The exchangeable unit is the cross-validation group (Pereira passage, BOLD5000 image or a
coarser unit), never the single stimulus: sentences of one passage share topic and brain
drift. Every function takes ``groups`` (one label per stimulus; None = every stimulus its own
group, valid only for exchangeable stimuli) and is vectorised over resamples; how groups are
permuted and drawn is in :mod:`brainalign.resampling`.

- **Bootstrap CI of 2v2** (:func:`bootstrap_two_vs_two`): groups are drawn with replacement
  and 2v2 is recomputed over the pairs of distinct drawn stimuli, from the pair-outcome
  matrix (the predictions are fixed). With group multiplicities ``w`` the resampled accuracy
  is ``w (G'OG) w / w (G'MG) w`` (``M`` the pairs scored), one matrix product per chunk.
- **Permutation p-value against chance** (:func:`permutation_two_vs_two`): whole groups of
  actual rows are re-paired with whole groups of predicted rows (within strata of equal size
  and sessions) and 2v2 recomputed; ``p = (1 + #{null >= observed}) / (1 + n_permutations)``
  (one-sided: better than chance).
- ``pairs`` restricts a 2v2 score to within- or cross-session pairs (``mask``).

Paired tests of two model variants (swapping whole groups) are in
:mod:`brainalign.paired_stats`, tests over subjects in :mod:`brainalign.subject_tests`, FDR families and effect labels in
:mod:`brainalign.families`, the mean Pearson r in :mod:`brainalign.pearson_stats`.

Seeds come from :func:`rng_for`, which hashes the config seed with the identity of the row,
so a table is byte-identical across reruns and independent of job order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.errors import ConfigError, DataError
from brainalign.metrics import pair_outcomes, tie_tolerance
from brainalign.resampling import (
    GroupLayout,
    block_sums,
    group_bootstrap_weights,
    group_layout,
    group_permutations,
)

# Elements of the largest temporary array built per chunk of resamples (about 32 MB of float64).
_CHUNK_ELEMENTS = 4_000_000

SMALLEST_EFFECT_DEFAULTS: dict[str, float] = {"two_vs_two": 0.01, "pearson": 0.005}
"""Smallest effect of interest per metric family (config ``statistics.smallest_effect``)."""
_EFFECT_KEY_OF_METRIC = {"2v2": "two_vs_two", "pearson_r": "pearson"}


@dataclass(frozen=True)
class StatisticsSettings:
    """How uncertainty is computed (config section ``statistics``).

    ``primary_contrast`` is the contrast the summary leads with (e.g. ``prompt-finetune``);
    ``smallest_effect`` maps ``two_vs_two`` / ``pearson`` to the smallest difference of
    interest (missing keys take :data:`SMALLEST_EFFECT_DEFAULTS`).
    """

    n_bootstrap: int = 1000
    n_permutations: int = 1000
    ci_level: float = 0.95
    fdr_alpha: float = 0.05
    primary_contrast: str = "prompt-finetune"
    smallest_effect: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_bootstrap < 0 or self.n_permutations < 0:
            raise ConfigError("config keys statistics.n_bootstrap and n_permutations must be >= 0")
        if not 0 < self.ci_level < 1:
            raise ConfigError(f"config key statistics.ci_level must be in (0, 1); got {self.ci_level}")
        if not 0 < self.fdr_alpha < 1:
            raise ConfigError(f"config key statistics.fdr_alpha must be in (0, 1); got {self.fdr_alpha}")
        if "-" not in str(self.primary_contrast):
            raise ConfigError(
                f"config key statistics.primary_contrast must name two methods as A-B (e.g. prompt-finetune); "
                f"got {self.primary_contrast!r}"
            )
        given = dict(self.smallest_effect or {})
        unknown = sorted(set(given) - set(SMALLEST_EFFECT_DEFAULTS))
        if unknown:
            raise ConfigError(
                f"config key statistics.smallest_effect: unknown {unknown}; use {sorted(SMALLEST_EFFECT_DEFAULTS)}"
            )
        merged = {**SMALLEST_EFFECT_DEFAULTS, **{key: float(value) for key, value in given.items()}}
        if any(value < 0 for value in merged.values()):
            raise ConfigError(f"config key statistics.smallest_effect: values must be >= 0; got {merged}")
        object.__setattr__(self, "smallest_effect", merged)

    def smallest_effect_for(self, metric: str) -> float:
        """The smallest effect of interest of ``metric`` (``2v2`` or ``pearson_r``)."""
        return float(self.smallest_effect[_EFFECT_KEY_OF_METRIC.get(metric, metric)])


def rng_for(seed: int, *identity: object) -> np.random.Generator:
    """A generator seeded by the config seed and the identity of what is resampled.

    The identity (e.g. direction, subject, ROI, model, layer, metric, purpose) is hashed with
    SHA-256, so the stream does not depend on Python's hash randomisation or on job order.
    """
    digest = hashlib.sha256("\x1f".join(map(str, identity)).encode()).digest()
    words = np.frombuffer(digest[:16], dtype=np.uint32).tolist()
    return np.random.default_rng(np.random.SeedSequence([int(seed), *words]))


def resample_chunks(total: int, per_item: int) -> Iterator[tuple[int, int]]:
    """(start, stop) blocks of ``total`` resamples, each costing ``per_item`` floats, that keep
    the vectorised work per block under a fixed memory budget."""
    size = max(1, _CHUNK_ELEMENTS // max(1, per_item))
    for start in range(0, total, size):
        yield start, min(total, start + size)


def bootstrap_counts(rng: np.random.Generator, n_items: int, n_resamples: int) -> NDArray[np.float64]:
    """Multiplicity of each item in each bootstrap resample of ``n_items`` items.

    Returns
    -------
    ndarray of shape (n_resamples, n_items)
        Row b counts how often each item was drawn in resample b (rows sum to ``n_items``).
    """
    return group_bootstrap_weights(rng, n_items, n_resamples)


def percentile_interval(values: NDArray[np.float64], level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of the finite ``values`` (NaNs when none)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def quadratic_forms(weights: NDArray[np.float64], matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """``w_b' M w_b`` for every row b of ``weights``."""
    return np.einsum("bi,bi->b", weights @ matrix, weights)


def _ratio(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


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
    pairs = counts.sum(axis=1) ** 2 - np.einsum("bi,bi->b", counts, counts)
    return _ratio(quadratic_forms(counts, outcomes), pairs)


def scored_pairs(n: int, mask: ArrayLike | None) -> NDArray[np.bool_]:
    """The (n, n) boolean matrix of pairs a 2v2 averages over: ``mask``, or every off-diagonal pair."""
    if mask is None:
        scored = np.ones((n, n), dtype=bool)
        np.fill_diagonal(scored, False)
        return scored
    scored = np.asarray(mask, dtype=bool)
    if scored.shape != (n, n):
        raise DataError(f"pair mask has shape {scored.shape}; expected ({n}, {n})")
    return scored


def _block_bootstrap(
    values: NDArray[np.float64], scored: NDArray[np.bool_], layout: GroupLayout, *, n_resamples: int, level: float,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Percentile CI of ``sum(values * scored) / #scored`` with groups drawn with replacement."""
    numerator = block_sums(np.where(scored, values, 0.0), layout)
    pairs = block_sums(scored, layout)
    n_groups = layout.n_groups
    resampled = np.empty(n_resamples)
    for start, stop in resample_chunks(n_resamples, n_groups * n_groups):
        weights = group_bootstrap_weights(rng, n_groups, stop - start)
        resampled[start:stop] = _ratio(quadratic_forms(weights, numerator), quadratic_forms(weights, pairs))
    return percentile_interval(resampled, level)


def bootstrap_two_vs_two(
    outcomes: ArrayLike,
    *,
    n_resamples: int,
    level: float,
    rng: np.random.Generator,
    groups: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap CI of 2v2 accuracy, resampling groups of stimuli.

    Parameters
    ----------
    outcomes : array-like of shape (n_stimuli, n_stimuli)
        Pair outcomes (:func:`brainalign.metrics.two_vs_two_pair_matrix`), or any symmetric
        per-pair values (e.g. a difference of two variants' outcomes).
    n_resamples : int
        Bootstrap resamples; 0 gives (NaN, NaN).
    level : float
        Coverage, e.g. 0.95.
    rng : numpy.random.Generator
    groups : array-like of shape (n_stimuli,), optional
        CV group of each stimulus; groups are drawn with replacement. None: single stimuli.
    mask : array-like of bool, shape (n_stimuli, n_stimuli), optional
        The pairs the score averages over (:func:`brainalign.resampling.pair_mask`); default
        all pairs of distinct stimuli.

    Returns
    -------
    (low, high) : tuple of float
    """
    outcomes = np.asarray(outcomes, dtype=np.float64)
    if n_resamples < 1:
        return float("nan"), float("nan")
    n = outcomes.shape[0]
    return _block_bootstrap(
        outcomes, scored_pairs(n, mask), group_layout(n, groups), n_resamples=n_resamples, level=level, rng=rng
    )


def permutation_p_value(null: NDArray[np.float64], observed: float) -> float:
    """``(1 + #{null >= observed}) / (1 + len(null))``; NaN without permutations."""
    if null.size == 0 or not np.isfinite(observed):
        return float("nan")
    return float((1 + np.count_nonzero(null >= observed)) / (1 + null.size))


def permuted_correct(
    single: NDArray[np.float32], transposed: NDArray[np.float32], permutations: NDArray[np.intp], tolerance: float
) -> NDArray[np.bool_]:
    """2v2 outcomes of every pair after permuting the similarity matrix's columns.

    Parameters
    ----------
    single : ndarray of shape (n, n), float32
        The similarity matrix ``S``; ``transposed`` is ``S.T``, C-contiguous.
    permutations : ndarray of int, shape (b, n)
    tolerance : float

    Returns
    -------
    ndarray of bool, shape (b, n, n)
        With ``P = S[:, perm]``: ``P_ii + P_jj - (P_ij + P_ji) > tolerance``.
    """
    negative_margin = transposed[permutations]
    negative_margin += np.moveaxis(single[:, permutations], 1, 0)
    matched = single[np.arange(single.shape[0]), permutations]  # (b, n): P_ii
    negative_margin -= matched[:, :, None]
    negative_margin -= matched[:, None, :]
    return negative_margin < -tolerance


def permutation_two_vs_two(
    similarity: ArrayLike,
    *,
    n_permutations: int,
    rng: np.random.Generator,
    groups: ArrayLike | None = None,
    sessions: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> tuple[float, float]:
    """One-sided permutation p-value of 2v2 accuracy against chance, permuting whole groups.

    Each permutation re-pairs the predicted rows of a group with the actual rows of another
    group of the same stratum (:func:`brainalign.resampling.group_permutations`: same size and
    session labels; the columns of the similarity matrix are permuted) and recomputes 2v2 over
    the scored pairs (in float32; the observed accuracy is exact).

    Parameters
    ----------
    similarity : array-like of shape (n_stimuli, n_stimuli)
        ``S[i, j] = sim(predicted[i], actual[j])`` (:func:`brainalign.metrics.similarity_matrix`).
    n_permutations : int
        0 gives NaN.
    rng : numpy.random.Generator
    groups, sessions : array-like of shape (n_stimuli,), optional
        CV group and acquisition session of each stimulus (None: single stimuli, one session).
    mask : array-like of bool, shape (n_stimuli, n_stimuli), optional
        Pairs scored (by the predicted rows' positions); default all.

    Returns
    -------
    (observed, p) : tuple of float
        The observed 2v2 accuracy over the scored pairs and its p-value (NaN, NaN without pairs).
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    scored = scored_pairs(similarity.shape[0], mask)
    return permutation_two_vs_two_pair_sets(
        similarity, {"pairs": scored}, n_permutations=n_permutations, rng=rng, groups=groups, sessions=sessions
    )["pairs"]


def permutation_two_vs_two_pair_sets(
    similarity: ArrayLike,
    masks: Mapping[str, ArrayLike],
    *,
    n_permutations: int,
    rng: np.random.Generator,
    groups: ArrayLike | None = None,
    sessions: ArrayLike | None = None,
) -> dict[str, tuple[float, float]]:
    """:func:`permutation_two_vs_two` for several pair sets at once, from the same permutations.

    The expensive part (the permuted margins) is shared; each set only adds one count.

    Parameters
    ----------
    similarity : array-like of shape (n_stimuli, n_stimuli)
    masks : mapping of str to bool array of shape (n_stimuli, n_stimuli)
        Name -> the pairs a score averages over (:func:`brainalign.resampling.pair_mask`).
    n_permutations, rng, groups, sessions
        As in :func:`permutation_two_vs_two`.

    Returns
    -------
    dict
        Name -> (observed 2v2 over the set, p); (NaN, NaN) for a set without pairs.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    n = similarity.shape[0]
    scored = {name: scored_pairs(n, mask) for name, mask in masks.items()}
    counts = {name: np.count_nonzero(mask) for name, mask in scored.items()}
    outcomes = pair_outcomes(similarity)
    observed = {name: float(np.count_nonzero(outcomes & mask) / counts[name]) if counts[name] else float("nan")
                for name, mask in scored.items()}
    layout = group_layout(n, groups, sessions)
    tolerance = tie_tolerance(similarity)
    # The null is computed in float32 (half the memory traffic; it moves the null accuracies
    # by about one pair in 10,000), in place, and without a transposed pass: with
    # P = S[:, perm], margin[i, j] = P_ii + P_jj - (P_ij + P_ji), and both P (a view of the
    # column gather) and P.T = S.T[perm] are contiguous along j.
    single = similarity.astype(np.float32)
    transposed = np.ascontiguousarray(single.T)
    upper = {name: np.triu(mask, k=1) for name, mask in scored.items()}
    null = {name: np.empty(n_permutations) for name in scored}
    for start, stop in resample_chunks(n_permutations, 2 * n * n):
        correct = permuted_correct(single, transposed, group_permutations(rng, layout, stop - start), tolerance)
        for name, pairs in upper.items():
            if counts[name]:
                null[name][start:stop] = np.count_nonzero(correct & pairs, axis=(1, 2)) / (counts[name] / 2)
    return {
        name: (observed[name], permutation_p_value(null[name], observed[name]) if counts[name] else float("nan"))
        for name in scored
    }
