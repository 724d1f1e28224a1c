"""Text generation tasks (summarization, extractive QA, translation) as prompt/target pairs.

A configured task (config section ``tasks.<name>``) is read from local files
(:mod:`brainalign.tasks.text_local`: the Hugging Face JSON Lines export, SQuAD JSON, WMT's
parallel plain text) or from the Hugging Face hub (:mod:`brainalign.tasks.text_hub`), into
:class:`TextExample` s (:mod:`brainalign.tasks.text_examples`), and written as normalised
``{"id", "prompt", "target"}`` splits (:mod:`brainalign.tasks.text_splits`).

``max_examples`` keeps a seeded random subset of each split, drawn by row index, so a split
of tens of millions of rows is never loaded; rows with an empty or non-string text are
skipped and counted up to ``max_invalid_fraction`` of the rows read. See ``docs/tasks.md``.

This module re-exports the public names of those modules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from brainalign.tasks.text_examples import (
    DEFAULT_MAX_INVALID_FRACTION,
    DEFAULT_TEMPLATES,
    TASK_FIELDS,
    TASK_KINDS,
    TASK_OPTIONS,
    TextExample,
)
from brainalign.tasks.text_hub import DEFAULT_SHUFFLE_BUFFER, load_hub_split
from brainalign.tasks.text_local import (
    LOCAL_FORMATS,
    local_input_files,
    local_split_paths,
    local_task_problems,
    read_local_split,
)
from brainalign.tasks.text_splits import SPLIT_KEYS, read_split, render_prompt, write_split

__all__ = [
    "DEFAULT_MAX_INVALID_FRACTION", "DEFAULT_TEMPLATES", "LOCAL_FORMATS", "SPLIT_KEYS", "TASK_FIELDS", "TASK_KINDS",
    "TASK_OPTIONS", "TextExample", "load_hub_split", "load_task_split", "local_input_files", "local_split_paths",
    "local_task_problems", "prepare_task_splits", "read_local_split", "read_split", "render_prompt", "split_seed",
    "write_split",
]


def split_seed(seed: int, task: str, split: str) -> int:
    """The seed of one split's subset: derived from the config seed, the task and the split.

    Distinct tasks and splits draw independently; the same config draws the same rows.
    """
    return int(np.random.SeedSequence([int(seed), *f"{task}/{split}".encode("utf-8")]).generate_state(1)[0])


def load_task_split(
    task: str,
    settings: Mapping[str, Any],
    split: str,
    *,
    local_path: str | os.PathLike | None = None,
    seed: int = 0,
) -> list[TextExample]:
    """Load one split of a configured task (config section ``tasks.<task>``).

    Parameters
    ----------
    task : str
        The task's name in the config; used in messages.
    settings : mapping
        The task's config: ``kind``, ``local`` or ``hub``, the kind's options (see
        :data:`TASK_OPTIONS`), optionally ``max_examples`` per split and
        ``max_invalid_fraction``.
    split : {"train", "validation", "test"}
    local_path : path-like, optional
        What to read when the task is ``local`` (resolved by the workflow; a file, or the
        prefix of a ``parallel_text`` pair); default ``settings["local"][split]``.
    seed : int
        The config's seed; the split's subset uses :func:`split_seed`.

    Returns
    -------
    list of TextExample
        At most ``max_examples[split]`` examples: a seeded random subset of the split, in
        file or table order (all examples when the split is not larger).
    """
    kind = settings["kind"]
    options = {key: settings[key] for key in TASK_OPTIONS.get(kind, {}) if key in settings}
    common = {
        "task": task,
        "max_examples": (settings.get("max_examples") or {}).get(split),
        "seed": split_seed(seed, task, split),
        "max_invalid_fraction": settings.get("max_invalid_fraction", DEFAULT_MAX_INVALID_FRACTION),
    }
    if "local" in settings:
        local = settings["local"]
        path = local_path or local[split]
        return read_local_split(kind, path, split=split, format=local.get("format"), **common, **options)
    hub = settings["hub"]
    return load_hub_split(
        kind,
        hub["name"],
        hub["splits"][split],
        config_name=hub.get("config"),
        config_key=f"tasks.{task}.hub.name",
        revision=hub.get("revision"),
        streaming=bool(hub.get("streaming", False)),
        shuffle_buffer=hub.get("shuffle_buffer", DEFAULT_SHUFFLE_BUFFER),
        **common,
        **options,
    )


def prepare_task_splits(
    task: str,
    settings: Mapping[str, Any],
    outputs: Mapping[str, str | os.PathLike],
    *,
    local_paths: Mapping[str, str | os.PathLike] | None = None,
    seed: int = 0,
) -> dict[str, int]:
    """Load every split of a task, then write each as JSON Lines (rule ``prepare_task``).

    Every split is read and checked before any is written, so a bad split (missing,
    empty, malformed) leaves no finished-looking sibling split behind.

    Parameters
    ----------
    task : str
        The task's name in the config.
    settings : mapping
        Config section ``tasks.<task>`` (see :func:`load_task_split`); ``template``
        defaults to the kind's :data:`DEFAULT_TEMPLATES` entry.
    outputs : mapping of split -> path-like
        Where each split goes, e.g. ``{"train": "results/tasks/qa/train.jsonl", ...}``.
    local_paths : mapping of split -> path-like, optional
        What to read per split (resolved by the workflow, :func:`local_split_paths`);
        default ``settings["local"]``.
    seed : int
        The config's seed (subsets of ``max_examples``).

    Returns
    -------
    dict of split -> int
        Examples written per split.
    """
    local_paths = local_paths or {}
    template = settings.get("template") or DEFAULT_TEMPLATES[settings["kind"]]
    loaded = {
        split: load_task_split(task, settings, split, local_path=local_paths.get(split), seed=seed)
        for split in outputs
    }
    for split, examples in loaded.items():
        write_split(outputs[split], examples, template, config_key=f"tasks.{task}.template")
    return {split: len(examples) for split, examples in loaded.items()}
