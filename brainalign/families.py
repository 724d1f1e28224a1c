"""Declared multiple-testing families and effect labels.

- :func:`benjamini_hochberg`: q-values within one family.
- :func:`family_q_values`: BH within each family of rows (e.g. direction x contrast x level in
  ``comparisons.csv``, so base-random rows never dilute prompt-finetune rows, and per-subject
  rows never pool with group rows).
- :func:`effect_labels`: an equivalence reading of each contrast against the smallest effect
  of interest (config ``statistics.smallest_effect``): ``negligible`` when the CI lies inside
  +-smallest effect, ``significant_small`` when q < alpha but the difference is smaller than
  the smallest effect, ``significant`` when q < alpha and it is not, ``inconclusive`` else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

EFFECT_LABELS: tuple[str, ...] = ("significant", "significant_small", "negligible", "inconclusive")


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


def family_q_values(table: pd.DataFrame, family: Sequence[str], *, p_column: str = "p") -> NDArray[np.float64]:
    """Benjamini-Hochberg q-values computed separately within each family of rows.

    Parameters
    ----------
    table : pandas.DataFrame
        Holds ``p_column`` and the ``family`` columns.
    family : sequence of str
        Columns whose values define a family.

    Returns
    -------
    ndarray of shape (len(table),)
        Row order of ``table``.
    """
    q_values = np.full(len(table), np.nan)
    if table.empty:
        return q_values
    codes = table.groupby(list(family), sort=True, dropna=False).ngroup().to_numpy()
    p_values = table[p_column].to_numpy(dtype=np.float64)
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        q_values[rows] = benjamini_hochberg(p_values[rows])
    return q_values


def effect_labels(
    diff: ArrayLike, ci_low: ArrayLike, ci_high: ArrayLike, q: ArrayLike, *, smallest_effect: float, fdr_alpha: float
) -> NDArray[np.object_]:
    """Label each contrast against the smallest effect of interest (:data:`EFFECT_LABELS`).

    ``negligible`` (the CI lies strictly inside ``+-smallest_effect``: an equivalence
    statement, whatever q says) takes precedence; then ``significant_small`` (q < fdr_alpha,
    |diff| < smallest_effect), ``significant`` (q < fdr_alpha) and ``inconclusive``.

    Parameters
    ----------
    diff, ci_low, ci_high, q : array-like of shape (m,)

    Returns
    -------
    ndarray of str, shape (m,)
    """
    diff, low, high, q = (np.asarray(values, dtype=np.float64) for values in (diff, ci_low, ci_high, q))
    negligible = (low > -smallest_effect) & (high < smallest_effect)
    significant = q < fdr_alpha
    small = np.abs(diff) < smallest_effect
    return np.select(
        [negligible, significant & small, significant], ["negligible", "significant_small", "significant"],
        default="inconclusive",
    ).astype(object)
