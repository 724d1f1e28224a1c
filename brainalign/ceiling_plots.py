"""Noise-ceiling bands drawn on the score figures (:mod:`brainalign.plots`).

A band per ROI spans the mean over subjects of the ceiling's CI (``ci_low`` to ``ci_high`` of
``ceilings.csv``), with a solid line at the mean ceiling; its label names the ceiling method.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

CEILING_COLOUR = "tab:olive"


def draw_ceiling_bands(ax: plt.Axes, ceilings: pd.DataFrame, rois: Sequence[str], *, width: float = 0.9) -> int:
    """Draw one ceiling band per ROI at x positions ``0 .. len(rois) - 1``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    ceilings : pandas.DataFrame
        Rows of one dataset x direction x metric (columns roi, ceiling, ci_low, ci_high,
        method), one per subject x ROI (:func:`brainalign.ceilings.normalising_ceilings`).
    rois : sequence of str
        The ROI at each x position.
    width : float
        Band width in x units.

    Returns
    -------
    int
        Number of bands drawn (ROIs without a ceiling get none).
    """
    drawn = 0
    for position, roi in enumerate(rois):
        rows = ceilings[ceilings["roi"] == roi]
        if rows.empty or not np.isfinite(rows["ceiling"]).any():
            continue
        low, high, mean = rows["ci_low"].mean(), rows["ci_high"].mean(), rows["ceiling"].mean()
        left, right = position - width / 2, position + width / 2
        label = f"ceiling ({', '.join(sorted(rows['method'].unique()))})" if drawn == 0 else None
        if np.isfinite(low) and np.isfinite(high):
            ax.fill_between([left, right], [low, low], [high, high], color=CEILING_COLOUR, alpha=0.2, lw=0, zorder=0)
        ax.plot([left, right], [mean, mean], color=CEILING_COLOUR, lw=1.5, label=label, zorder=1)
        drawn += 1
    return drawn
