"""Paired tests of two model variants on the same stimuli, swapping whole CV groups.

Under the null hypothesis the two variants' predictions are exchangeable group by group
(the group is the exchangeable unit: :mod:`brainalign.resampling`). The permutation test
(:func:`paired_permutation_two_vs_two`) swaps the predicted rows of a random subset of
groups between A and B and recomputes both accuracies on the same pairs (two-sided); its CI
(:func:`paired_bootstrap_two_vs_two`) draws one set of groups per resample for both
variants. :func:`paired_swap_terms` and :func:`swap_permutation_test` are the two halves of
the test, so that the group-level test over stimuli can average the terms over subjects and
apply one swap pattern to every subject (:mod:`brainalign.comparisons`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.errors import DataError
from brainalign.resampling import block_sums, group_layout
from brainalign.stats import resample_chunks, quadratic_forms, bootstrap_two_vs_two


def paired_bootstrap_two_vs_two(
    outcomes_a: ArrayLike,
    outcomes_b: ArrayLike,
    *,
    n_resamples: int,
    level: float,
    rng: np.random.Generator,
    groups: ArrayLike | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the 2v2 difference A - B, one draw of groups for both.

    Parameters
    ----------
    outcomes_a, outcomes_b : array-like of shape (n_stimuli, n_stimuli)
        Pair outcomes of two model variants on the same stimuli, in the same order (or, for a
        group-level CI, their means over subjects).
    groups : array-like of shape (n_stimuli,), optional
        CV group of each stimulus (None: single stimuli).

    Returns
    -------
    (low, high) : tuple of float
    """
    # The accuracy is linear in the outcomes, so the difference of accuracies is the
    # resampled mean of the outcome differences.
    difference = np.asarray(outcomes_a, dtype=np.float64) - np.asarray(outcomes_b, dtype=np.float64)
    return bootstrap_two_vs_two(difference, n_resamples=n_resamples, level=level, rng=rng, groups=groups)


def paired_swap_terms(half_a: ArrayLike, half_b: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The two matrices a swap test of variants A and B needs.

    With ``O_XY[i, j] = H_X[i, j] + H_Y[j, i] > tol`` (row i predicted by X, row j by Y),
    returns ``same = O_AA - O_BB`` and ``crossed = O_AB``; a pair's outcome depends only on
    which variant each of its two stimuli comes from.

    Parameters
    ----------
    half_a, half_b : array-like of shape (n_stimuli, n_stimuli)
        Half margins ``S[i, i] - S[i, j]`` of each variant (:func:`brainalign.metrics.half_margins`).

    Returns
    -------
    same, crossed : ndarray of shape (n_stimuli, n_stimuli), float64
    """
    half_a = np.asarray(half_a, dtype=np.float64)
    half_b = np.asarray(half_b, dtype=np.float64)
    if half_a.shape != half_b.shape or half_a.ndim != 2 or half_a.shape[0] != half_a.shape[1]:
        raise DataError(f"paired 2v2 needs two n x n matrices of the same shape; got {half_a.shape} and {half_b.shape}")
    tolerance = 1e-10 * max(float(np.max(np.abs(half_a))), float(np.max(np.abs(half_b))), 1e-300)
    diagonal = np.arange(half_a.shape[0])

    def outcomes(rows: NDArray[np.float64], columns: NDArray[np.float64]) -> NDArray[np.float64]:
        correct = (rows + columns.T) > tolerance
        correct[diagonal, diagonal] = False
        return correct.astype(np.float64)

    return outcomes(half_a, half_a) - outcomes(half_b, half_b), outcomes(half_a, half_b)


def swap_permutation_test(
    same: ArrayLike,
    crossed: ArrayLike,
    *,
    n_permutations: int,
    rng: np.random.Generator,
    groups: ArrayLike | None = None,
    observed: float | None = None,
) -> tuple[float, float]:
    """Two-sided test of the difference A - B, swapping the variants of whole groups.

    With ``u`` the indicator of the groups kept from A (``v = 1 - u`` taken from B) and the
    block sums ``s = G' same G``, ``c = G' crossed G``, one permutation's difference is
    ``(u's u - v's v + 2 (u'c v - v'c u)) / (n (n - 1))``: matrix products over all
    permutations of a chunk at once. The terms may be means over subjects (one swap pattern
    for every subject: the group-level test over stimuli).

    Parameters
    ----------
    same, crossed : array-like of shape (n_stimuli, n_stimuli)
        :func:`paired_swap_terms` (or their means over subjects).
    n_permutations : int
        0 gives a NaN p-value.
    rng : numpy.random.Generator
    groups : array-like of shape (n_stimuli,), optional
        CV group of each stimulus (None: single stimuli).
    observed : float, optional
        The observed difference; by default ``sum(same) / (n (n - 1))``.

    Returns
    -------
    (difference, p) : tuple of float
        ``p = (1 + #{|null| >= |difference|}) / (1 + n_permutations)``.
    """
    same = np.asarray(same, dtype=np.float64)
    crossed = np.asarray(crossed, dtype=np.float64)
    n = same.shape[0]
    pairs = n * (n - 1)
    if observed is None:
        observed = float(same.sum() / pairs)
    if n_permutations < 1:
        return observed, float("nan")
    layout = group_layout(n, groups)
    same_blocks, crossed_blocks = block_sums(same, layout), block_sums(crossed, layout)
    n_groups = layout.n_groups
    null = np.empty(n_permutations)
    for start, stop in resample_chunks(n_permutations, 4 * n_groups):
        from_b = (rng.random((stop - start, n_groups)) < 0.5).astype(np.float64)
        from_a = 1.0 - from_b
        null[start:stop] = (
            quadratic_forms(from_a, same_blocks) - quadratic_forms(from_b, same_blocks)
            + 2.0 * (np.einsum("bi,bi->b", from_a @ crossed_blocks, from_b)
                     - np.einsum("bi,bi->b", from_b @ crossed_blocks, from_a))
        ) / pairs
    p = (1 + np.count_nonzero(np.abs(null) >= abs(observed) - 1e-12)) / (1 + n_permutations)
    return observed, float(p)


def paired_permutation_two_vs_two(
    half_a: ArrayLike,
    half_b: ArrayLike,
    *,
    n_permutations: int,
    rng: np.random.Generator,
    observed: float | None = None,
    groups: ArrayLike | None = None,
) -> tuple[float, float]:
    """Two-sided paired permutation test of the 2v2 difference A - B on the same stimulus pairs.

    Under the null hypothesis the predictions of A and B are exchangeable group by group:
    each permutation swaps the predicted rows of a random half of the groups between A and B
    and recomputes both accuracies (:func:`paired_swap_terms`, :func:`swap_permutation_test`).

    Parameters
    ----------
    half_a, half_b : array-like of shape (n_stimuli, n_stimuli)
        Half margins of each variant (:func:`brainalign.metrics.half_margins`).
    n_permutations : int
        0 gives a NaN p-value.
    rng : numpy.random.Generator
    observed : float, optional
        The observed difference, when computed elsewhere from exact outcomes.
    groups : array-like of shape (n_stimuli,), optional
        CV group of each stimulus (None: single stimuli).

    Returns
    -------
    (difference, p) : tuple of float
    """
    same, crossed = paired_swap_terms(half_a, half_b)
    return swap_permutation_test(same, crossed, n_permutations=n_permutations, rng=rng, groups=groups, observed=observed)
