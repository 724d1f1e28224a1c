"""Text task splits from the Hugging Face hub (or the local ``datasets`` cache), at any scale.

A split is never turned into Python objects as a whole. With ``max_examples``, the rows
kept are a seeded random subset of the requested size:

- by default the split is loaded as ``datasets`` prepares it, a memory-mapped Arrow table,
  and only the drawn rows are read, through an index ``select`` (an exact uniform sample;
  the download and the Arrow cache still hold the whole split on disk);
- with ``hub.streaming: true`` nothing is downloaded up front: the stream is shuffled with
  ``IterableDataset.shuffle(seed, buffer_size)`` (the shard order is shuffled and rows are
  drawn from a buffer of ``hub.shuffle_buffer`` rows) and read until enough examples are
  found. This is an approximate random sample: rows near the start of the shuffled shards
  are favoured, the more so the smaller the buffer. Split slicing (``validation[:50%]``)
  is not available when streaming.

``datasets`` 4 and later run no loading scripts: a repository that still ships one (XSum's
main branch) is loaded from its parquet export with ``hub.revision: refs/convert/parquet``.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from brainalign.errors import ConfigError
from brainalign.tasks.subsets import RowOrder
from brainalign.tasks.text_examples import (
    DEFAULT_MAX_INVALID_FRACTION,
    Row,
    TextExample,
    collect_examples,
    resolve_options,
    split_label,
)

logger = logging.getLogger(__name__)

#: Default of ``hub.shuffle_buffer`` (rows held by the streaming shuffle).
DEFAULT_SHUFFLE_BUFFER = 10_000


def load_hub_split(
    kind: str,
    name: str,
    split: str,
    *,
    config_name: str | None = None,
    config_key: str,
    revision: str | None = None,
    streaming: bool = False,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    task: str | None = None,
    max_examples: int | None = None,
    seed: int = 0,
    max_invalid_fraction: float = DEFAULT_MAX_INVALID_FRACTION,
    **options: str,
) -> list[TextExample]:
    """Load one split of a task from the Hugging Face hub (or the local ``datasets`` cache).

    Rows are mapped from the hub schemas: ``document`` / ``summary`` (XSum; other names
    through the options), ``id`` / ``context`` / ``question`` / ``answers: {text: [...],
    answer_start: [...]}`` (SQuAD), ``translation: {<src>: ..., <tgt>: ...}`` (WMT).

    Parameters
    ----------
    kind : {"summarization", "qa", "translation"}
        Task kind.
    name : str
        Hub dataset id (e.g. ``EdinburghNLP/xsum``).
    split : str
        Split name on the hub (``train``, ``validation``, ``test``; slices such as
        ``validation[:50%]`` unless streaming).
    config_name : str, optional
        Dataset configuration (e.g. ``fr-en`` for WMT14).
    config_key : str
        The config key naming the dataset (e.g. ``tasks.summarization.hub.name``), quoted
        in error messages.
    revision : str, optional
        Git revision of the dataset repository: a branch, tag, commit, or
        ``refs/convert/parquet`` (the hub's parquet export).
    streaming : bool
        Stream the split instead of downloading it (module docstring).
    shuffle_buffer : int
        Rows in the streaming shuffle buffer.
    task : str, optional
        The task's name in messages (default: the kind).
    max_examples : int, optional
        Keep a seeded random subset of this many examples; default all rows.
    seed : int
        Seed of the subset.
    max_invalid_fraction : float
        Largest share of rows with an empty or non-string text that is skipped (logged).
    **options : str
        As for :func:`brainalign.tasks.text_local.read_local_split`.

    Returns
    -------
    list of TextExample
        In table order (stream order when streaming). Ids come from the row's ``id``,
        else ``row<N>`` (the table index; ``stream<N>``, the stream position, when streaming).

    Raises
    ------
    ConfigError
        ``datasets`` is not installed or cannot load the dataset (e.g. offline with an
        empty cache), or a sliced split when streaming; the message names ``config_key``.
    DataError
        As for :func:`~brainalign.tasks.text_local.read_local_split`.
    """
    opts = resolve_options(kind, options)
    ways_out = (
        "run once online to fill the `datasets` cache, or point the task's `local` files at copies "
        "(config/README.md, 'Task file formats')."
    )
    if streaming and "[" in split:
        raise ConfigError(
            f"{config_key}={name!r}: split {split!r} is a slice, which streaming cannot read; "
            "name a whole split or set hub.streaming: false."
        )
    try:
        import datasets  # imported on use: only the hub path needs it
    except ImportError as exc:
        raise ConfigError(
            f"{config_key}={name!r}: the Python package `datasets` is not installed; install it (pip install "
            f"datasets) and {ways_out}"
        ) from exc
    try:
        dataset = datasets.load_dataset(name, config_name, split=split, revision=revision, streaming=streaming)
    except Exception as exc:  # datasets raises many unrelated types (offline, not found, connection, ...)
        offline = (
            "Streaming reads from the hub each time, so it needs network access; set hub.streaming: false to use "
            "the cache, or" if streaming else "Offline, this means it is not in the cache;"
        )
        raise ConfigError(
            f"{config_key}={name!r} (config {config_name!r}, revision {revision!r}, split {split!r}) could not be "
            f"loaded ({type(exc).__name__}: {exc}). {offline} {ways_out}"
        ) from exc
    source = f"hub dataset {name!r}, config {config_name!r}, {config_key}"
    where = f"{source}, split {split!r}"
    label = split_label(task or kind, split)
    if streaming:
        return _from_stream(dataset, kind, opts, where=where, label=label, source=source, max_examples=max_examples,
                            seed=seed, shuffle_buffer=shuffle_buffer, max_invalid_fraction=max_invalid_fraction)
    n_rows = len(dataset)
    wanted = max_examples if max_examples is not None and max_examples < n_rows else None
    order = RowOrder(n_rows, seed if wanted is not None else None)

    def next_rows(size: int) -> list[Row]:
        indices = order.take(size)
        if not len(indices):
            return []
        # Only the drawn rows are read from the memory-mapped table, in table order.
        drawn = sorted(indices.tolist())
        chosen = dataset.select(drawn, keep_in_memory=True) if wanted is not None else dataset
        by_index = dict(zip(drawn, chosen.to_list()))
        return [(i, f"{where} row {i}", f"row{i}", by_index[i]) for i in indices.tolist()]

    if wanted is not None:
        logger.info("%s: drawing %d of %d rows (seeded random subset)", label, wanted, n_rows)
    return collect_examples(kind, next_rows, wanted=wanted, opts=opts, label=label, source=source,
                            max_invalid_fraction=max_invalid_fraction)


def _from_stream(
    dataset: Any,
    kind: str,
    opts: dict[str, str],
    *,
    where: str,
    label: str,
    source: str,
    max_examples: int | None,
    seed: int,
    shuffle_buffer: int,
    max_invalid_fraction: float,
) -> list[TextExample]:
    """Read a streamed split: shuffled with a seeded buffer when a subset is wanted."""
    if max_examples is not None:
        dataset = dataset.shuffle(seed=seed, buffer_size=shuffle_buffer)
        logger.info("%s: streaming with a shuffle buffer of %d rows (approximate random subset)", label, shuffle_buffer)
    rows = ((i, f"{where} stream row {i}", f"stream{i}", row) for i, row in enumerate(dataset))

    def next_rows(size: int) -> list[Row]:
        return list(rows) if size < 0 else list(itertools.islice(rows, size))

    return collect_examples(kind, next_rows, wanted=max_examples, opts=opts, label=label, source=source,
                            max_invalid_fraction=max_invalid_fraction)
