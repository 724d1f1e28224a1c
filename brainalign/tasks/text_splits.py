"""Prompts and the normalised split files every tuning method reads.

Prompt/target contract: :func:`render_prompt` fills a template with the input fields; the
resulting prompt is shared by prompt tuning and fine tuning. The training code appends the
target after the prompt and adds a single leading space there; the readers add none and
strip surrounding whitespace from fields and targets, so that this space is the only
separator. :func:`write_split` stores a split as JSON Lines ``{"id", "prompt", "target"}``.
"""

from __future__ import annotations

import json
import logging
import os
import string
from collections.abc import Sequence
from pathlib import Path

from brainalign.errors import ConfigError, DataError
from brainalign.io import atomic_output
from brainalign.tasks.text_examples import TextExample, check_unique_ids
from brainalign.tasks.text_local import jsonl_rows

logger = logging.getLogger(__name__)

#: Keys of a record in a normalised split file.
SPLIT_KEYS: tuple[str, ...] = ("id", "prompt", "target")


def render_prompt(template: str, example: TextExample, *, config_key: str = "template") -> str:
    """Fill ``template`` (``str.format`` syntax) with the example's input fields.

    Parameters
    ----------
    template : str
        E.g. ``"Article: {document}\\nSummary:"``; every input field must appear.
    example : TextExample
        Supplies the fields; its target is not used.
    config_key : str
        Config key of the template, quoted in error messages.

    Returns
    -------
    str
        The prompt (the training code appends a space and the target).

    Raises
    ------
    ConfigError
        Malformed template, a placeholder that is not an input field, an input field
        without a placeholder, or one whose text the rendering does not contain verbatim
        (a format spec, conversion or index such as ``{document:.0}``).
    """
    available = ", ".join(sorted(example.fields))
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(
            f"{config_key}: template {template!r} is malformed ({exc}); write literal braces as {{{{ and }}}}."
        ) from exc
    used = {name.split(".")[0].split("[")[0] for name in names}  # `document` of `document[0]` / `document.x`
    unknown = sorted(used - set(example.fields))
    if unknown:
        shown = ", ".join(f"{{{name}}}" for name in unknown)
        raise ConfigError(f"{config_key}: template placeholder {shown} is not an input field; available: {available}.")
    left_out = sorted(set(example.fields) - used)
    if left_out:
        raise ConfigError(
            f"{config_key}: template {template!r} has no placeholder for input field(s) {left_out}; "
            f"the prompt must contain the input (available: {available})."
        )
    # Probe with marker values, so that the check does not depend on this example's text.
    markers = {name: f"\x00{name}\x00" for name in example.fields}
    try:
        probe = template.format(**markers)
        prompt = template.format(**example.fields)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(f"{config_key}: template {template!r} cannot be filled ({exc!r}).") from exc
    dropped = sorted(name for name, marker in markers.items() if marker not in probe)
    if dropped:
        raise ConfigError(
            f"{config_key}: template {template!r} renders without the text of field(s) {dropped}; "
            "use plain placeholders such as {document}, without format specs, conversions or indices."
        )
    return prompt


# --------------------------------------------------------------------------- normalised splits


def write_split(
    path: str | os.PathLike, examples: Sequence[TextExample], template: str, *, config_key: str = "template"
) -> None:
    """Write a split as UTF-8 JSON Lines ``{"id", "prompt", "target"}``, atomically.

    Raises
    ------
    ConfigError
        The template cannot render an example (see :func:`render_prompt`).
    DataError
        No examples, duplicate ids or an empty target; nothing is written.
    """
    path = Path(path)
    if not examples:
        raise DataError(f"no examples to write to {path}; the split is empty.")
    check_unique_ids([example.id for example in examples], f"split written to {path}")
    lines = []
    for example in examples:
        if not example.target.strip():
            raise DataError(f"example {example.id!r} written to {path} has an empty target.")
        prompt = render_prompt(template, example, config_key=config_key)
        record = {"id": example.id, "prompt": prompt, "target": example.target}
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    with atomic_output(path) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")
    logger.info("wrote %d examples to %s", len(examples), path)


def read_split(path: str | os.PathLike) -> list[dict[str, str]]:
    """Read a split written by :func:`write_split`.

    Returns
    -------
    list of dict
        ``{"id", "prompt", "target"}`` per example, in file order, values as written.

    Raises
    ------
    DataError
        Missing file, invalid JSON (with line number), a missing, empty or non-string
        value, duplicate ids, or no records; rerun the rule that writes the file.
    """
    path = Path(path)
    rerun = "rerun the workflow rule that prepares the task splits."
    if not path.is_file():
        raise DataError(f"split file {path} not found; {rerun}")
    records = []
    for _, line_no, row in jsonl_rows(path):
        for key in SPLIT_KEYS:
            if not isinstance(row, dict) or not isinstance(row.get(key), str) or not row[key].strip():
                raise DataError(
                    f"split file {path} line {line_no}: key {key!r} is missing, empty or not a string; {rerun}"
                )
        records.append({key: row[key] for key in SPLIT_KEYS})
    if not records:
        raise DataError(f"split file {path} has no records; {rerun}")
    check_unique_ids([record["id"] for record in records], f"split file {path}")
    return records
