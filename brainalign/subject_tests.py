"""Tests over subjects: the exact sign-flip test, its floor p, and the t-interval.

With 2-5 subjects these generalise to new *subjects* but cannot reach small p-values (the
floor is ``2 / 2**k``: 0.5 with 2 subjects, 0.0625 with 5); the test over stimuli that all
subjects share is in :mod:`brainalign.comparisons` (one group-swap pattern for every subject).
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as scipy_stats


def sign_flip_floor(n_subjects: int, n_permutations: int) -> float:
    """The smallest p-value :func:`sign_flip_test` can return for ``n_subjects`` values.

    ``2 / 2**k`` when the patterns are enumerated (the all-plus and all-minus patterns always
    reach the observed mean), else ``1 / (1 + n_permutations)``; NaN without subjects.
    """
    if n_subjects < 1:
        return float("nan")
    if 2**n_subjects <= n_permutations + 1:
        return float(2.0 / 2**n_subjects)
    return float(1.0 / (1 + n_permutations)) if n_permutations > 0 else float("nan")


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


