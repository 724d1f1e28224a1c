"""Long-format score tables: one row per dataset x subject x ROI x model variant x layer x metric.

Tables are written with a fixed column order, row order and float format, so that the same
config and seed give byte-identical files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd

from brainalign.errors import DataError
from brainalign.io import atomic_output

KEY_COLUMNS: tuple[str, ...] = (
    "direction",
    "dataset",
    "subject",
    "roi",
    "model",
    "task",
    "method",
    "layer",
    "metric",
    "pairs",
)
"""Columns that identify a score; no two rows of a table share them."""

TABLE_COLUMNS: tuple[str, ...] = (
    "direction",
    "dataset",
    "simulated",
    "subject",
    "roi",
    "n_voxels",
    "n_stimuli",
    "model",
    "task",
    "method",
    "layer",
    "metric",
    "pairs",
    "score",
    "ci_low",
    "ci_high",
    "p_value",
    "alphas",
)
"""``pairs``: the stimulus pairs a 2v2 score averages over (``all``; with several sessions also
``within_session`` and ``cross_session``, :data:`brainalign.alignment.PAIR_SETS`);
``ci_low``/``ci_high``: bootstrap CI over CV groups; ``p_value``: permutation p against chance,
whole groups permuted (see :mod:`brainalign.stats`); ``alphas``: the ridge penalty chosen in each
outer fold, joined with ``;`` (median over targets per fold with ``ridge.per_target_alpha``;
:func:`brainalign.ridge.chosen_alphas_label`)."""

ALL_PAIRS = "all"
"""The ``pairs`` value of the score over every pair of stimuli: what pivots and figures show."""


def all_pairs(scores: pd.DataFrame) -> pd.DataFrame:
    """The rows of a score table scored over all pairs (``pairs == "all"``)."""
    return scores[scores["pairs"] == ALL_PAIRS] if "pairs" in scores.columns else scores


OPTIONAL_COLUMNS: tuple[str, ...] = ("ceiling", "normalised_score")
"""Columns the gathered tables add after :data:`TABLE_COLUMNS` when noise ceilings are on
(:func:`brainalign.ceilings.normalise_scores`); kept, in this order, when present."""

DIRECTIONS: tuple[str, ...] = ("decoding", "encoding")

UNTUNED_TASK = "none"
"""The task of variants that were not tuned on any task."""
UNTUNED_METHODS: tuple[str, ...] = ("base", "random")
"""Variants of task ``none``: the pre-trained model and its untrained twin (a floor)."""
METHOD_ORDER: tuple[str, ...] = ("base", "prompt", "finetune", "lora", "random")
"""How tables, contrasts and figures order methods; methods not listed follow, sorted."""


def ordered_methods(methods: Sequence[str]) -> list[str]:
    """The distinct ``methods`` in :data:`METHOD_ORDER` order."""
    rank = {method: i for i, method in enumerate(METHOD_ORDER)}
    return sorted(dict.fromkeys(methods), key=lambda m: (rank.get(m, len(rank)), m))
FLOAT_FORMAT = "%.6f"


def canonical_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with the table columns in order (then any :data:`OPTIONAL_COLUMNS`)
    and rows sorted by the key columns.

    Raises
    ------
    DataError
        If a column is missing or two rows share the same key.
    """
    missing = [column for column in TABLE_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(
            f"score table lacks the columns {missing}; expected {list(TABLE_COLUMNS)}. A per-subject table "
            "written by an older version (e.g. without 'alphas'): rerun the ridge jobs (snakemake --forcerun ridge)"
        )
    frame = frame.loc[:, [*TABLE_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in frame.columns)]]
    duplicated = frame.duplicated(subset=list(KEY_COLUMNS), keep=False)
    if duplicated.any():
        raise DataError(
            "score table has several rows for the same key:\n"
            + frame.loc[duplicated, list(KEY_COLUMNS)].head(10).to_string(index=False)
        )
    return frame.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a score table atomically, canonically ordered, with a fixed float format."""
    write_frame(canonical_table(frame), path)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a score table written by :func:`write_table`."""
    try:
        frame = pd.read_csv(path, dtype={"subject": str, "roi": str, "task": str, "alphas": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"cannot read score table {path}: {error}; delete it and rerun") from error
    return canonical_table(frame)


def gather_scores(paths: Sequence[str | os.PathLike]) -> dict[str, pd.DataFrame]:
    """Concatenate per-subject score tables and split them by direction.

    Returns
    -------
    dict
        ``{"decoding": frame, "encoding": frame}``; a direction that was not run gives an
        empty frame with the table columns.
    """
    if not paths:
        raise DataError("no per-subject score tables to gather; check the config's subjects and models")
    scores = canonical_table(pd.concat([read_table(path) for path in paths], ignore_index=True))
    return {
        direction: scores[scores["direction"] == direction].reset_index(drop=True)
        for direction in DIRECTIONS
    }


def paper_pivot(scores: pd.DataFrame, *, metric: str = "2v2", datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """Tables II-V of the reference paper: per ROI, rows = task, columns = method.

    Parameters
    ----------
    scores : pandas.DataFrame
        A long table of one direction (e.g. ``decoding.csv``); only its ``pairs == "all"``
        rows are pivoted.
    metric : str
        The metric to pivot.
    datasets : sequence of str, optional
        Keep only these brain data sets (e.g. ``["pereira"]`` for the text arm's tables).

    Returns
    -------
    pandas.DataFrame
        One row per dataset x model x layer x ROI x subject x task, with one column per
        tuned method, a ``base`` column holding the untuned model's score (the same for
        every task) and, when present, a ``random`` column (the untrained model's). ``subject == "mean"`` rows average over subjects. ``simulated`` (after
        ``dataset``) is True when any of the data set's rows is simulated.
    """
    keys = ["dataset", "model", "layer", "roi", "subject"]
    scores = all_pairs(scores)
    selected = scores[scores["metric"] == metric]
    if datasets is not None:
        selected = selected[selected["dataset"].isin(list(datasets))]
    if selected.empty:
        return pd.DataFrame(columns=["dataset", "simulated", *keys[1:], "task", "prompt", "finetune", "base"])
    with_mean = pd.concat(
        [selected, selected.groupby([*keys[:-1], "task", "method"], as_index=False)["score"].mean().assign(subject="mean")],
        ignore_index=True,
    )
    tuned = with_mean[~with_mean["method"].isin(UNTUNED_METHODS)]
    pivot = tuned.pivot_table(index=[*keys, "task"], columns="method", values="score").reset_index()
    pivot.columns.name = None
    untuned = [m for m in UNTUNED_METHODS if m == "base" or (with_mean["method"] == m).any()]
    for method in untuned:
        reference = with_mean[with_mean["method"] == method].set_index(keys)["score"].rename(method)
        pivot = pivot.join(reference, on=keys)
    methods = ordered_methods([c for c in pivot.columns if c not in (*keys, "task", *UNTUNED_METHODS)])
    pivot = pivot[[*keys, "task", *methods, *untuned]].sort_values([*keys, "task"], kind="stable").reset_index(drop=True)
    simulated = selected["simulated"].astype(bool).groupby(selected["dataset"]).any()
    pivot.insert(1, "simulated", pivot["dataset"].map(simulated).astype(bool))
    return pivot


VISION_PIVOT_ROIS: tuple[str, ...] = ("LOC", "OPA", "PPA", "RSC", "EarlyVis")
"""BOLD5000 ROIs of the vision pivots, in order: the paper's Table VII (LOC) and VIII (OPA) first."""

VISION_PIVOT_COLUMNS: tuple[str, ...] = (
    "direction", "dataset", "simulated", "model", "layer", "roi", "subject", "task", "task_name",
    "prompt", "finetune", "base",
)


def vision_pivot(
    tables: Mapping[str, pd.DataFrame],
    *,
    task_names: Mapping[str, str],
    dataset: str = "bold5000",
    rois: Sequence[str] = VISION_PIVOT_ROIS,
    metric: str = "2v2",
) -> pd.DataFrame:
    """Tables VII-VIII of the reference paper, extended: per direction x ROI, rows image task,
    columns prompt / finetune (/ lora) / base (/ random).

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Direction (``decoding``, ``encoding``) -> its long table.
    task_names : mapping of str to str
        Task -> the name tables must show (e.g. ``shapes10`` ->
        ``"shapes10 (synthetic stand-in for CIFAR-10)"``); unknown tasks keep their key.
    dataset : str
        The brain data set to pivot.
    rois : sequence of str
        ROIs to keep, in output order (default LOC, OPA, then PPA, RSC, EarlyVis).
    metric : str

    Returns
    -------
    pandas.DataFrame
        Columns :data:`VISION_PIVOT_COLUMNS` (with ``lora`` after ``finetune`` and ``random``
        last when those variants exist): one row per direction x model x layer x ROI x
        subject (and ``mean``) x task, as in :func:`paper_pivot`, with ``simulated`` (True when
        any of the data set's rows is simulated) and the task's display name. Empty (with
        these columns) when the tables hold no row of ``dataset``.
    """
    frames = []
    for direction, scores in tables.items():
        selected = scores[(scores["dataset"] == dataset) & scores["roi"].isin(list(rois))]
        if selected.empty:
            continue
        pivot = paper_pivot(selected, metric=metric)
        pivot.insert(0, "direction", direction)
        pivot["task_name"] = pivot["task"].map(lambda task: task_names.get(task, task))
        frames.append(pivot)
    if not frames:
        return pd.DataFrame(columns=list(VISION_PIVOT_COLUMNS))
    result = pd.concat(frames, ignore_index=True)
    for column in ("prompt", "finetune"):
        if column not in result.columns:
            result[column] = float("nan")
    roi_order = {roi: i for i, roi in enumerate(rois)}
    result = result.assign(_roi=result["roi"].map(roi_order))
    result = result.sort_values(["direction", "model", "layer", "_roi", "subject", "task"], kind="stable")
    columns = list(VISION_PIVOT_COLUMNS)
    if "lora" in result.columns:
        columns.insert(columns.index("finetune") + 1, "lora")
    if "random" in result.columns:
        columns.append("random")
    return result.loc[:, columns].reset_index(drop=True)


def write_frame(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write any result frame atomically, with the tables' float format and no index."""
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def read_task_scores(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``task_scores.csv`` (columns model, task, method, metric, score, n, ci_low, ci_high,
    and the scorer columns scorer, scorer_layer, language, scorer_valid, note).

    Empty scorer cells (image accuracy rows) read back as empty strings, ``scorer_layer`` as
    a nullable integer.
    """
    text = {"model": str, "task": str, "method": str, "scorer": str, "language": str, "note": str}
    try:
        frame = pd.read_csv(path, dtype=text)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"cannot read task scores {path}: {error}; delete it and rerun") from error
    for column in ("scorer", "language", "note"):
        if column in frame.columns:
            frame[column] = frame[column].fillna("")
    if "scorer_layer" in frame.columns:
        frame["scorer_layer"] = frame["scorer_layer"].astype("Int64")
    return frame
