"""Which configuration a results root and its tables belong to.

Every configuration writes under its own results root (config ``results_dir``). The root
records the configuration's ``name`` in ``provenance.json``, with the hash of the config of
every run, so that:

- a root that holds another configuration's name is refused before anything runs
  (:func:`check_results_root`), and
- the rules that aggregate (tables, comparisons, figures, summary) refuse rows of variants
  the configuration does not list (:class:`ConfiguredVariants`): Snakemake takes a file that
  is present on disk as a source when its producer cannot be built, so without this check
  one configuration's numbers could reach another configuration's report.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from brainalign.errors import ConfigError, DataError
from brainalign.io import atomic_output

PROVENANCE_FILE = "provenance.json"
"""The file in a results root that names its configuration and lists its runs."""


def config_sha256(config: Mapping) -> str:
    """The sha256 of a config's canonical JSON (sorted keys), as hex.

    Equal for equal settings whatever their order in the YAML file.
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_provenance(root: str | os.PathLike) -> dict | None:
    """The parsed ``provenance.json`` of ``root``, or None when the root has none yet.

    Raises
    ------
    DataError
        The file exists but is not a JSON object with a string ``name``.
    """
    path = Path(root) / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is unreadable ({exc}); restore it, or delete it to let the next run claim {root}.") from exc
    if not isinstance(record, dict) or not isinstance(record.get("name"), str):
        raise DataError(f"{path} has no configuration name; restore it, or delete it to let the next run claim {root}.")
    return record


def check_results_root(root: str | os.PathLike, name: str) -> None:
    """Refuse a results root that belongs to another configuration.

    Parameters
    ----------
    root : path-like
        The configuration's ``results_dir``.
    name : str
        The configuration's ``name``.

    Raises
    ------
    ConfigError
        ``root`` records a different name. The message names both and the fix.
    """
    record = read_provenance(root)
    if record is not None and record["name"] != name:
        raise ConfigError(
            f"results folder {os.fspath(root)}/ belongs to configuration '{record['name']}' "
            f"({Path(root) / PROVENANCE_FILE}), not to '{name}'. Two configurations never share a results folder: "
            f"set results_dir in configuration '{name}' to a folder of its own (e.g. results/{name}), or give it "
            f"the name '{record['name']}' if it is an edited copy of that configuration."
        )


def record_run(root: str | os.PathLike, name: str, config: Mapping, *, started: datetime | None = None) -> Path:
    """Record a run of configuration ``name`` in ``root/provenance.json`` (atomically).

    The file holds the name and one entry per run: its start time (UTC) and the config's
    hash (:func:`config_sha256`), so that a reader can tell which settings produced the
    folder's files and whether they changed between runs.

    Returns
    -------
    Path
        The provenance file.

    Raises
    ------
    ConfigError
        ``root`` belongs to another configuration (:func:`check_results_root`).
    """
    check_results_root(root, name)
    record = read_provenance(root) or {"name": name, "runs": []}
    started = started or datetime.now(timezone.utc)
    record.setdefault("runs", []).append(
        {"started": started.isoformat(timespec="seconds"), "config_sha256": config_sha256(config)}
    )
    path = Path(root) / PROVENANCE_FILE
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


BRAIN_KEYS: tuple[str, ...] = ("dataset", "subject", "model", "task", "method")
"""What identifies a configured variant's brain scores (per subject)."""
TASK_KEYS: tuple[str, ...] = ("model", "task", "method")
"""What identifies a configured variant's task scores."""


