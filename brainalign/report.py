"""Generated text: the methods section (from the config actually used) and a results summary.

Both are built as a small list of blocks (headings, paragraphs, bullet lists) rendered to
Markdown (``results/summary.md``) and to HTML (the page the Snakemake report shows), so the
two never disagree.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from brainalign.comparisons import main_contrast
from brainalign.families import benjamini_hochberg
from brainalign.tables import all_pairs
from brainalign.tuning.grid import learning_rate_grid
from brainalign.tuning.table import selected_settings


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


def _join(values: Iterable[object]) -> str:
    values = list(values)
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
        details = []
        for method in methods:
            grid = learning_rate_grid(tuning.get(method, {}), key=f"tuning.{method}")
            optimizer = tuning.get(method, {}).get("optimizer", "adamw")
            details.append(f"{method}: learning rates searched {_join(f'{rate:g}' for rate in grid)} ({optimizer})")
        if "prompt" in methods:
            details.append(f"soft prompt of {tuning.get('prompt', {}).get('num_virtual_tokens', '?')} virtual tokens")
        if "lora" in methods:
            lora = tuning.get("lora", {})
            details.append(f"LoRA of rank {lora.get('rank', '?')} (alpha {lora.get('alpha', '?')}) on the attention weights")
        budget = (
            f"{tuning['epochs']:g} epochs" if tuning.get("epochs") is not None else f"{tuning.get('steps', '?')} optimizer steps"
        )
        blocks.append(Block("p", (
            f"Tuning. Tasks {_join(tasks)}; methods {_join(methods)} (plus the untuned base model), each candidate "
            f"learning rate with {budget} of batch size {tuning.get('batch_size', '?')}, the same data "
            f"order and seed, the winner chosen on the validation split; {'; '.join(details)}."
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
    smallest = {**{"two_vs_two": 0.01, "pearson": 0.005}, **statistics.get("smallest_effect", {})}
    blocks.append(Block("p", (
        "Statistics. The exchangeable unit is the cross-validation group (passage or image), never the single "
        f"sentence: {level:.0%} percentile bootstrap CIs redraw whole groups ({statistics.get('n_bootstrap', '?')} "
        "resamples, widened by how much refitting spreads the null); one-sided permutation p-values against "
        "chance give whole groups the targets of groups of the same size, session and outer fold and refit every "
        f"ridge model, alpha choice included ({statistics.get('n_permutations', '?')} permutations). Encoding's "
        "Pearson r is computed within folds and averaged over folds. Subjects with "
        "several sessions also get 2v2 over within-session and over cross-session pairs (column pairs). Paired "
        "contrasts of model variants on the same stimulus pairs swap the variants' predictions group by group "
        "(per subject: generalises over stimuli for that subject). At the group level, two tests: over stimuli, "
        "one group-swap pattern (and one bootstrap draw of groups) is applied to every subject at once and the "
        "statistic is the mean difference over subjects, so it generalises to new passages/images for these "
        "subjects; over subjects, a sign-flip test and a t-interval of the per-subject differences generalise to "
        "new subjects but cannot go below p = 2/2^subjects (column min_p). Benjamini-Hochberg q-values within "
        "declared families, direction x contrast x level (per subject; group over stimuli; group over subjects); "
        f"significant: q < {statistics.get('fdr_alpha', 0.05):g}; scores are called above chance from their q "
        "within direction x metric x pairs. The primary contrast is "
        f"{statistics.get('primary_contrast', 'prompt-finetune')}. A contrast whose CI lies inside "
        f"+-{smallest['two_vs_two']:g} (2v2) is negligible; a significant one smaller than that is marked as such. "
        f"Seed {config.get('seed', '?')}; every resampling seed derives from it and the row it belongs to."
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


_OVER_STIMULI = "stimuli"


def _difference_text(row: object) -> str:
    """``+0.031 [0.012, 0.050], p = ..., q = ...`` with the effect label when it is not a plain one."""
    text = (f"{row.diff:+.3f} [{_fmt(row.ci_low)}, {_fmt(row.ci_high)}], p = {_fmt_p(row.p)}, "
            f"q = {_fmt_p(row.q)}")
    effect = getattr(row, "effect", "")
    if effect == "negligible":
        return f"negligible difference ({text}: the CI lies inside the smallest effect of interest)"
    if effect == "significant_small":
        return f"{text}; significant but smaller than the smallest effect of interest"
    return text


def _headline_blocks(comparisons: pd.DataFrame, *, fdr_alpha: float) -> list[Block]:
    """The primary contrast at the group level over stimuli, per ROI (deepest layer)."""
    contrast = main_contrast(comparisons)
    rows = comparisons[(comparisons["contrast"] == contrast) & (comparisons["subject"] == "all")]
    if "generalises_over" in rows.columns:
        rows = rows[rows["generalises_over"] == _OVER_STIMULI]
    if rows.empty:
        return []
    layer = int(rows["layer"].max())
    rows = rows[rows["layer"] == layer].sort_values(["direction", "dataset", "model", "roi", "task"])
    lines = []
    for row in rows.itertuples():
        where = f"{row.direction} / {row.dataset} / {row.model} / {row.roi} / {row.task}"
        if getattr(row, "effect", "") in ("negligible", "significant_small"):
            lines.append(f"{where}: {_difference_text(row)}")
        else:
            verdict = "significant" if row.q < fdr_alpha else "not significant"
            lines.append(f"{where}: {_difference_text(row)} ({verdict} at q < {fdr_alpha:g})")
    return [
        Block("h2", f"Headline: {contrast} (primary contrast), group level over stimuli, layer {layer}"),
        Block("p", (
            f"Mean over {int(rows['n_subjects'].max())} subject(s) of the 2v2 difference on the stimuli they share; "
            "CI and p resample passages/images with one pattern shared by every subject, so the result generalises "
            "to new stimuli for these subjects (not to new subjects; see the over-subject rows below)."
        )),
        Block("ul", tuple(lines)),
    ]


def _contrast_blocks(comparisons: pd.DataFrame, *, fdr_alpha: float) -> list[Block]:
    """Counts per contrast, the over-subject test with its floor, and the largest per-subject differences."""
    blocks = [Block("h2", "Contrasts between model variants")]
    subject_rows = comparisons[comparisons["subject"] != "all"]
    group_rows = comparisons[comparisons["subject"] == "all"]
    counts = []
    for (direction, contrast), rows in subject_rows.groupby(["direction", "contrast"], sort=True):
        decided = rows[rows["q"] < fdr_alpha]
        negligible = int((rows["effect"] == "negligible").sum()) if "effect" in rows.columns else 0
        counts.append(
            f"{direction}, {contrast}: {int((decided['diff'] > 0).sum())} per-subject contrasts significantly "
            f"positive and {int((decided['diff'] < 0).sum())} significantly negative (q < {fdr_alpha:g}) of "
            f"{len(rows)}, {negligible} negligible; mean difference {_fmt(rows['diff'].mean())}"
        )
    blocks.append(Block("ul", tuple(counts)))
    contrast = main_contrast(comparisons)
    over_subjects = group_rows[group_rows["contrast"] == contrast]
    if "generalises_over" in over_subjects.columns:
        over_subjects = over_subjects[over_subjects["generalises_over"] != _OVER_STIMULI]
    if not over_subjects.empty:
        layer = int(over_subjects["layer"].max())
        main = over_subjects[over_subjects["layer"] == layer]
        floor = main["min_p"].min() if "min_p" in main.columns else float("nan")
        blocks.append(Block("p", (
            f"{contrast} over subjects at layer {layer} (mean difference [t-interval over subjects], sign-flip p, "
            f"BH q). This test generalises to new subjects, but with {int(main['n_subjects'].max())} subject(s) "
            f"its p cannot go below {_fmt_p(floor)}:"
        )))
        blocks.append(Block("ul", tuple(
            f"{row.direction} / {row.dataset} / {row.model} / {row.roi} / {row.task}: {_difference_text(row)} "
            f"({int(row.n_subjects)} subjects)"
            for row in main.sort_values(["direction", "dataset", "model", "roi", "task"]).itertuples()
        )))
        top = subject_rows[(subject_rows["contrast"] == contrast) & (subject_rows["layer"] == layer)]
        if "effect" in top.columns:
            top = top[top["effect"] != "negligible"]
        top = top.reindex(top["diff"].abs().sort_values(ascending=False, kind="stable").index).head(5)
        if not top.empty:
            blocks.append(Block("p", f"Largest per-subject {contrast} differences (paired test over stimuli):"))
            blocks.append(Block("ul", tuple(
                f"{row.subject} / {row.direction} / {row.roi} / {row.task}: {_difference_text(row)}"
                for row in top.itertuples()
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

    It leads with the primary contrast (``primary`` rows of ``comparisons.csv``) at the group
    level over stimuli, per ROI; a negligible difference (``effect``) is stated as such, never
    as a difference. Scores are called above chance from their BH q, not their raw p.

    Parameters
    ----------
    scores : mapping
        direction -> long score table (``decoding.csv``, ``encoding.csv``).
    comparisons : pandas.DataFrame
        ``comparisons.csv``.
    task_scores : pandas.DataFrame, optional
        ``task_scores.csv``.
    fdr_alpha : float
        q below which a contrast is called significant and a score above chance.
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
    if not comparisons.empty:
        blocks += _headline_blocks(comparisons, fdr_alpha=fdr_alpha)
    for direction, frame in sorted(scores.items()):
        two_vs_two = frame[frame["metric"] == "2v2"]
        if two_vs_two.empty:
            continue
        two_vs_two = all_pairs(two_vs_two)
        # Above chance is decided on q: BH over every 2v2 score of the direction (over all pairs).
        q_values = pd.Series(benjamini_hochberg(two_vs_two["p_value"].to_numpy(dtype=np.float64)), index=two_vs_two.index)
        base = two_vs_two[two_vs_two["method"] == "base"]
        layer = int(two_vs_two["layer"].max())
        lines = []
        for (dataset, model, roi), rows in base[base["layer"] == layer].groupby(["dataset", "model", "roi"]):
            significant = int((q_values.loc[rows.index] < fdr_alpha).sum())
            lines.append(
                f"{dataset} / {model} / {roi}: mean 2v2 {_fmt(rows['score'].mean())} over {len(rows)} subject(s) "
                f"(per-subject {', '.join(_fmt(s) for s in rows['score'])}; {significant} of {len(rows)} above "
                f"chance at q < {fdr_alpha:g})"
            )
        if lines:
            blocks.append(Block("h2", f"{direction.capitalize()}: the untuned model (layer {layer})"))
            blocks.append(Block("ul", tuple(lines)))
    if ceilings is not None and not ceilings.empty:
        blocks += ceiling_blocks(ceilings)
    if not comparisons.empty:
        blocks += _contrast_blocks(comparisons, fdr_alpha=fdr_alpha)
    if task_scores is not None and not task_scores.empty:
        blocks += task_quality_blocks(task_scores)
    return blocks


def task_quality_blocks(task_scores: pd.DataFrame) -> list[Block]:
    """Task quality (BERTScore F1 or accuracy) per model / task / method, with each task's scorer.

    Each BERTScore task gets a line naming its scorer, layer and language; a task whose
    scorer is not made for its language is marked NOT VALID with the table's note, in its
    scorer line and in every score line.
    """
    f1 = task_scores[task_scores["metric"].isin(["bertscore_f1", "accuracy"])]
    if f1.empty:
        return []
    blocks = [Block("h2", "Task quality")]
    valid = f1["scorer_valid"] if "scorer_valid" in f1.columns else pd.Series(True, index=f1.index)
    if "scorer" in f1.columns:
        scorers = f1[f1["metric"] == "bertscore_f1"].drop_duplicates(["model", "task"])
        lines = []
        for row in scorers.sort_values(["model", "task"]).itertuples():
            layer = "?" if pd.isna(row.scorer_layer) else int(row.scorer_layer)
            note = f" — {row.note}" if isinstance(row.note, str) and row.note else ""
            lines.append(f"{row.model} / {row.task}: BERTScore by {row.scorer}, layer {layer}, {row.language} references{note}")
        if lines:
            blocks.append(Block("p", "Scorers (BERTScore F1 below is raw; task_scores.csv also has the rescaled F1):"))
            blocks.append(Block("ul", tuple(lines)))
    rows = f1.assign(valid=valid.astype(bool)).sort_values(["model", "task", "method"])
    blocks.append(Block("ul", tuple(
        f"{row.model} / {row.task} / {row.method}: {row.metric} {_fmt(row.score)} "
        f"[{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]" + ("" if row.valid else " (NOT VALID: scorer not made for this language)")
        for row in rows.itertuples()
    )))
    return blocks


def tuning_blocks(table: pd.DataFrame) -> list[Block]:
    """The hyperparameter-search section: the learning rate chosen per model x task x method.

    Parameters
    ----------
    table : pandas.DataFrame
        ``tuning.csv`` (:data:`brainalign.tuning.table.TUNING_COLUMNS`).

    Returns
    -------
    list of Block
        A heading, how the winners were chosen, one item per checkpoint (the chosen rate,
        the grid, optimizer, steps and the validation score) and a note naming the choices
        at the edge of their grid (the search may not have bracketed the optimum).
    """
    if table.empty:
        return []
    chosen = selected_settings(table)
    winners = table[table["selected"].astype(bool)].set_index(["model", "task", "method"])
    sizes = sorted(table.groupby(["model", "task", "method"]).size().unique())
    blocks = [
        Block("h2", "Hyperparameter search"),
        Block("p", (
            f"Every tuned method searched a learning-rate grid of {_join(sizes)} value(s), each candidate with the "
            "same budget, data order and seed; text checkpoints were chosen on validation loss, vision checkpoints "
            "on validation accuracy (ties to loss). Only the chosen checkpoint is used downstream; every candidate's "
            "validation curve is in tables/tuning_curves.csv and the tuning-curves figure."
        )),
    ]
    items, edges = [], []
    for row in chosen.itertuples():
        winner = winners.loc[(row.model, row.task, row.method)]
        score = (
            f"validation accuracy {_fmt(winner['validation_accuracy'])}, loss {_fmt(winner['validation_loss'])}"
            if row.criterion == "validation_accuracy" else f"validation loss {_fmt(winner['validation_loss'])}"
        )
        items.append(
            f"{row.model} / {row.task} / {row.method}: learning rate {row.learning_rate:g} of [{row.grid}] "
            f"({row.optimizer}, {row.steps} steps); {score}"
        )
        rates = sorted(table[(table["model"] == row.model) & (table["task"] == row.task)
                             & (table["method"] == row.method)]["learning_rate"])
        if len(rates) > 1 and row.learning_rate in (rates[0], rates[-1]):
            edges.append(f"{row.model} / {row.task} / {row.method}")
    blocks.append(Block("ul", tuple(items)))
    if edges:
        blocks.append(Block("p", (
            f"Chosen at the edge of its grid (the optimum may lie outside it; widen the grid): {_join(edges)}."
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
