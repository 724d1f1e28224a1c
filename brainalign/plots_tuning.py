"""The tuning-curves figure: the validation loss of every candidate learning rate.

One panel per model x task x method; one line per candidate, the selected one solid and
thick, the others dashed, so a reader sees whether the search bracketed the optimum and
whether any method was starved by its budget. Saved with :func:`brainalign.plots.save_figure`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brainalign.errors import DataError
from brainalign.plots import _panels

TUNING_FIGURE = "tuning_curves"


def plot_tuning_curves(curves: pd.DataFrame) -> Figure:
    """Validation loss against step for every candidate of every checkpoint.

    Parameters
    ----------
    curves : pandas.DataFrame
        ``tuning_curves.csv`` (:data:`brainalign.tuning.table.CURVE_COLUMNS`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per model x task x method (titled ``model / task / method``), one line per
        learning rate labelled ``lr=<value>`` (``(selected)`` on the winner).

    Raises
    ------
    DataError
        No curves.
    """
    if curves.empty:
        raise DataError("the tuning-curves table is empty: no tuned checkpoint to plot")
    groups = list(curves.groupby(["model", "task", "method"], sort=True))
    figure, axes = _panels(len(groups), sharey=False)
    for ax, ((model, task, method), frame) in zip(axes, groups):
        rates = sorted(frame["learning_rate"].unique())
        colours = [f"C{i % 10}" for i in range(len(rates))]
        for rate, colour in zip(rates, colours):
            line = frame[frame["learning_rate"] == rate].sort_values("step")
            selected = bool(np.asarray(line["selected"], dtype=bool).any())
            ax.plot(
                line["step"], line["validation_loss"], color=colour, marker="o", markersize=3,
                linestyle="-" if selected else "--", linewidth=2.2 if selected else 1.0,
                label=f"lr={rate:g}" + (" (selected)" if selected else ""),
            )
        ax.set_title(f"{model} / {task} / {method}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("validation loss")
        ax.legend(fontsize=7)
    figure.suptitle("Learning-rate search: validation loss of every candidate (same budget and seed)")
    figure.tight_layout()
    return figure
