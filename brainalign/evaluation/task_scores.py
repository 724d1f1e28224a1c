"""Task-score tables of the text models: per-example BERTScore, summaries, paper Table I.

:func:`evaluate_generations` scores the generations of one model variant
(:mod:`brainalign.evaluation.generation`) with the task's scorer
(:mod:`brainalign.evaluation.scorers`); :func:`gather_task_scores` summarises every
per-example file into the long ``task_scores.csv`` and :func:`bertscore_table` /
:func:`task_score_pivot` pivot it into the paper's tables.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainalign.errors import ConfigError, DataError
from brainalign.evaluation.bertscore import bertscore, rescale
from brainalign.evaluation.scorers import Scorer, ScorerSettings, resolve_scorer
from brainalign.tables import ordered_methods

logger = logging.getLogger(__name__)

#: Columns naming the scorer of a task (the same in every row of one file).
SCORER_COLUMNS: tuple[str, ...] = ("scorer", "scorer_layer", "language", "scorer_valid", "note")
#: Per-example score columns written by :func:`evaluate_generations`.
PER_EXAMPLE_COLUMNS: tuple[str, ...] = (
    "id", "prompt", "target", "generation", "precision", "recall", "f1", "f1_rescaled", *SCORER_COLUMNS
)
#: Columns of the long task-score table written by :func:`summarise_scores`.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "model", "task", "method", "metric", "score", "n", "ci_low", "ci_high", *SCORER_COLUMNS
)
#: Metric name in the summary table -> per-example column it averages.
SUMMARY_METRICS: dict[str, str] = {
    "bertscore_precision": "precision",
    "bertscore_recall": "recall",
    "bertscore_f1": "f1",
}
#: Baseline-rescaled F1 (NaN where bert-score ships no baseline for the scorer and language).
RESCALED_METRICS: dict[str, str] = {"bertscore_f1_rescaled": "f1_rescaled"}
#: The same for image classification (:mod:`brainalign.image_evaluation`): accuracy is
#: the mean of the per-example 0/1 ``correct`` column.
ACCURACY_METRICS: dict[str, str] = {"accuracy": "correct"}


def evaluate_generations(
    records: Sequence[Mapping[str, Any]],
    generations: Sequence[str],
    *,
    model_type: str | os.PathLike | None = None,
    num_layers: int | None = None,
    batch_size: int = 32,
    device: str | None = None,
    scorer: Scorer | None = None,
) -> pd.DataFrame:
    """Per-example table of generations and their BERTScore against the targets.

    Parameters
    ----------
    records : sequence of mapping
        Test-split records ``{"id", "prompt", "target"}``, in the order of ``generations``.
    generations : sequence of str
        The model's continuation of each record's prompt (see
        :func:`brainalign.evaluation.generation.generate`).
    model_type, num_layers
        An English scorer for :func:`brainalign.evaluation.bertscore.bertscore` (``None``:
        the offline all-MiniLM-L6-v2); only without ``scorer``.
    batch_size, device
        Passed to :func:`brainalign.evaluation.bertscore.bertscore`.
    scorer : Scorer, optional
        The task's scorer (:func:`brainalign.evaluation.scorers.resolve_scorer`), e.g. one
        for French references.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PER_EXAMPLE_COLUMNS`, one row per record, in record order:
        ``precision, recall, f1`` raw BERTScore, ``f1_rescaled`` baseline-rescaled F1 (NaN
        without a baseline), and the scorer's ``scorer, scorer_layer, language,
        scorer_valid, note`` in every row.

    Raises
    ------
    DataError
        Different numbers of records and generations, a record without id / prompt /
        target, or duplicate ids.
    ConfigError
        Both ``scorer`` and ``model_type`` / ``num_layers``.
    """
    if scorer is None:
        model = None if model_type is None else os.fspath(model_type)
        scorer = resolve_scorer(ScorerSettings("en", model, num_layers))
    elif model_type is not None or num_layers is not None:
        raise ConfigError("evaluate_generations: give either scorer or model_type / num_layers, not both")
    records = list(records)
    generations = list(generations)
    if len(records) != len(generations):
        raise DataError(
            f"evaluate_generations: {len(records)} records but {len(generations)} generations; "
            "there must be one generation per test record"
        )
    for i, record in enumerate(records):
        missing = [key for key in ("id", "prompt", "target") if key not in record]
        if missing:
            raise DataError(f"evaluate_generations: record {i} lacks {missing}; records need id, prompt and target")
    frame = pd.DataFrame(
        {
            "id": [record["id"] for record in records],
            "prompt": [record["prompt"] for record in records],
            "target": [record["target"] for record in records],
            "generation": ["" if g is None else g for g in generations],
        }
    )
    duplicated = frame["id"][frame["id"].duplicated()].unique().tolist()
    if duplicated:
        raise DataError(f"evaluate_generations: duplicate record ids {duplicated[:5]}")
    scores = bertscore(
        frame["generation"].tolist(),
        frame["target"].tolist(),
        model_type=scorer.model,
        num_layers=scorer.num_layers,
        batch_size=batch_size,
        device=device,
    )
    for key in ("precision", "recall", "f1"):
        frame[key] = scores[key]
    frame["f1_rescaled"] = np.nan if scorer.baseline is None else rescale(scores["f1"], scorer.baseline[2])
    frame["scorer"] = scorer.name
    frame["scorer_layer"] = scorer.num_layers
    frame["language"] = scorer.language
    frame["scorer_valid"] = scorer.valid
    frame["note"] = scorer.note
    return frame.loc[:, list(PER_EXAMPLE_COLUMNS)]


def _bootstrap_ci(values: np.ndarray, *, n_boot: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over examples."""
    if values.size < 2 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, min(n_boot, 2_000_000 // values.size))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        index = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[index].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def summarise_scores(
    per_example: pd.DataFrame,
    *,
    model: str,
    task: str,
    method: str,
    n_boot: int = 1000,
    seed: int = 0,
    metrics: Mapping[str, str] = SUMMARY_METRICS,
) -> pd.DataFrame:
    """Mean BERTScore (or accuracy) of one model x task x method, as a long table.

    Parameters
    ----------
    per_example : pandas.DataFrame
        Output of :func:`evaluate_generations` (needs ``precision``, ``recall``, ``f1``;
        its scorer columns :data:`SCORER_COLUMNS` are carried over), or of
        :func:`brainalign.image_evaluation.classify`.
    model, task, method : str
        Labels of the checkpoint (``method`` in ``base`` / ``prompt`` / ``finetune``).
    n_boot, seed : int
        Bootstrap resamples (over examples) and seed of the 95% CI of each mean.
    metrics : mapping
        Metric name -> per-example column: :data:`SUMMARY_METRICS` (default), with
        :data:`RESCALED_METRICS`, or :data:`ACCURACY_METRICS`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`; one row per metric (e.g.
        ``bertscore_precision``, ``bertscore_recall``, ``bertscore_f1``), where ``score``
        is the mean over the ``n`` examples. A rescaled metric without a baseline (its
        column all NaN) has NaN score and CI. BERTScore rows name the scorer; a file
        that does not is marked ``scorer_valid = False``; accuracy rows have no scorer.

    Raises
    ------
    DataError
        A score column is missing, the table is empty, a score is not finite (rescaled
        scores: some but not all NaN), or the rows name different scorers.
    """
    missing = [column for column in metrics.values() if column not in per_example.columns]
    if missing:
        raise DataError(f"summarise_scores: the per-example table lacks the columns {missing}")
    if len(per_example) == 0:
        raise DataError(f"summarise_scores: no examples to summarise for {model}/{task}/{method}")
    scorer = _scorer_of(per_example, metrics, where=f"{model}/{task}/{method}")
    rows = []
    for metric, column in metrics.items():
        values = pd.to_numeric(per_example[column].replace({"": np.nan})).to_numpy(dtype=np.float64)
        if metric in RESCALED_METRICS and np.isnan(values).all():
            low = high = mean = float("nan")
        elif not np.isfinite(values).all():
            raise DataError(f"summarise_scores: column {column!r} of {model}/{task}/{method} has non-finite scores")
        else:
            low, high = _bootstrap_ci(values, n_boot=n_boot, seed=seed)
            mean = float(values.mean())
        rows.append(
            {
                "model": model,
                "task": task,
                "method": method,
                "metric": metric,
                "score": mean,
                "n": int(values.size),
                "ci_low": low,
                "ci_high": high,
                **scorer,
            }
        )
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    summary["scorer_layer"] = summary["scorer_layer"].astype("Int64")
    return summary


def _scorer_of(per_example: pd.DataFrame, metrics: Mapping[str, str], *, where: str) -> dict[str, Any]:
    """The scorer columns of a summary row (the same in every row of a per-example file)."""
    if not any(metric.startswith("bertscore") for metric in metrics):
        return {"scorer": "", "scorer_layer": pd.NA, "language": "", "scorer_valid": True, "note": ""}
    if not all(column in per_example.columns for column in SCORER_COLUMNS):
        return {
            "scorer": "unknown", "scorer_layer": pd.NA, "language": "", "scorer_valid": False,
            "note": "the per-example file does not name its scorer; rerun the evaluate rule",
        }
    varying = [column for column in SCORER_COLUMNS if per_example[column].nunique(dropna=False) > 1]
    if varying:
        raise DataError(f"summarise_scores: the examples of {where} name different scorers (columns {varying})")
    first = per_example.iloc[0]
    valid = first["scorer_valid"]
    return {
        "scorer": str(first["scorer"]),
        "scorer_layer": int(first["scorer_layer"]),
        "language": str(first["language"]),
        "scorer_valid": valid if isinstance(valid, (bool, np.bool_)) else str(valid) == "True",
        "note": str(first["note"]),
    }


def gather_task_scores(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Summarise per-example evaluation files laid out as ``.../{model}/{task}/{method}.csv``.

    Text files (BERTScore columns) give the BERTScore metrics (and the rescaled F1 when
    the file has it), image files (a ``correct`` column) give ``accuracy``.

    Returns
    -------
    pandas.DataFrame
        :func:`summarise_scores` of every file, sorted by model, task, method and metric.
    """
    summaries = []
    for path in map(Path, paths):
        model, task, method = path.parts[-3], path.parts[-2], path.stem
        per_example = pd.read_csv(path, keep_default_na=False)
        if "correct" in per_example.columns:
            metrics = ACCURACY_METRICS
        elif "f1_rescaled" in per_example.columns:
            metrics = {**SUMMARY_METRICS, **RESCALED_METRICS}
        else:
            metrics = SUMMARY_METRICS
        summaries.append(summarise_scores(per_example, model=model, task=task, method=method, metrics=metrics))
    if not summaries:
        raise DataError("no evaluation files to summarise; check the config's tasks and models")
    scores = pd.concat(summaries, ignore_index=True)
    return scores.sort_values(["model", "task", "method", "metric"], kind="stable").reset_index(drop=True)


