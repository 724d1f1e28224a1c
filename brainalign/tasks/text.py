"""Text generation tasks (summarization, extractive QA, translation) as prompt/target pairs.

Each task has splits (train / validation / test) of :class:`TextExample`: named input
fields plus one target string, read from local files in the format each corpus is
published in (:func:`read_local_split`) or from the Hugging Face hub through the optional
``datasets`` package, imported only when used (:func:`load_hub_split`).

``summarization``
    JSON Lines, one ``{"document": ..., "summary": ...}`` object per line (XSum; key names
    configurable, an ``"id"`` is kept). Fields ``document``; target the summary.
``qa``
    SQuAD JSON, ``data -> paragraphs -> {context, qas -> {id, question, answers}}``. One
    example per question; fields ``context``, ``question``; target the first answer, which
    must sit at its ``answer_start``. Unanswerable questions (SQuAD 2) are skipped with a
    warning that counts them.
``translation``
    JSON Lines ``{"translation": {"en": ..., "fr": ...}}`` (WMT on the hub); the language
    pair is configurable. Fields ``source``; target the target-language text.

Prompt/target contract: :func:`render_prompt` fills a template with the input fields; the
resulting prompt is shared by prompt tuning and fine tuning. The training code appends the
target after the prompt and adds a single leading space there; this module adds none, and
strips surrounding whitespace from fields and targets so that this space is the only
separator. :func:`write_split` stores a split as JSON Lines ``{"id", "prompt", "target"}``.
"""

from __future__ import annotations

import json
import logging
import os
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainalign.errors import ConfigError, DataError
from brainalign.io import atomic_output

logger = logging.getLogger(__name__)

TASK_KINDS: tuple[str, ...] = ("summarization", "qa", "translation")

#: Input fields each task kind gives its template.
TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "summarization": ("document",),
    "qa": ("context", "question"),
    "translation": ("source",),
}

#: Options each kind accepts, with their defaults.
TASK_OPTIONS: dict[str, dict[str, str]] = {
    "summarization": {"document_key": "document", "summary_key": "summary"},
    "qa": {},
    "translation": {"source_language": "en", "target_language": "fr"},
}

#: Default prompt per kind. The translation one says English -> French, so it only suits
#: the default language pair; give a template for any other pair.
DEFAULT_TEMPLATES: dict[str, str] = {
    "summarization": "Article: {document}\nSummary:",
    "qa": "Context: {context}\nQuestion: {question}\nAnswer:",
    "translation": "English: {source}\nFrench:",
}

#: Keys of one answer in SQuAD JSON.
ANSWER_KEYS: frozenset[str] = frozenset({"text", "answer_start"})

#: Keys of a record in a normalised split file.
SPLIT_KEYS: tuple[str, ...] = ("id", "prompt", "target")


@dataclass(frozen=True)
class TextExample:
    """One example of a text task.

    Attributes
    ----------
    id : str
        Unique within its split.
    fields : mapping of str to str
        The template's inputs (:data:`TASK_FIELDS` of the kind).
    target : str
        The text the model should generate after the prompt.
    """

    id: str
    fields: Mapping[str, str]
    target: str

    def __post_init__(self) -> None:
        # A private copy, so that a caller changing its dict later cannot alter the example.
        object.__setattr__(self, "fields", dict(self.fields))


# --------------------------------------------------------------------------- reading


def _resolve_options(kind: str, options: Mapping[str, Any]) -> dict[str, str]:
    if kind not in TASK_KINDS:
        raise ConfigError(f"unknown task kind {kind!r}; choose one of {', '.join(TASK_KINDS)}.")
    unknown = sorted(set(options) - set(TASK_OPTIONS[kind]))
    if unknown:
        allowed = sorted(TASK_OPTIONS[kind]) or "none"
        raise ConfigError(f"task kind {kind!r} takes no option(s) {unknown}; allowed: {allowed}.")
    resolved = {**TASK_OPTIONS[kind], **options}
    for name, value in resolved.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(f"option {name!r} of task kind {kind!r} must be a non-empty string, got {value!r}.")
    if kind == "translation" and resolved["source_language"] == resolved["target_language"]:
        raise ConfigError(
            f"translation source_language and target_language are both {resolved['source_language']!r}; "
            "give two different language codes."
        )
    return resolved


def _text(row: Mapping[str, Any], key: str, where: str, what: str | None = None) -> str:
    """``row[key]`` as stripped, non-empty text; ``what`` names the key in messages."""
    what = what or repr(key)
    if key not in row:
        raise DataError(f"{where} lacks key {what}; every example needs it.")
    value = row[key]
    if not isinstance(value, str):
        raise DataError(f"{where}: {what} is {type(value).__name__}, expected a string.")
    if not value.strip():
        raise DataError(f"{where}: {what} is empty; remove the example or fill it in.")
    return value.strip()


