"""The tuning tables: every candidate learning rate of every checkpoint, and its validation curve.

Gathered from the ``search`` record each checkpoint's ``tuning.json`` holds
(:func:`brainalign.tuning.search.search_record`):

- ``tables/tuning.csv``: one row per model x task x method x candidate learning rate
  (:data:`TUNING_COLUMNS`); ``selected`` marks the checkpoint the later stages use;
- ``tables/tuning_curves.csv``: one row per candidate x scored step (:data:`CURVE_COLUMNS`).

Rows are sorted by model, task, method and learning rate, so the same checkpoints give
byte-identical files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from brainalign.errors import DataError
from brainalign.io import atomic_output
from brainalign.tuning.methods import read_tuning_settings

#: Columns of tables/tuning.csv. ``validation_loss``: of the weights kept (the selection
#: criterion of text); ``best_validation_loss``: the lowest of the curve; ``steps``: trained;
#: ``validation_accuracy``: vision only (the selection criterion there), else empty.
TUNING_COLUMNS: tuple[str, ...] = (
    "model",
    "task",
    "method",
    "learning_rate",
    "selected",
    "best_validation_loss",
    "steps",
    "validation_loss",
    "validation_accuracy",
    "optimizer",
    "criterion",
)

#: Columns of tables/tuning_curves.csv (step 0 = before training).
CURVE_COLUMNS: tuple[str, ...] = ("model", "task", "method", "learning_rate", "selected", "step", "validation_loss")

_KEYS = ["model", "task", "method", "learning_rate"]


def gather_tuning(checkpoints: Sequence[tuple[str, str, str, str | os.PathLike]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tuning table and the curve table of some checkpoints.

    Parameters
    ----------
    checkpoints : sequence of (model, task, method, folder)

    Returns
    -------
    table, curves : pandas.DataFrame
        Columns :data:`TUNING_COLUMNS` and :data:`CURVE_COLUMNS`.

    Raises
    ------
    DataError
        A checkpoint without a search record (written before the search existed), or one
        whose record selects not exactly one candidate.
    """
    rows, curves = [], []
    for model, task, method, folder in checkpoints:
        search = read_tuning_settings(folder).get("search")
        if not isinstance(search, dict) or not search.get("candidates"):
            raise DataError(f"checkpoint {folder} has no learning-rate search record in tuning.json; rerun its tune job")
        candidates = search["candidates"]
        if sum(bool(c["selected"]) for c in candidates) != 1:
            raise DataError(f"checkpoint {folder}: its search record must select exactly one candidate")
        for c in candidates:
            key = {"model": model, "task": task, "method": method, "learning_rate": float(c["learning_rate"])}
            accuracy = c.get("validation_accuracy")
            rows.append({
                **key,
                "selected": bool(c["selected"]),
                "best_validation_loss": float(c["best_validation_loss"]),
                "steps": int(c["steps"]),
                "validation_loss": float(c["validation_loss"]),
                "validation_accuracy": float("nan") if accuracy is None else float(accuracy),
                "optimizer": search["optimizer"],
                "criterion": search["criterion"],
            })
            curves += [
                {**key, "selected": bool(c["selected"]), "step": int(step), "validation_loss": float(loss)}
                for step, loss in zip(c["curve"]["step"], c["curve"]["validation_loss"], strict=True)
            ]
    table = pd.DataFrame(rows, columns=list(TUNING_COLUMNS)).sort_values(_KEYS, kind="stable", ignore_index=True)
    curve_table = pd.DataFrame(curves, columns=list(CURVE_COLUMNS)).sort_values(
        [*_KEYS, "step"], kind="stable", ignore_index=True
    )
    return table, curve_table


def write_tuning_tables(
    table: pd.DataFrame, curves: pd.DataFrame, table_path: str | os.PathLike, curves_path: str | os.PathLike
) -> None:
    """Write both tables atomically, floats with 10 significant digits."""
    for frame, path in ((table, table_path), (curves, curves_path)):
        with atomic_output(Path(path)) as tmp:
            frame.to_csv(tmp, index=False, float_format="%.10g")


def read_tuning_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``tuning.csv`` or ``tuning_curves.csv`` (model, task and method as strings)."""
    try:
        return pd.read_csv(path, dtype={"model": str, "task": str, "method": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"cannot read the tuning table {path}: {error}; delete it and rerun") from error


def selected_settings(table: pd.DataFrame) -> pd.DataFrame:
    """The chosen learning rate per model x task x method, with the grid it was chosen from.

    Returns
    -------
    pandas.DataFrame
        Columns model, task, method, learning_rate (selected), grid (the candidates,
        ascending, as text), optimizer, criterion, steps.
    """
    rows = []
    for (model, task, method), group in table.groupby(["model", "task", "method"], sort=True):
        chosen = group[group["selected"].astype(bool)].iloc[0]
        grid = ", ".join(f"{rate:g}" for rate in sorted(group["learning_rate"]))
        rows.append({
            "model": model, "task": task, "method": method, "learning_rate": float(chosen["learning_rate"]),
            "grid": grid, "optimizer": chosen["optimizer"], "criterion": chosen["criterion"], "steps": int(chosen["steps"]),
        })
    return pd.DataFrame(rows, columns=["model", "task", "method", "learning_rate", "grid", "optimizer", "criterion", "steps"])
