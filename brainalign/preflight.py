"""Rows of a pre-flight check (``make check-data``): what was checked, what was found, the fix.

Shared by :mod:`brainalign.check_data` (the driver, tasks and models) and
:mod:`brainalign.brains.preflight` (the brain data).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OK, PROBLEM, WORKFLOW = "ok", "PROBLEM", "workflow"


@dataclass(frozen=True)
class Check:
    """One row of the report.

    Attributes
    ----------
    status : {"ok", "PROBLEM", "workflow"}
        ``workflow``: written by the workflow itself (simulated data, built models).
    item : str
        What was checked, e.g. ``"pereira P01 384sentences"``.
    path : str
        The file, folder or hub name.
    detail : str
        What was found, or the error.
    fix : str
        How to fix a problem (empty when ok).
    """

    status: str
    item: str
    path: str
    detail: str
    fix: str = ""


def resolve(path: str | os.PathLike) -> Path:
    """A config path as the workflow reads it: from the working directory, else the repository."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    shipped = REPO / path
    return shipped if shipped.exists() else path


def problem(item: str, path: Any, exc: BaseException | str, fix: str) -> Check:
    return Check(PROBLEM, item, str(path), str(exc), fix)


# --------------------------------------------------------------------------- Pereira


def format_table(rows: Sequence[Check]) -> str:
    """One plain-text table: status | input | path | found / problem | fix."""
    header = Check("status", "input", "path", "found / problem", "fix")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in ("status", "item", "path")]
    lines = []
    for row in table:
        cells = [row.status.ljust(widths[0]), row.item.ljust(widths[1]), row.path.ljust(widths[2]), row.detail]
        fix = row.fix if row is header else f"-> fix: {row.fix}"
        lines.append("  ".join(cells) + (f"  {fix}" if row.fix else ""))
    return "\n".join(lines)