#: The rows of :func:`bertscore_table` per model x task: column ``f1`` -> metric.
TABLE_ONE_ROWS: dict[str, str] = {"raw": "bertscore_f1", "rescaled": "bertscore_f1_rescaled"}


def bertscore_table(task_scores: pd.DataFrame) -> pd.DataFrame:
    """Paper Table I with its scorers: BERTScore F1 per model x task, raw and rescaled.

    Parameters
    ----------
    task_scores : pandas.DataFrame
        The long task-score table (rows of other metrics are ignored).

    Returns
    -------
    pandas.DataFrame
        Columns ``model, task, scorer, scorer_layer, language, f1``, one per method that
        occurs (``base, prompt, finetune, ...``), then ``scorer_valid, note``; per model x
        task a ``raw`` row (``f1``) and, where the per-example files have it, a
        ``rescaled`` row (NaN without a bert-score baseline, the note says so). Sorted by
        model, task, then raw before rescaled.

    Raises
    ------
    DataError
        No BERTScore F1 rows, or the methods of one task were scored by different scorers.
    """
    parts = []
    for kind, metric in TABLE_ONE_ROWS.items():
        if (task_scores["metric"] == metric).any():
            pivot = task_score_pivot(task_scores, metric=metric)
            pivot.insert(2, "f1", kind)
            parts.append(pivot)
    if not parts:
        raise DataError("bertscore_table: no bertscore_f1 rows in the task-score table")
    table = pd.concat(parts, ignore_index=True)
    methods = ordered_methods([c for c in table.columns if c not in ("model", "task", "f1")])
    scorers = task_scores.loc[task_scores["metric"].isin(list(TABLE_ONE_ROWS.values())), ["model", "task", *SCORER_COLUMNS]]
    scorers = scorers.drop_duplicates()
    duplicated = scorers.duplicated(["model", "task"], keep=False)
    if duplicated.any():
        first = scorers.loc[duplicated, ["model", "task"]].iloc[0].tolist()
        raise DataError(f"bertscore_table: the methods of model/task {first} were scored by different scorers")
    table = table.merge(scorers, on=["model", "task"], how="left", validate="many_to_one")
    table["order"] = table["f1"].map({kind: i for i, kind in enumerate(TABLE_ONE_ROWS)})
    table = table.sort_values(["model", "task", "order"], kind="stable").reset_index(drop=True)
    columns = ["model", "task", "scorer", "scorer_layer", "language", "f1", *methods, "scorer_valid", "note"]
    return table.loc[:, columns]


