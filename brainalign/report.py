"""Generated text: the methods section (from the config actually used) and a results summary.

Both are built as a small list of blocks (headings, paragraphs, bullet lists) rendered to
Markdown (``results/summary.md``) and to HTML (the page the Snakemake report shows), so the
two never disagree.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from brainalign.comparisons import main_contrast


@dataclass(frozen=True)
class Block:
    """One piece of a generated document: ``kind`` is ``h1``, ``h2``, ``p`` or ``ul``."""

    kind: str
    content: str | tuple[str, ...]


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _fmt_p(value: float) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def _join(values: Sequence[object]) -> str:
    return ", ".join(str(value) for value in values) if values else "none"


def methods_blocks(config: Mapping) -> list[Block]:
    """The methods section, generated from a validated config (schema defaults filled in).

    Returns
    -------
    list of Block
        Data (datasets, subjects, ROIs, simulated or not), models and tuning, features,
        ridge (directions, folds, alphas, distance), statistics and seeds.
    """
    blocks = [Block("h2", "Methods (generated from the configuration used)")]
    data = []
    for name, dataset in config.get("datasets", {}).items():
        rois = list(dataset.get("networks", {}) or dataset.get("simulate", {}).get("rois", {}))
        source = "simulated subjects written in the raw file format and read by the real loader" if dataset.get(
            "simulate") else f"raw files in {dataset.get('raw_dir', '?')}"
        data.append(f"{name}: subjects {_join(dataset.get('subjects', []))}; ROIs {_join(rois)}; {source}.")
    blocks.append(Block("p", "Brain data."))
    blocks.append(Block("ul", tuple(data)))
    models = []
    for name, model in config.get("models", {}).items():
        origin = f"pre-trained `{model['pretrained']}`" if "pretrained" in model else "built and pre-trained by the workflow"
        models.append(f"{name} ({origin}), represents the stimuli of {model.get('dataset', '?')}.")
    blocks.append(Block("p", "Models."))
    blocks.append(Block("ul", tuple(models)))
    tuning = config.get("tuning", {})
    tasks = list(config.get("tasks", {}))
    if tasks:
        methods = tuning.get("methods", [])
        details = [f"{method}: learning rate {tuning.get(method, {}).get('learning_rate', '?')}" for method in methods]
        if "prompt" in methods:
            details.append(f"soft prompt of {tuning.get('prompt', {}).get('num_virtual_tokens', '?')} virtual tokens")
        if "lora" in methods:
            lora = tuning.get("lora", {})
            details.append(f"LoRA of rank {lora.get('rank', '?')} (alpha {lora.get('alpha', '?')}) on the attention weights")
        blocks.append(Block("p", (
            f"Tuning. Tasks {_join(tasks)}; methods {_join(methods)} (plus the untuned base model), each with "
            f"{tuning.get('steps', '?')} optimizer steps of batch size {tuning.get('batch_size', '?')}, the same data "
            f"order and seed; {'; '.join(details)}."
        )))
    features = config.get("features", {})
    floor = (
        f" The random baseline is each model's architecture with untrained weights drawn from seed {config.get('seed', '?')}."
        if "random" in config.get("baselines", []) else ""
    )
    blocks.append(Block("p", (
        f"Features. Hidden-state layers {_join(features.get('layers', []))} ({features.get('pooling', '?')} pooling "
        "over the stimulus tokens)." + floor
    )))
    ridge = config.get("ridge", {})
    blocks.append(Block("p", (
        f"Alignment. {_join(ridge.get('directions', []))} with ridge regression, {ridge.get('n_folds', '?')} "
        f"cross-validation folds grouped by passage/image; penalty chosen inside each training fold among "
        f"{_join(ridge.get('alphas', []))} ({'per target' if ridge.get('per_target_alpha') else 'one for all targets'}); "
        f"2v2 accuracy with {ridge.get('distance', '?')} similarity over all pairs of out-of-fold predictions "
        "(chance 0.5); encoding also reports the mean Pearson r over voxels."
    )))
    statistics = config.get("statistics", {})
    level = statistics.get("ci_level", 0.95)
    blocks.append(Block("p", (
        f"Statistics. {level:.0%} percentile bootstrap CIs over stimuli ({statistics.get('n_bootstrap', '?')} "
        f"resamples); one-sided permutation p-values against chance ({statistics.get('n_permutations', '?')} "
        "permutations of the predicted-to-actual correspondence); paired contrasts of model variants on the same "
        "stimulus pairs with a paired permutation test (predictions swapped stimulus by stimulus) and a paired "
        "bootstrap CI; over subjects, a sign-flip test and a t-interval of the per-subject differences; "
        f"Benjamini-Hochberg q-values across all comparisons of a table (significant: q < "
        f"{statistics.get('fdr_alpha', 0.05):g}). Seed {config.get('seed', '?')}; every resampling seed derives "
        "from it and the row it belongs to."
    )))
    ceilings = config.get("ceilings", {})
    if ceilings.get("enabled"):
        listed = "; ".join(f"{dataset}: {', '.join(methods)}" for dataset, methods in ceilings.get("methods", {}).items())
        blocks.append(Block("p", (
            f"Noise ceilings ({listed or 'none configured'}; the first listed normalises a score). Split-half: per voxel "
            "the correlation between the two halves of the repeated images' presentations, Spearman-Brown corrected "
            "to the presentations the analysed responses average; encoding r ceiling = mean over voxels of the signed "
            "square root of that reliability; 2v2 ceiling = 2v2 between the halves; CIs by bootstrap over images. "
            "Cross-subject: each subject decoded and encoded from the other subjects' responses with the models' folds "
            "and ridge, a lower bound on the explainable signal when subjects differ. normalised score = (score - "
            "chance) / (ceiling - chance), not reported when the ceiling's CI includes chance."
        )))
    return blocks


def summary_blocks(
    scores: Mapping[str, pd.DataFrame],
    comparisons: pd.DataFrame,
    *,
    task_scores: pd.DataFrame | None = None,
    fdr_alpha: float = 0.05,
    ceilings: pd.DataFrame | None = None,
) -> list[Block]:
    """A short narrative of the main results with their numbers and q-values.

    Parameters
    ----------
    scores : mapping
        direction -> long score table (``decoding.csv``, ``encoding.csv``).
    comparisons : pandas.DataFrame
        ``comparisons.csv``.
    task_scores : pandas.DataFrame, optional
        ``task_scores.csv``.
    fdr_alpha : float
        q below which a contrast is called significant.
    ceilings : pandas.DataFrame, optional
        The normalising ceilings (:func:`brainalign.ceilings.normalising_ceilings`): one line
        per dataset x ROI x direction x metric.

    Returns
    -------
    list of Block
    """
    blocks = [Block("h1", "brainalign: summary of results")]
    simulated = any(bool(frame["simulated"].any()) for frame in scores.values() if not frame.empty)
    if simulated:
        blocks.append(Block("p", (
            "SIMULATED DATA: the brain responses are simulated. These numbers show what the pipeline recovers "
            "from a planted signal; they say nothing about real brains."
        )))
    for direction, frame in sorted(scores.items()):
        two_vs_two = frame[frame["metric"] == "2v2"]
        if two_vs_two.empty:
            continue
        base = two_vs_two[two_vs_two["method"] == "base"]
        layer = int(two_vs_two["layer"].max())
        lines = []
        for (dataset, model, roi), rows in base[base["layer"] == layer].groupby(["dataset", "model", "roi"]):
            significant = int((rows["p_value"] < fdr_alpha).sum())
            lines.append(
                f"{dataset} / {model} / {roi}: mean 2v2 {_fmt(rows['score'].mean())} over {len(rows)} subject(s) "
                f"(per-subject {', '.join(_fmt(s) for s in rows['score'])}; {significant} of {len(rows)} above "
                f"chance at p < {fdr_alpha:g})"
            )
        if lines:
            blocks.append(Block("h2", f"{direction.capitalize()}: the untuned model (layer {layer})"))
            blocks.append(Block("ul", tuple(lines)))
    if ceilings is not None and not ceilings.empty:
        blocks += ceiling_blocks(ceilings)
    if not comparisons.empty:
        blocks.append(Block("h2", "Contrasts between model variants"))
        subject_rows = comparisons[comparisons["subject"] != "all"]
        group_rows = comparisons[comparisons["subject"] == "all"]
        counts = []
        for (direction, contrast), rows in comparisons.groupby(["direction", "contrast"], sort=True):
            per_subject = rows[rows["subject"] != "all"]
            positive = per_subject[(per_subject["q"] < fdr_alpha) & (per_subject["diff"] > 0)]
            negative = per_subject[(per_subject["q"] < fdr_alpha) & (per_subject["diff"] < 0)]
            counts.append(
                f"{direction}, {contrast}: {len(positive)} per-subject contrasts significantly positive and "
                f"{len(negative)} significantly negative (q < {fdr_alpha:g}) of {len(per_subject)}; mean difference "
                f"{_fmt(per_subject['diff'].mean())}"
            )
        blocks.append(Block("ul", tuple(counts)))
        contrast = main_contrast(group_rows)
        if contrast is not None:
            main = group_rows[group_rows["contrast"] == contrast]
            layer = int(main["layer"].max())
            main = main[main["layer"] == layer]
            blocks.append(Block("p", (
                f"{contrast} over subjects at layer {layer} (mean difference [{'t-interval over subjects'}], "
                f"sign-flip p, BH q; with few subjects the over-subject test cannot reach significance, see the "
                f"per-subject rows of comparisons.csv):"
            )))
            lines = [
                f"{row.direction} / {row.dataset} / {row.model} / {row.roi} / {row.task}: "
                f"{row.diff:+.3f} [{_fmt(row.ci_low)}, {_fmt(row.ci_high)}], p = {_fmt_p(row.p)}, q = {_fmt_p(row.q)} "
                f"({int(row.n_subjects)} subjects)"
                for row in main.sort_values(["direction", "dataset", "model", "roi", "task"]).itertuples()
            ]
            blocks.append(Block("ul", tuple(lines)))
            top = subject_rows[(subject_rows["contrast"] == contrast) & (subject_rows["layer"] == layer)]
            top = top.reindex(top["diff"].abs().sort_values(ascending=False, kind="stable").index).head(5)
            if not top.empty:
                blocks.append(Block("p", f"Largest per-subject {contrast} differences (paired test over stimuli):"))
                blocks.append(Block("ul", tuple(
                    f"{row.subject} / {row.direction} / {row.roi} / {row.task}: {row.diff:+.3f} "
                    f"[{_fmt(row.ci_low)}, {_fmt(row.ci_high)}], p = {_fmt_p(row.p)}, q = {_fmt_p(row.q)}"
                    for row in top.itertuples()
                )))
    if task_scores is not None and not task_scores.empty:
        f1 = task_scores[task_scores["metric"].isin(["bertscore_f1", "accuracy"])]
        if not f1.empty:
            blocks.append(Block("h2", "Task quality"))
            blocks.append(Block("ul", tuple(
                f"{row.model} / {row.task} / {row.method}: {row.metric} {_fmt(row.score)} "
                f"[{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]"
                for row in f1.sort_values(["model", "task", "method"]).itertuples()
            )))
    return blocks


def ceiling_blocks(ceilings: pd.DataFrame) -> list[Block]:
    """One line per dataset x ROI x direction x metric: the mean ceiling over subjects, each
    subject's ceiling with its CI, and the method (``ceilings.csv``; see docs/ceilings.md)."""
    lines = []
    keys = ["dataset", "roi", "direction", "metric"]
    for (dataset, roi, direction, metric), rows in ceilings.sort_values([*keys, "subject"]).groupby(keys, sort=True):
        per_subject = ", ".join(
            f"{row.subject} {_fmt(row.ceiling)} [{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]" for row in rows.itertuples()
        )
        lines.append(
            f"{dataset} / {roi} / {direction} {metric}: ceiling {_fmt(rows['ceiling'].mean())} "
            f"({', '.join(sorted(rows['method'].unique()))}; {per_subject})"
        )
    return [
        Block("h2", "Noise ceilings"),
        Block("p", (
            "How much stimulus-driven signal each ROI holds (normalised scores in decoding.csv and encoding.csv are "
            "(score - chance) / (ceiling - chance)); a cross-subject ceiling is a lower bound when subjects differ."
        )),
        Block("ul", tuple(lines)),
    ]


def to_markdown(blocks: Sequence[Block]) -> str:
    """Render blocks as Markdown."""
    lines = []
    for block in blocks:
        if block.kind == "h1":
            lines += [f"# {block.content}", ""]
        elif block.kind == "h2":
            lines += [f"## {block.content}", ""]
        elif block.kind == "ul":
            lines += [f"- {item}" for item in block.content] + [""]
        else:
            lines += [str(block.content), ""]
    return "\n".join(lines)


def to_html(blocks: Sequence[Block], *, title: str) -> str:
    """Render blocks as a standalone HTML page (text escaped)."""
    body = []
    for block in blocks:
        if block.kind in ("h1", "h2"):
            body.append(f"<{block.kind}>{html.escape(str(block.content))}</{block.kind}>")
        elif block.kind == "ul":
            body.append("<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in block.content) + "</ul>")
        else:
            body.append(f"<p>{html.escape(str(block.content))}</p>")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html.escape(title) + "</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto;line-height:1.4}</style></head><body>\n"
        + "\n".join(body) + "\n</body></html>\n"
    )
