"""Figures of the result tables (matplotlib, Agg backend): the reference paper's and ours.

Every figure function takes long-format tables (``decoding.csv``/``encoding.csv``,
``comparisons.csv``, ``task_scores.csv``) and returns a :class:`matplotlib.figure.Figure`;
:func:`save_figure` writes it as PNG and SVG. Nothing is specific to language or vision:
panels and groups come from the rows present (datasets, models, tasks, methods, ROIs).

- :func:`plot_scores_by_roi` — paper Figs 3-4: per tuned method a panel, 2v2 by ROI with one
  bar per task;
- :func:`plot_methods_by_task` — paper Figs 6-7 (there for LOC and OPA): per ROI a panel,
  2v2 by task with one bar per method;
- :func:`plot_differences` — a contrast (e.g. prompt - finetune) by ROI and task, with
  FDR-significant contrasts marked;
- :func:`plot_scores_by_layer` — 2v2 by layer when several layers are extracted;
- :func:`plot_task_scores` — the task-score table (paper Tables I and VI) as a figure.

Bars are the mean over subjects; each subject is a dot with its bootstrap CI; the dashed line
is chance. Figures of simulated data carry a red "simulated" stamp.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from brainalign.ceiling_plots import draw_ceiling_bands  # noqa: E402
from brainalign.comparisons import main_contrast  # noqa: E402
from brainalign.io import atomic_output  # noqa: E402
from brainalign.tables import UNTUNED_METHODS, all_pairs, ordered_methods  # noqa: E402

CHANCE = {"2v2": 0.5, "pearson_r": 0.0}
METRIC_LABELS = {"2v2": "2v2 accuracy", "pearson_r": "mean Pearson r"}
SIMULATED_STAMP = "simulated"
_PANEL_WIDTH, _PANEL_HEIGHT = 4.2, 3.4
_SVG_METADATA = {"Date": None}  # no timestamp: the same tables give the same SVG
UNTUNED_STYLE = {"base": ("black", "base (untuned)"), "random": ("grey", "random (untrained)")}


def _stamp(figure: Figure, simulated: bool) -> None:
    if simulated:
        figure.text(0.005, 0.995, SIMULATED_STAMP, ha="left", va="top", color="red", fontsize=11,
                    fontweight="bold", alpha=0.8)


def _panels(n_panels: int, *, sharey: bool = True) -> tuple[Figure, list[plt.Axes]]:
    columns = min(n_panels, 4)
    rows = int(np.ceil(n_panels / columns))
    width = max(_PANEL_WIDTH * columns, 6.0)
    figure, axes = plt.subplots(rows, columns, figsize=(width, _PANEL_HEIGHT * rows + 0.6),
                                squeeze=False, sharey=sharey)
    flat = list(axes.ravel())
    for extra in flat[n_panels:]:
        extra.remove()
    return figure, flat[:n_panels]


def _grouped_bars(ax: plt.Axes, frame: pd.DataFrame, *, x: str, hue: str, x_order: Sequence[str],
                  hue_order: Sequence[str], value: str = "score") -> None:
    """Mean over subjects as bars, each subject as a dot with its CI as an error bar."""
    width = 0.8 / max(1, len(hue_order))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for h, hue_value in enumerate(hue_order):
        offsets = np.arange(len(x_order)) - 0.4 + width * (h + 0.5)
        subset = frame[frame[hue] == hue_value]
        means = [subset.loc[subset[x] == x_value, value].mean() for x_value in x_order]
        ax.bar(offsets, means, width=width * 0.9, color=colours[h % len(colours)], alpha=0.55, label=str(hue_value))
        for position, x_value in zip(offsets, x_order):
            points = subset[subset[x] == x_value]
            if points.empty:
                continue
            low = (points[value] - points["ci_low"]).clip(lower=0).to_numpy()
            high = (points["ci_high"] - points[value]).clip(lower=0).to_numpy()
            spread = np.linspace(-width * 0.2, width * 0.2, len(points)) if len(points) > 1 else np.zeros(1)
            ax.errorbar(position + spread, points[value], yerr=np.vstack([low, high]), fmt="o", ms=3, lw=0.8,
                        color="black", capsize=2)
    ax.set_xticks(np.arange(len(x_order)))
    ax.set_xticklabels([str(v) for v in x_order], rotation=30 if len(x_order) > 4 else 0, ha="right" if len(x_order) > 4 else "center")


def _chance_line(ax: plt.Axes, metric: str) -> None:
    ax.axhline(CHANCE.get(metric, 0.0), color="grey", ls="--", lw=1, label="chance")


def _select(scores: pd.DataFrame, **equal: object) -> pd.DataFrame:
    """Rows equal to ``equal``; of a score table, only the scores over all pairs (``pairs == "all"``)."""
    scores = all_pairs(scores)
    mask = np.ones(len(scores), dtype=bool)
    for column, value in equal.items():
        mask &= (scores[column] == value).to_numpy()
    return scores[mask]


def _title(dataset: str, model: str, direction: str, layer: int | None = None) -> str:
    where = f", layer {layer}" if layer is not None else ""
    return f"{direction.capitalize()}: {model} on {dataset}{where}"


def plot_scores_by_roi(scores: pd.DataFrame, *, dataset: str, model: str, direction: str, layer: int,
                       metric: str = "2v2", ceilings: pd.DataFrame | None = None) -> Figure:
    """Paper Figs 3-4: one panel per tuned method (prompt, finetune, ...), x = ROI, bars = tasks.

    Parameters
    ----------
    scores : pandas.DataFrame
        A long score table (columns of :data:`brainalign.tables.TABLE_COLUMNS`).
    dataset, model, direction : str
    layer : int
    metric : str
    ceilings : pandas.DataFrame, optional
        Normalising ceilings (:func:`brainalign.ceilings.normalising_ceilings`); the rows of this
        dataset, direction and metric are drawn as a band per ROI (:mod:`brainalign.ceiling_plots`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per tuned method present (the base model when none is), titled by method,
        y label the metric, x tick labels the ROIs, one bar series per task; the untuned
        base model's score is the black tick per ROI, the untrained (random) model's the
        grey one.
    """
    rows = _select(scores, dataset=dataset, model=model, direction=direction, layer=layer, metric=metric)
    tuned = ordered_methods(rows.loc[~rows["method"].isin(UNTUNED_METHODS), "method"]) or ["base"]
    rois = sorted(rows["roi"].unique())
    bands = pd.DataFrame() if ceilings is None else _select(ceilings, dataset=dataset, direction=direction, metric=metric)
    figure, axes = _panels(len(tuned))
    for ax, method in zip(axes, tuned):
        if not bands.empty:
            draw_ceiling_bands(ax, bands, rois)
        panel = rows[rows["method"] == method]
        _grouped_bars(ax, panel, x="roi", hue="task", x_order=rois, hue_order=sorted(panel["task"].unique()))
        for untuned, (colour, label) in UNTUNED_STYLE.items():
            reference = rows[rows["method"] == untuned].groupby("roi")["score"].mean()
            if method != untuned and not reference.empty:
                ax.scatter(np.arange(len(rois)), [reference.get(roi, np.nan) for roi in rois], marker="_", s=400,
                           color=colour, zorder=3, label=label)
        _chance_line(ax, metric)
        ax.set_title(f"{method}")
        ax.set_xlabel("ROI")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    axes[0].legend(fontsize=7, loc="lower left")
    figure.suptitle(_title(dataset, model, direction, layer) + " — by ROI and task")
    _stamp(figure, bool(rows["simulated"].any()))
    figure.tight_layout()
    return figure


def plot_methods_by_task(scores: pd.DataFrame, *, dataset: str, model: str, direction: str, layer: int,
                         metric: str = "2v2", rois: Sequence[str] | None = None) -> Figure:
    """Paper Figs 6-7: one panel per ROI, x = task, one bar per tuned method.

    Parameters
    ----------
    rois : sequence of str, optional
        The ROIs to show (e.g. ``["LOC", "OPA"]``); default every ROI present.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per ROI, titled by ROI; x tick labels the tasks; the base model's score is
        a dotted black horizontal line, the untrained (random) model's a dotted grey one.
    """
    rows = _select(scores, dataset=dataset, model=model, direction=direction, layer=layer, metric=metric)
    present = sorted(rows["roi"].unique())
    rois = [roi for roi in rois if roi in present] if rois is not None else present
    tuned_rows = rows[~rows["method"].isin(UNTUNED_METHODS)]
    tasks = sorted(tuned_rows["task"].unique())
    methods = ordered_methods(tuned_rows["method"])
    figure, axes = _panels(max(1, len(rois)))
    for ax, roi in zip(axes, rois):
        panel = tuned_rows[tuned_rows["roi"] == roi]
        _grouped_bars(ax, panel, x="task", hue="method", x_order=tasks, hue_order=methods)
        for untuned, (colour, label) in UNTUNED_STYLE.items():
            reference = rows[(rows["roi"] == roi) & (rows["method"] == untuned)]["score"]
            if not reference.empty:
                ax.axhline(reference.mean(), color=colour, ls=":", lw=1.2, label=label)
        _chance_line(ax, metric)
        ax.set_title(roi)
        ax.set_xlabel("task")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    axes[0].legend(fontsize=7, loc="lower left")
    figure.suptitle(_title(dataset, model, direction, layer) + " — methods by task")
    _stamp(figure, bool(rows["simulated"].any()))
    figure.tight_layout()
    return figure


def plot_differences(comparisons: pd.DataFrame, *, dataset: str, model: str, contrast: str, layer: int,
                     fdr_alpha: float = 0.05) -> Figure:
    """A contrast (e.g. ``prompt-finetune``) by ROI and task, one panel per direction.

    Bars are the mean difference over subjects; dots are subjects with their paired
    bootstrap CI, filled when the subject's q < ``fdr_alpha``; a star above a bar marks a
    group-level q < ``fdr_alpha`` of the test over stimuli (one group-swap pattern shared by
    every subject; ``generalises_over == "stimuli"``).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per direction, titled by direction; y label names the contrast; x tick
        labels the ROIs; one bar series per task.
    """
    rows = _select(comparisons, dataset=dataset, model=model, contrast=contrast, layer=layer)
    directions = sorted(rows["direction"].unique()) or ["decoding"]
    figure, axes = _panels(len(directions))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, direction in zip(axes, directions):
        panel = rows[rows["direction"] == direction]
        subjects = panel[panel["subject"] != "all"]
        group = panel[panel["subject"] == "all"]
        if "generalises_over" in group.columns:  # the bar and its star: the test over stimuli
            group = group[group["generalises_over"] == "stimuli"]
        rois = sorted(panel["roi"].unique())
        tasks = sorted(panel["task"].unique())
        width = 0.8 / max(1, len(tasks))
        for t, task in enumerate(tasks):
            offsets = np.arange(len(rois)) - 0.4 + width * (t + 0.5)
            colour = colours[t % len(colours)]
            for position, roi in zip(offsets, rois):
                mean = group[(group["task"] == task) & (group["roi"] == roi)]
                if not mean.empty:
                    ax.bar(position, mean["diff"].iloc[0], width=width * 0.9, color=colour, alpha=0.55,
                           label=task if roi == rois[0] else None)
                    if mean["q"].iloc[0] < fdr_alpha:
                        ax.annotate("*", (position, max(mean["diff"].iloc[0], 0)), ha="center", va="bottom", fontsize=14)
                points = subjects[(subjects["task"] == task) & (subjects["roi"] == roi)]
                if points.empty:
                    continue
                spread = np.linspace(-width * 0.2, width * 0.2, len(points)) if len(points) > 1 else np.zeros(1)
                yerr = np.vstack([(points["diff"] - points["ci_low"]).clip(lower=0), (points["ci_high"] - points["diff"]).clip(lower=0)])
                ax.errorbar(position + spread, points["diff"], yerr=yerr, fmt="none", ecolor="black", lw=0.8, capsize=2)
                significant = (points["q"] < fdr_alpha).to_numpy()
                ax.scatter((position + spread)[significant], points["diff"][significant], s=14, color="black", zorder=3)
                ax.scatter((position + spread)[~significant], points["diff"][~significant], s=14, facecolor="white",
                           edgecolor="black", zorder=3)
        ax.axhline(0.0, color="grey", lw=1)
        ax.set_xticks(np.arange(len(rois)))
        ax.set_xticklabels(rois)
        ax.set_title(direction)
        ax.set_xlabel("ROI")
        ax.set_ylabel(f"2v2 difference ({contrast.replace('-', ' − ')})")
    axes[0].legend(fontsize=7, loc="best", title=f"filled / *: q < {fdr_alpha:g}", title_fontsize=7)
    figure.suptitle(f"{contrast}: {model} on {dataset}, layer {layer}")
    _stamp(figure, bool(rows["simulated"].any()) if not rows.empty else False)
    figure.tight_layout()
    return figure


def plot_scores_by_layer(scores: pd.DataFrame, *, dataset: str, model: str, direction: str,
                         metric: str = "2v2") -> Figure:
    """Score by layer: one panel per ROI, one line per method (mean over tasks and subjects).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per ROI, titled by ROI; x label ``layer``; one line per method.
    """
    rows = _select(scores, dataset=dataset, model=model, direction=direction, metric=metric)
    rois = sorted(rows["roi"].unique())
    figure, axes = _panels(max(1, len(rois)))
    for ax, roi in zip(axes, rois):
        panel = rows[rows["roi"] == roi]
        for method in ordered_methods(panel["method"]):
            curve = panel[panel["method"] == method].groupby("layer")["score"].mean()
            ax.plot(curve.index, curve.to_numpy(), marker="o", label=method)
        _chance_line(ax, metric)
        ax.set_xticks(sorted(rows["layer"].unique()))
        ax.set_title(roi)
        ax.set_xlabel("layer")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    axes[0].legend(fontsize=7, loc="lower left")
    figure.suptitle(f"{direction.capitalize()}: {model} on {dataset} — by layer (mean over tasks and subjects)")
    _stamp(figure, bool(rows["simulated"].any()))
    figure.tight_layout()
    return figure


TASK_METRICS = ("bertscore_f1", "accuracy")
"""The task-score metric each model's panel shows, the first one present."""


def plot_task_scores(task_scores: pd.DataFrame, *, simulated: bool = False) -> Figure:
    """Task quality (paper Tables I and VI): one panel per model, x = task, one bar per method.

    Parameters
    ----------
    task_scores : pandas.DataFrame
        Columns model, task, method, metric, score, ci_low, ci_high.
    simulated : bool
        Stamp the figure "simulated" (task scores come from real generations on the task
        corpora, so the workflow leaves this False even when the brain data are simulated).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per model, titled by model; y label the metric; error bars are the
        bootstrap CIs over examples.
    """
    models = sorted(task_scores["model"].unique())
    figure, axes = _panels(max(1, len(models)), sharey=False)
    for ax, model in zip(axes, models):
        rows = task_scores[task_scores["model"] == model]
        metric = next((m for m in TASK_METRICS if (rows["metric"] == m).any()), rows["metric"].iloc[0])
        rows = rows[rows["metric"] == metric]
        _grouped_bars(ax, rows, x="task", hue="method", x_order=sorted(rows["task"].unique()),
                      hue_order=ordered_methods(rows["method"]))
        ax.set_title(model)
        ax.set_xlabel("task")
        ax.set_ylabel(metric)
    axes[0].legend(fontsize=7, loc="lower left")
    figure.suptitle("Task quality on held-out test examples (95% CI)")
    _stamp(figure, simulated)
    figure.tight_layout()
    return figure


def save_figure(figure: Figure, stem: str | os.PathLike) -> list[str]:
    """Write ``figure`` to ``{stem}.png`` (150 dpi) and ``{stem}.svg`` atomically, then close it.

    Returns
    -------
    list of str
        The two paths written.
    """
    paths = []
    for suffix, options in ((".png", {"dpi": 150}), (".svg", {"metadata": _SVG_METADATA})):
        path = f"{stem}{suffix}"
        # A fixed svg.hashsalt: the SVG's clip-path ids are otherwise random per call.
        with atomic_output(path) as tmp, plt.rc_context({"svg.hashsalt": "brainalign"}):
            figure.savefig(tmp, format=suffix[1:], **options)
        paths.append(path)
    plt.close(figure)
    return paths


FIGURE_KINDS = ("by_roi", "by_task", "by_layer", "difference", "task_scores")


def _deepest_layer(frame: pd.DataFrame) -> int | None:
    return int(frame["layer"].max()) if not frame.empty else None


def make_figure(spec: dict, *, scores: dict[str, pd.DataFrame], comparisons: pd.DataFrame | None = None,
                task_scores: pd.DataFrame | None = None, fdr_alpha: float = 0.05,
                ceilings: pd.DataFrame | None = None) -> Figure:
    """Draw the figure a spec names (the workflow lists the specs; see ``figure_specs`` in common.smk).

    Parameters
    ----------
    spec : dict
        ``kind`` (one of :data:`FIGURE_KINDS`) and, for brain figures, ``dataset``, ``model``
        and (except ``difference``) ``direction``. Layer-specific figures show the deepest
        layer in the table.
    scores : dict
        direction -> long score table.
    comparisons, task_scores : pandas.DataFrame, optional
        Needed by the ``difference`` and ``task_scores`` kinds.
    ceilings : pandas.DataFrame, optional
        Normalising ceilings, drawn as bands in the ``by_roi`` figures.

    Returns
    -------
    matplotlib.figure.Figure
        A figure with a "no data" note when the tables hold no matching rows (the workflow
        declares its figures in advance).
    """
    kind = spec["kind"]
    if kind == "task_scores":
        return plot_task_scores(task_scores)
    if kind == "difference":
        rows = comparisons[(comparisons["dataset"] == spec["dataset"]) & (comparisons["model"] == spec["model"])]
        contrast = main_contrast(rows)
        if contrast is not None:
            return plot_differences(rows, dataset=spec["dataset"], model=spec["model"], contrast=contrast,
                                    layer=_deepest_layer(rows), fdr_alpha=fdr_alpha)
    else:
        table = scores.get(spec["direction"], pd.DataFrame())
        rows = table[(table["dataset"] == spec["dataset"]) & (table["model"] == spec["model"])] if not table.empty else table
        common = {"dataset": spec["dataset"], "model": spec["model"], "direction": spec["direction"]}
        if not rows.empty:
            if kind == "by_roi":
                return plot_scores_by_roi(rows, layer=_deepest_layer(rows), ceilings=ceilings, **common)
            if kind == "by_task":
                return plot_methods_by_task(rows, layer=_deepest_layer(rows), rois=spec.get("rois"), **common)
            if kind == "by_layer":
                return plot_scores_by_layer(rows, **common)
    figure, axes = _panels(1)
    axes[0].text(0.5, 0.5, f"no rows for {spec}", ha="center", va="center", wrap=True)
    axes[0].set_axis_off()
    return figure