def _row_example(kind: str, row: Any, where: str, default_id: str, opts: dict[str, str]) -> TextExample | None:
    """Map one row in the hub schema (local files are read into it) to an example.

    Returns None for a question without an answer, which the caller counts.
    """
    if not isinstance(row, Mapping):
        raise DataError(f"{where} holds a {type(row).__name__}, expected a JSON object.")
    row_id = default_id if row.get("id") in (None, "") else str(row["id"])
    if kind == "summarization":
        document_key, summary_key = opts["document_key"], opts["summary_key"]
        document = _text(row, document_key, where, f"{document_key!r} (option document_key)")
        summary = _text(row, summary_key, where, f"{summary_key!r} (option summary_key)")
        return TextExample(row_id, {"document": document}, summary)
    if kind == "translation":
        pair = row.get("translation")
        if not isinstance(pair, Mapping):
            raise DataError(f"{where} lacks key 'translation' (an object of language code -> text).")
        source, target = opts["source_language"], opts["target_language"]
        text = _text(pair, source, where, f"'translation.{source}'")
        return TextExample(row_id, {"source": text}, _text(pair, target, where, f"'translation.{target}'"))

    where = f"{where} question {row_id!r}"
    question = _text(row, "question", where)
    # answer_start counts from the first character of the raw context: check before stripping.
    context = row.get("context")
    if not isinstance(context, str) or not context.strip():
        raise DataError(f"{where}: its context is missing, empty or not a string.")
    answers = row.get("answers") or {}
    texts = answers.get("text") if isinstance(answers, Mapping) else None
    starts = answers.get("answer_start") if isinstance(answers, Mapping) else None
    if not isinstance(texts, (list, tuple)) or not isinstance(starts, (list, tuple)) or len(texts) != len(starts):
        raise DataError(f"{where}: 'answers' must hold equally long lists 'text' and 'answer_start'.")
    if not texts:
        return None
    text, start = texts[0], starts[0]
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: its first answer text is empty or not a string.")
    if not isinstance(start, int) or context[start:start + len(text)] != text:
        raise DataError(
            f"{where}: answer {text!r} is not at answer_start={start!r} in its context; "
            "fix answer_start (a character offset into the context)."
        )
    return TextExample(row_id, {"context": context.strip(), "question": question}, text.strip())


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (1-based line number, parsed value) per non-blank line of a JSON Lines file."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"file {path} line {line_no} is not valid JSON ({exc.msg}, column {exc.colno}); "
                        "JSON Lines needs one complete object per line."
                    ) from exc
                yield line_no, row
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read {path} as UTF-8 text ({exc}); re-save it as UTF-8.") from exc


def _squad_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (location, row in the hub SQuAD schema) per question of a SQuAD JSON file."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataError(f"file {path} is not valid JSON ({exc.msg}, line {exc.lineno}); expected SQuAD.") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read {path} as UTF-8 text ({exc}); re-save it as UTF-8.") from exc

    def items(parent: Any, key: str, where: str) -> list[Any]:
        value = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(value, list):
            raise DataError(f"file {path}: {where} lacks the list {key!r}; expected SQuAD (data/paragraphs/qas).")
        return value

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
                yield where, {**qa, "context": paragraph.get("context"), "answers": answers}


def read_local_split(
    kind: str, path: str | os.PathLike, *, split: str | None = None, **options: str
) -> list[TextExample]:
    """Read one split of a task from a file in its published format (module docstring).

    Parameters
    ----------
    kind : {"summarization", "qa", "translation"}
        Task kind; selects the file format.
    path : path-like
        The split's file.
    split : str, optional
        Split name, only used in messages.
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
        Unknown kind or option, or equal source and target languages.
    DataError
        Missing or non-UTF-8 file, invalid JSON (with line number), a missing key or empty
        text (naming line or question), a QA answer not at its ``answer_start``, duplicate
        ids, or no examples.
    """
    opts = _resolve_options(kind, options)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"task file {path} not found; check the `local` paths of the {kind!r} task in the config.")
    if kind == "qa":
        rows: Iterable[tuple[str, str, Any]] = ((where, "", row) for where, row in _squad_rows(path))
    else:
        rows = ((f"file {path} line {n}", f"line{n}", row) for n, row in _jsonl_rows(path))
    results = [_row_example(kind, row, where, default_id, opts) for where, default_id, row in rows]
    return _finish(results, kind, split, f"file {path}")


