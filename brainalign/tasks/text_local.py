"""Local files of text tasks, in the formats the corpora are distributed in (``local.format``).

``hf_jsonl``
    JSON Lines as written by Hugging Face ``datasets`` (``Dataset.to_json``): one row of the
    hub schema per line (:mod:`brainalign.tasks.text_examples`). This is how XSum and WMT
    are most often shared; it is *not* their original release format. Any kind.
``squad_json``
    SQuAD's own release, ``data -> paragraphs -> {context, qas -> {id, question,
    answers}}`` (SQuAD 1.1 and 2.0). Kind ``qa``.
``parallel_text``
    WMT's own distribution (and Moses / sacrebleu style): two plain-text UTF-8 files,
    ``{prefix}.{source_language}`` and ``{prefix}.{target_language}``, one sentence per line,
    line *i* of one the translation of line *i* of the other. ``local.<split>`` is the
    prefix, e.g. ``data/wmt14/train`` for ``train.en`` / ``train.fr``. Kind ``translation``.

Without ``local.format`` a kind reads its :data:`DEFAULT_LOCAL_FORMATS` entry (so configs
written before the key existed keep working). Line-based files are read in two passes
when ``max_examples`` keeps a subset: one counts the rows, one picks the drawn rows, so a
file of millions of lines is never held in memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.errors import ConfigError, DataError
from brainalign.tasks.subsets import RowOrder
from brainalign.tasks.text_examples import (
    DEFAULT_MAX_INVALID_FRACTION,
    TASK_OPTIONS,
    Row,
    TextExample,
    collect_examples,
    resolve_options,
    split_label,
)

#: The formats each kind can read locally.
LOCAL_FORMATS: dict[str, tuple[str, ...]] = {
    "summarization": ("hf_jsonl",),
    "qa": ("squad_json", "hf_jsonl"),
    "translation": ("parallel_text", "hf_jsonl"),
}

#: The format read when ``local.format`` is not given (the readers' behaviour before the key).
DEFAULT_LOCAL_FORMATS: dict[str, str] = {"summarization": "hf_jsonl", "qa": "squad_json", "translation": "hf_jsonl"}

#: Keys of one answer in SQuAD JSON.
ANSWER_KEYS: frozenset[str] = frozenset({"text", "answer_start"})

SPLITS: tuple[str, ...] = ("train", "validation", "test")


def local_format(kind: str, format: str | None, *, config_key: str = "local.format") -> str:
    """The format to read (the kind's default when None), checked against the kind."""
    if kind not in LOCAL_FORMATS:
        raise ConfigError(f"unknown task kind {kind!r}; choose one of {', '.join(LOCAL_FORMATS)}.")
    chosen = DEFAULT_LOCAL_FORMATS[kind] if format is None else format
    if chosen not in LOCAL_FORMATS[kind]:
        raise ConfigError(
            f"{config_key}={chosen!r} cannot be read for task kind {kind!r}; choose one of "
            f"{', '.join(LOCAL_FORMATS[kind])} (see config/README.md, 'Task file formats')."
        )
    return chosen


def parallel_files(prefix: str | os.PathLike, source_language: str, target_language: str) -> tuple[Path, Path]:
    """The two files of a ``parallel_text`` split: ``{prefix}.{source}``, ``{prefix}.{target}``."""
    return Path(f"{os.fspath(prefix)}.{source_language}"), Path(f"{os.fspath(prefix)}.{target_language}")


def local_split_paths(
    settings: Mapping[str, Any], *, resolve: Callable[[str], str] = str, task: str = "<name>"
) -> dict[str, str]:
    """What each split's reader takes: ``local.<split>``, passed through ``resolve``.

    For ``parallel_text`` the value is a prefix; it is resolved through its source-language
    file (``resolve`` may look for a file, e.g. the workflow's shipped-resource lookup).
    ``task`` names the config section in messages.
    """
    kind, local = settings["kind"], settings["local"]
    fmt = local_format(kind, local.get("format"), config_key=f"tasks.{task}.local.format")
    if fmt != "parallel_text":
        return {split: resolve(local[split]) for split in SPLITS}
    source = settings.get("source_language", TASK_OPTIONS["translation"]["source_language"])
    return {split: resolve(f"{local[split]}.{source}")[: -len(source) - 1] for split in SPLITS}


def local_input_files(
    settings: Mapping[str, Any], *, resolve: Callable[[str], str] = str, task: str = "<name>"
) -> dict[str, str]:
    """Every file a local task reads, by name (``train``; ``train_source`` / ``train_target``)."""
    paths = local_split_paths(settings, resolve=resolve, task=task)
    if local_format(settings["kind"], settings["local"].get("format")) != "parallel_text":
        return paths
    opts = resolve_options("translation", {k: settings[k] for k in TASK_OPTIONS["translation"] if k in settings})
    files = {}
    for split, prefix in paths.items():
        source, target = parallel_files(prefix, opts["source_language"], opts["target_language"])
        files[f"{split}_source"], files[f"{split}_target"] = str(source), str(target)
    return files


# --------------------------------------------------------------------------- line-based files


def _open_text(path: Path) -> Any:
    return open(path, encoding="utf-8", newline="")


def _utf8_error(path: Path, exc: UnicodeDecodeError) -> DataError:
    return DataError(f"cannot read {path} as UTF-8 text ({exc}); re-save it as UTF-8.")


def jsonl_rows(path: Path, wanted: set[int] | None = None) -> Iterator[tuple[int, int, Any]]:
    """Yield (row number, 1-based line number, parsed value) per non-blank line of a JSON Lines file.

    Rows are numbered from 0 over non-blank lines; with ``wanted`` only those rows are parsed.
    """
    row, left = 0, None if wanted is None else len(wanted)
    try:
        with open(path, encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if left == 0:
                    return
                if not line.strip():
                    continue
                if wanted is None or row in wanted:
                    left = None if left is None else left - 1
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(
                            f"file {path} line {line_no} is not valid JSON ({exc.msg}, column {exc.colno}); "
                            "JSON Lines needs one complete object per line."
                        ) from exc
                    yield row, line_no, value
                row += 1
    except UnicodeDecodeError as exc:
        raise _utf8_error(path, exc) from exc


def _count_jsonl_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def count_lines(path: Path) -> int:
    """Lines of a text file (a last line without a newline counts), read in 1 MiB blocks."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def check_parallel_line_counts(source: Path, target: Path) -> int:
    """The line count shared by both files of a ``parallel_text`` split.

    Raises
    ------
    DataError
        A file is missing, or the counts differ (naming both files and counts).
    """
    for path in (source, target):
        if not path.is_file():
            raise DataError(
                f"parallel text file {path} not found; a parallel_text split needs "
                f"{source.name} and {target.name} (local.<split> is their common prefix)."
            )
    n_source, n_target = count_lines(source), count_lines(target)
    if n_source != n_target:
        raise DataError(
            f"parallel text files differ in length: {source} has {n_source} lines, {target} has {n_target}; "
            "line i of one must be the translation of line i of the other (one sentence per line)."
        )
    return n_source


def _parallel_rows(source: Path, target: Path, langs: tuple[str, str], wanted: set[int] | None) -> Iterator[Row]:
    try:
        with _open_text(source) as src, _open_text(target) as tgt:
            for index, (left, right) in enumerate(zip(src, tgt)):
                if wanted is None or index in wanted:
                    row = {"translation": {langs[0]: left.rstrip("\r\n"), langs[1]: right.rstrip("\r\n")}}
                    yield index, f"files {source} / {target} line {index + 1}", f"line{index + 1}", row
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read {source} or {target} as UTF-8 text ({exc}); re-save them as UTF-8.") from exc


def _squad_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(location, row in the hub SQuAD schema) per question of a SQuAD JSON file."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataError(f"file {path} is not valid JSON ({exc.msg}, line {exc.lineno}); expected SQuAD.") from exc
    except UnicodeDecodeError as exc:
        raise _utf8_error(path, exc) from exc

    def items(parent: Any, key: str, where: str) -> list[Any]:
        value = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(value, list):
            raise DataError(f"file {path}: {where} lacks the list {key!r}; expected SQuAD (data/paragraphs/qas).")
        return value

    rows = []
    for a, article in enumerate(items(document, "data", "the top level")):
        for p, paragraph in enumerate(items(article, "paragraphs", f"data[{a}]")):
            where = f"file {path} data[{a}].paragraphs[{p}]"
            for q, qa in enumerate(items(paragraph, "qas", f"data[{a}].paragraphs[{p}]")):
                if not isinstance(qa, dict) or not isinstance(qa.get("id"), str) or not qa["id"]:
                    raise DataError(f"{where}.qas[{q}] lacks key 'id' (a string); every question needs one.")
                raw = [] if qa.get("is_impossible") else qa.get("answers", [])
                if not isinstance(raw, list) or not all(isinstance(x, dict) and ANSWER_KEYS <= x.keys() for x in raw):
                    raise DataError(
                        f"{where} question {qa['id']!r}: 'answers' must be a list of {{text, answer_start}} objects."
                    )
                answers = {"text": [x["text"] for x in raw], "answer_start": [x["answer_start"] for x in raw]}
                rows.append((where, {**qa, "context": paragraph.get("context"), "answers": answers}))
    return rows


# --------------------------------------------------------------------------- reading a split


def _indexed_source(fmt: str, path: Path, opts: Mapping[str, str]) -> tuple[int, Callable[[np.ndarray], list[Row]]]:
    """(row count, fetch) of a local split; ``fetch(indices)`` returns those rows in that order."""
    if fmt == "squad_json":
        rows = _squad_rows(path)
        return len(rows), lambda idx: [(int(i), rows[i][0], "", rows[i][1]) for i in idx]
    if fmt == "parallel_text":
        langs = (opts["source_language"], opts["target_language"])
        source, target = parallel_files(path, *langs)
        n_rows = check_parallel_line_counts(source, target)

        def fetch_parallel(idx: np.ndarray) -> list[Row]:
            by_index = {row[0]: row for row in _parallel_rows(source, target, langs, set(idx.tolist()))}
            return [by_index[i] for i in idx.tolist()]

        return n_rows, fetch_parallel

    def fetch_jsonl(idx: np.ndarray) -> list[Row]:
        by_index = {
            row: (row, f"file {path} line {line_no}", f"line{line_no}", value)
            for row, line_no, value in jsonl_rows(path, set(idx.tolist()))
        }
        return [by_index[i] for i in idx.tolist()]

    return _count_jsonl_rows(path), fetch_jsonl


def read_local_split(
    kind: str,
    path: str | os.PathLike,
    *,
    split: str | None = None,
    format: str | None = None,
    task: str | None = None,
    max_examples: int | None = None,
    seed: int = 0,
    max_invalid_fraction: float = DEFAULT_MAX_INVALID_FRACTION,
    **options: str,
) -> list[TextExample]:
    """Read one split of a task from local files (formats in the module docstring).

    Parameters
    ----------
    kind : {"summarization", "qa", "translation"}
        Task kind.
    path : path-like
        The split's file; for ``parallel_text`` the prefix of its two files.
    split : str, optional
        Split name, only used in messages.
    format : {"hf_jsonl", "squad_json", "parallel_text"}, optional
        Default: the kind's :data:`DEFAULT_LOCAL_FORMATS` entry.
    task : str, optional
        The task's name in messages (default: the kind).
    max_examples : int, optional
        Keep a seeded random subset of this many examples (file order kept); default all.
    seed : int
        Seed of the subset.
    max_invalid_fraction : float
        Largest share of rows with an empty or non-string text that is skipped (logged).
    **options : str
        ``document_key`` / ``summary_key`` (summarization; default ``document`` /
        ``summary``), ``source_language`` / ``target_language`` (translation; default
        ``en`` / ``fr``). QA takes none.

    Returns
    -------
    list of TextExample
        In file order. Ids come from the file (``id``), else ``line<N>``.

    Raises
    ------
    ConfigError
        Unknown kind, format or option, or equal source and target languages.
    DataError
        Missing or non-UTF-8 file, invalid JSON (with line number), parallel files of
        different lengths, a missing key (naming line or question), too many empty texts,
        a QA answer not at its ``answer_start``, duplicate ids, or no examples.
    """
    opts = resolve_options(kind, options)
    fmt = local_format(kind, format)
    path = Path(path)
    if fmt != "parallel_text" and not path.is_file():
        raise DataError(f"task file {path} not found; check the `local` paths of the {kind!r} task in the config.")
    n_rows, fetch = _indexed_source(fmt, path, opts)
    wanted = max_examples if max_examples is not None and max_examples < n_rows else None
    order = RowOrder(n_rows, seed if wanted is not None else None)
    return collect_examples(
        kind,
        lambda size: fetch(order.take(size)),
        wanted=wanted,
        opts=opts,
        label=split_label(task or kind, split),
        source=f"{fmt} files {path}.*" if fmt == "parallel_text" else f"{fmt} file {path}",
        max_invalid_fraction=max_invalid_fraction,
    )


def local_task_problems(
    task: str, settings: Mapping[str, Any], *, resolve: Callable[[str], str] = str
) -> list[str]:
    """Cheap pre-flight check of a local text task's files; one message (with its fix) per problem.

    Checks the format against the kind, that every file exists, that both files of each
    ``parallel_text`` split have the same number of lines, and that the first row of each
    ``hf_jsonl`` file is a JSON object with the keys the kind reads. Reads no whole file
    except to count lines. An empty list means the files look right.
    """
    problems: list[str] = []
    kind, local = settings["kind"], settings["local"]
    try:
        fmt = local_format(kind, local.get("format"), config_key=f"tasks.{task}.local.format")
        opts = resolve_options(kind, {k: settings[k] for k in TASK_OPTIONS[kind] if k in settings})
        paths = local_split_paths(settings, resolve=resolve, task=task)
    except ConfigError as exc:
        return [str(exc)]
    for split, path in paths.items():
        where = f"tasks.{task}.local.{split}"
        try:
            if fmt == "parallel_text":
                check_parallel_line_counts(*parallel_files(path, opts["source_language"], opts["target_language"]))
                continue
            if not Path(path).is_file():
                raise DataError(f"task file {path} not found; fix the path or download the split ({fmt}).")
            if fmt == "hf_jsonl":
                _check_first_jsonl_row(Path(path), kind, opts)
        except DataError as exc:
            problems.append(f"{where}: {exc}")
    return problems


def _check_first_jsonl_row(path: Path, kind: str, opts: Mapping[str, str]) -> None:
    first = next(jsonl_rows(path, {0}), None)
    if first is None:
        raise DataError(f"file {path} has no rows; a hf_jsonl split needs one JSON object per line.")
    _, line_no, row = first
    keys = {
        "summarization": (opts.get("document_key"), opts.get("summary_key")),
        "qa": ("context", "question", "answers"),
        "translation": ("translation",),
    }[kind]
    missing = [key for key in keys if not isinstance(row, dict) or key not in row]
    if missing:
        raise DataError(
            f"file {path} line {line_no} lacks key(s) {missing}; a hf_jsonl {kind} file holds rows of the "
            "Hugging Face schema (see config/README.md); check the key options or the format."
        )