def task_score_pivot(task_scores: pd.DataFrame, *, metric: str = "bertscore_f1") -> pd.DataFrame:
    """Paper Table I: one row per model x task, one column per method (base, prompt, finetune).

    Parameters
    ----------
    task_scores : pandas.DataFrame
        Concatenated outputs of :func:`summarise_scores`.
    metric : str
        The metric shown (default BERTScore F1).

    Returns
    -------
    pandas.DataFrame
        Columns ``model, task`` and then those of ``base, prompt, finetune`` that occur,
        sorted by model and task; a missing combination is NaN.

    Raises
    ------
    DataError
        Missing columns, no rows for ``metric``, or two rows for the same
        model x task x method x metric.
    """
    needed = ["model", "task", "method", "metric", "score"]
    missing = [column for column in needed if column not in task_scores.columns]
    if missing:
        raise DataError(f"task_score_pivot: the task-score table lacks the columns {missing}")
    selected = task_scores[task_scores["metric"] == metric]
    if selected.empty:
        raise DataError(f"task_score_pivot: no rows with metric {metric!r}")
    keys = ["model", "task", "method"]
    duplicated = selected.duplicated(keys, keep=False)
    if duplicated.any():
        first = selected.loc[duplicated, keys].iloc[0].tolist()
        raise DataError(f"task_score_pivot: several {metric} rows for model/task/method {first}")
    pivot = selected.pivot(index=["model", "task"], columns="method", values="score")
    pivot = pivot[ordered_methods(pivot.columns)].reset_index().sort_values(["model", "task"], kind="stable").reset_index(drop=True)
    pivot.columns.name = None
    return pivot