def load_hub_split(
    kind: str, name: str, split: str, *, config_name: str | None = None, config_key: str, **options: str
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
        Hub dataset id. ``datasets`` 4 and later run no loading scripts, so name a
        repository that holds data files (e.g. ``EdinburghNLP/xsum``).
    split : str
        Split name on the hub (``train``, ``validation``, ``test``).
    config_name : str, optional
        Dataset configuration (e.g. ``fr-en`` for WMT14).
    config_key : str
        The config key naming the dataset (e.g. ``tasks.summarization.hub.name``), quoted
        in error messages.
    **options : str
        As for :func:`read_local_split`.

    Raises
    ------
    ConfigError
        ``datasets`` is not installed or cannot load the dataset (e.g. offline with an
        empty cache); the message names ``config_key`` and the ways out.
    DataError
        As for :func:`read_local_split`.
    """
    opts = _resolve_options(kind, options)
    ways_out = (
        "install `datasets` (pip install datasets) and run once online to fill its cache, "
        f"or point the task's `local` files at copies in the published format (see {__name__})."
    )
    try:
        import datasets  # optional dependency: only the hub path needs it
    except ImportError as exc:
        raise ConfigError(f"{config_key}={name!r}: the Python package `datasets` is not installed; {ways_out}") from exc
    try:
        dataset = datasets.load_dataset(name, config_name, split=split)
    except Exception as exc:  # datasets raises many unrelated types (offline, not found, connection, ...)
        raise ConfigError(
            f"{config_key}={name!r} (config {config_name!r}, split {split!r}) could not be loaded "
            f"({type(exc).__name__}: {exc}). Offline, this means it is not in the cache; {ways_out}"
        ) from exc
    source = f"hub dataset {name!r}, config {config_name!r}, {config_key}"
    results = [
        _row_example(kind, row, f"{source}, split {split!r} row {index}", f"row{index}", opts)
        for index, row in enumerate(dataset)
    ]
    return _finish(results, kind, split, source)


def _finish(results: list[TextExample | None], kind: str, split: str | None, source: str) -> list[TextExample]:
    """Drop unanswerable questions loudly; refuse an empty split or repeated ids."""
    label = f"split {split!r} of task {kind!r}" if split else f"task {kind!r}"
    examples = [example for example in results if example is not None]
    skipped = len(results) - len(examples)
    if skipped:
        logger.warning("%s (%s): skipped %d question(s) without an answer (unanswerable)", label, source, skipped)
    if not examples:
        raise DataError(f"{label} ({source}) has no examples; check the data and the task's key options.")
    _check_unique_ids([example.id for example in examples], f"{label} ({source})")
    logger.info("%s: %d examples from %s", label, len(examples), source)
    return examples


def _check_unique_ids(ids: Iterable[str], where: str) -> None:
    seen: set[str] = set()
    repeated: set[str] = set()
    for example_id in ids:
        (repeated if example_id in seen else seen).add(example_id)
    if repeated:
        listed = sorted(repeated)
        shown = ", ".join(repr(i) for i in listed[:5]) + (" ..." if len(listed) > 5 else "")
        raise DataError(f"{where} repeats example id(s) {shown}; ids must be unique within a split.")


# --------------------------------------------------------------------------- prompts


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
    _check_unique_ids([example.id for example in examples], f"split written to {path}")
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
    for line_no, row in _jsonl_rows(path):
        for key in SPLIT_KEYS:
            if not isinstance(row, dict) or not isinstance(row.get(key), str) or not row[key].strip():
                raise DataError(
                    f"split file {path} line {line_no}: key {key!r} is missing, empty or not a string; {rerun}"
                )
        records.append({key: row[key] for key in SPLIT_KEYS})
    if not records:
        raise DataError(f"split file {path} has no records; {rerun}")
    _check_unique_ids([record["id"] for record in records], f"split file {path}")
    return records


def load_task_split(
    task: str, settings: Mapping[str, Any], split: str, *, local_path: str | os.PathLike | None = None
) -> list[TextExample]:
    """Load one split of a configured task (config section ``tasks.<task>``).

    Parameters
    ----------
    task : str
        The task's name in the config; used in messages.
    settings : mapping
        The task's config: ``kind``, ``local`` or ``hub``, the kind's options (see
        :data:`TASK_OPTIONS`) and optionally ``max_examples`` per split.
    split : {"train", "validation", "test"}
    local_path : path-like, optional
        The file to read when the task is ``local`` (resolved by the workflow).

    Returns
    -------
    list of TextExample
        At most ``max_examples[split]`` examples, the first ones in file order (the cut is
        logged).
    """
    kind = settings["kind"]
    options = {key: settings[key] for key in TASK_OPTIONS[kind] if key in settings}
    if "local" in settings:
        examples = read_local_split(kind, local_path or settings["local"][split], split=split, **options)
    else:
        hub = settings["hub"]
        examples = load_hub_split(
            kind,
            hub["name"],
            hub["splits"][split],
            config_name=hub.get("config"),
            config_key=f"tasks.{task}.hub.name",
            **options,
        )
    limit = (settings.get("max_examples") or {}).get(split)
    if limit is not None and len(examples) > limit:
        logger.info("task %s, split %s: keeping the first %d of %d examples (max_examples)", task, split, limit, len(examples))
        examples = examples[:limit]
    return examples


def prepare_task_splits(
    task: str,
    settings: Mapping[str, Any],
    outputs: Mapping[str, str | os.PathLike],
    *,
    local_paths: Mapping[str, str | os.PathLike] | None = None,
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
        The local files to read (resolved by the workflow); default ``settings["local"]``.

    Returns
    -------
    dict of split -> int
        Examples written per split.
    """
    local_paths = local_paths or {}
    template = settings.get("template") or DEFAULT_TEMPLATES[settings["kind"]]
    loaded = {
        split: load_task_split(task, settings, split, local_path=local_paths.get(split)) for split in outputs
    }
    for split, examples in loaded.items():
        write_split(outputs[split], examples, template, config_key=f"tasks.{task}.template")
    return {split: len(examples) for split, examples in loaded.items()}