@dataclass(frozen=True)
class ConfiguredVariants:
    """The rows a configuration's aggregate tables must hold, and nothing else.

    Attributes
    ----------
    config_name : str
        The configuration's ``name``, for messages.
    brain_rows : sequence of (dataset, subject, model, task, method)
        One entry per configured per-subject ridge result.
    task_rows : sequence of (model, task, method)
        One entry per configured task evaluation.
    """

    config_name: str
    brain_rows: Sequence[Sequence[str]] = ()
    task_rows: Sequence[Sequence[str]] = ()

    def check_scores(self, tables: Mapping[str, pd.DataFrame], source: str | os.PathLike) -> None:
        """Decoding and encoding rows together: exactly the configured dataset x subject x variant set.

        Parameters
        ----------
        tables : mapping of direction to DataFrame
            The long-format tables (one per configured direction).
        source : str or path-like
            What the tables were read from, for the message.
        """
        _check_exact(pd.concat(list(tables.values())), BRAIN_KEYS, self.brain_rows, self.config_name, source)

    def check_report_inputs(
        self,
        scores: Mapping[str, pd.DataFrame],
        comparisons: pd.DataFrame,
        task_scores: pd.DataFrame | None,
        sources: Mapping[str, str | os.PathLike],
    ) -> None:
        """Every table a figure or the summary is drawn from (``sources``: input name -> path)."""
        self.check_scores(scores, " and ".join(map(os.fspath, (sources["decoding"], sources["encoding"]))))
        self.check_comparisons(comparisons, sources["comparisons"])
        if task_scores is not None:
            self.check_task_scores(task_scores, sources["task_scores"])

    def check_task_scores(self, table: pd.DataFrame, source: str | os.PathLike) -> None:
        """Task-score rows: exactly the configured model x task x method set."""
        _check_exact(table, TASK_KEYS, self.task_rows, self.config_name, source)

    def check_comparisons(self, table: pd.DataFrame, source: str | os.PathLike) -> None:
        """Contrast rows: only configured datasets, models, tasks, subjects (or ``all``) and methods.

        (Which contrasts exist is the comparisons' business; this only refuses strays.)
        """
        from brainalign.comparisons import ALL_SUBJECTS  # not at import: the plan reads this module
        from brainalign.tables import UNTUNED_TASK
        allowed = {
            (dataset, subject, model, task, method)
            for dataset, subject, model, task, method in map(tuple, self.brain_rows)
        }
        subjects = {(dataset, model): set() for dataset, _, model, _, _ in allowed}
        for dataset, subject, model, _, _ in allowed:
            subjects[(dataset, model)].update({subject, ALL_SUBJECTS})
        methods = {(dataset, model, task): set() for dataset, _, model, task, _ in allowed}
        for dataset, _, model, task, method in allowed:
            methods[(dataset, model, task)].add(method)
        stray = []
        for row in table.drop_duplicates(["dataset", "subject", "model", "task", "method_a", "method_b"]).itertuples():
            known_methods = methods.get((row.dataset, row.model, row.task), set()) | methods.get(
                (row.dataset, row.model, UNTUNED_TASK), set()
            )
            if (
                row.subject not in subjects.get((row.dataset, row.model), ())
                or row.method_a not in known_methods
                or row.method_b not in known_methods
            ):
                stray.append((row.dataset, row.subject, row.model, row.task, f"{row.method_a}-{row.method_b}"))
        if stray:
            raise ConfigError(_mismatch_message(source, self.config_name, stray, []))


def _check_exact(
    table: pd.DataFrame, keys: tuple[str, ...], expected: Iterable[Sequence[str]], config_name: str, source
) -> None:
    missing_columns = [key for key in keys if key not in table.columns]
    if missing_columns:
        raise DataError(f"{source} lacks the columns {missing_columns}; it is not a table this workflow wrote.")
    found = set(table.loc[:, list(keys)].astype(str).itertuples(index=False, name=None))
    wanted = {tuple(map(str, row)) for row in expected}
    stray, missing = sorted(found - wanted), sorted(wanted - found)
    if stray or missing:
        raise ConfigError(_mismatch_message(source, config_name, stray, missing, keys))


def _mismatch_message(source, config_name: str, stray: list, missing: list, keys: tuple[str, ...] = BRAIN_KEYS) -> str:
    def shown(rows: list) -> str:
        listed = "; ".join("/".join(map(str, row)) for row in rows[:5])
        return listed + (f"; ... ({len(rows)} in all)" if len(rows) > 5 else "")

    parts = [f"{os.fspath(source)} does not belong to configuration '{config_name}'"]
    if stray:
        parts.append(f"rows of variants it does not configure ({'/'.join(keys)}): {shown(stray)}")
    if missing:
        parts.append(f"configured variants with no rows: {shown(missing)}")
    parts.append(
        "It was probably written by another configuration or an older run. Nothing was written; delete the file "
        "and rerun, and keep each configuration in its own results_dir."
    )
    return ". ".join(parts[:1]) + ": " + "; ".join(parts[1:-1]) + ". " + parts[-1]
