"""Text task examples: the kinds, their input fields, and building examples from rows.

Every source (local files, the hub) is read into rows in the Hugging Face hub schema of
its kind, which :func:`row_example` maps to a :class:`TextExample`:

``summarization``
    ``{"id", <document_key>, <summary_key>}`` (XSum: ``document`` / ``summary``).
``qa``
    ``{"id", "context", "question", "answers": {"text": [...], "answer_start": [...]}}``
    (SQuAD). The target is the first answer, which must sit at its ``answer_start``;
    a question without an answer (SQuAD 2) yields no example.
``translation``
    ``{"translation": {<source_language>: ..., <target_language>: ...}}`` (WMT).

:func:`collect_examples` draws rows from a source until it holds the wanted number of
examples, skipping rows whose texts are empty or not strings (counted and logged) and
stopping with a :class:`~brainalign.errors.DataError` only when their share exceeds
``max_invalid_fraction``. Rows that are malformed in structure (a missing key, an answer
not at its offset) stop at once: they mean a wrong format or key option, not a bad row.

Fields and targets are stripped of surrounding whitespace, so the single space the
training code puts between prompt and target is the only separator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from brainalign.errors import ConfigError, DataError

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

#: Default of ``tasks.<name>.max_invalid_fraction``.
DEFAULT_MAX_INVALID_FRACTION = 0.01

#: One row read from a source: (order key, location for messages, id if the row has none, row).
Row = tuple[int, str, str, Any]


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


class InvalidText(Exception):
    """A row's text is empty or not a string: the row is skipped and counted."""


def resolve_options(kind: str, options: Mapping[str, Any]) -> dict[str, str]:
    """The kind's options (:data:`TASK_OPTIONS`) with defaults filled in, checked.

    Raises
    ------
    ConfigError
        Unknown kind or option, an empty or non-string value, or equal languages.
    """
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
        raise InvalidText(f"{where}: {what} is {type(value).__name__}, expected a string")
    if not value.strip():
        raise InvalidText(f"{where}: {what} is empty")
    return value.strip()


def row_example(kind: str, row: Any, where: str, default_id: str, opts: Mapping[str, str]) -> TextExample | None:
    """Map one row in the hub schema of ``kind`` (module docstring) to an example.

    Returns
    -------
    TextExample or None
        None for a question without an answer (the caller counts these).

    Raises
    ------
    InvalidText
        An empty or non-string text.
    DataError
        A row that is not an object, a missing key, malformed answers, or an answer that
        is not at its ``answer_start``.
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
        raise InvalidText(f"{where}: its context is missing, empty or not a string")
    answers = row.get("answers") or {}
    texts = answers.get("text") if isinstance(answers, Mapping) else None
    starts = answers.get("answer_start") if isinstance(answers, Mapping) else None
    if not isinstance(texts, (list, tuple)) or not isinstance(starts, (list, tuple)) or len(texts) != len(starts):
        raise DataError(f"{where}: 'answers' must hold equally long lists 'text' and 'answer_start'.")
    if not texts:
        return None
    text, start = texts[0], starts[0]
    if not isinstance(text, str) or not text.strip():
        raise InvalidText(f"{where}: its first answer text is empty or not a string")
    if not isinstance(start, int) or context[start:start + len(text)] != text:
        raise DataError(
            f"{where}: answer {text!r} is not at answer_start={start!r} in its context; "
            "fix answer_start (a character offset into the context)."
        )
    return TextExample(row_id, {"context": context.strip(), "question": question}, text.strip())


def split_label(task: str, split: str | None) -> str:
    """How messages name a split of a task, e.g. ``split 'train' of task 'qa'``."""
    return f"split {split!r} of task {task!r}" if split else f"task {task!r}"


def collect_examples(
    kind: str,
    next_rows: Callable[[int], Sequence[Row]],
    *,
    wanted: int | None,
    opts: Mapping[str, str],
    label: str,
    source: str,
    max_invalid_fraction: float = DEFAULT_MAX_INVALID_FRACTION,
) -> list[TextExample]:
    """Draw rows until ``wanted`` examples are found (all rows when None); skip invalid ones.

    Parameters
    ----------
    kind : str
        Task kind (:data:`TASK_KINDS`).
    next_rows : callable
        ``next_rows(n)`` returns up to ``n`` further rows in draw order (a seeded random
        order, or file order), each ``(key, where, default_id, row)`` (:data:`Row`); all
        remaining rows when ``n`` < 0; an empty sequence when the source is exhausted.
    wanted : int or None
        Examples to keep; None keeps every row's example.
    opts : mapping
        The kind's resolved options (:func:`resolve_options`).
    label, source : str
        Name the split and the source in messages (:func:`split_label`).
    max_invalid_fraction : float
        The largest share of rows with an empty or non-string text (among the rows read)
        that is skipped; more stops.

    Returns
    -------
    list of TextExample
        Ordered by row key (file or table order; stream position when streaming).

    Raises
    ------
    DataError
        Too many invalid rows (naming the split, the share and the first such row), no
        examples, repeated ids, or a structurally malformed row.
    """
    found: list[tuple[int, TextExample]] = []
    invalid: list[str] = []
    unanswerable = 0
    # Past this many invalid rows the share among the rows read exceeds the limit for sure.
    allowance = None if wanted is None else max_invalid_fraction * wanted / (1.0 - max_invalid_fraction)
    batch = wanted if wanted is not None else -1
    while wanted is None or len(found) < wanted:
        rows = next_rows(batch)
        if not rows:
            break
        for key, where, default_id, row in rows:
            try:
                example = row_example(kind, row, where, default_id, opts)
            except InvalidText as exc:
                invalid.append(str(exc))
                if allowance is not None and len(invalid) > allowance:
                    _too_many_invalid(invalid, len(found), label, source, max_invalid_fraction)
                continue
            if example is None:
                unanswerable += 1
            else:
                found.append((key, example))
                if wanted is not None and len(found) == wanted:
                    break
        if wanted is None:
            break
        batch = 2 * (wanted - len(found)) + 16
    if unanswerable:
        logger.warning("%s (%s): skipped %d question(s) without an answer (unanswerable)", label, source, unanswerable)
    if invalid:
        read = len(found) + len(invalid)
        if len(invalid) > max_invalid_fraction * read:
            _too_many_invalid(invalid, len(found), label, source, max_invalid_fraction)
        logger.warning(
            "%s (%s): skipped %d of %d rows (%.2f%%) with an empty or non-string text, within "
            "max_invalid_fraction=%g; first: %s",
            label, source, len(invalid), read, 100.0 * len(invalid) / read, max_invalid_fraction, invalid[0],
        )
    if not found:
        raise DataError(f"{label} ({source}) has no examples; check the data and the task's key options.")
    found.sort(key=lambda item: item[0])
    examples = [example for _, example in found]
    check_unique_ids([example.id for example in examples], f"{label} ({source})")
    logger.info("%s: %d examples from %s", label, len(examples), source)
    return examples


def _too_many_invalid(invalid: list[str], valid: int, label: str, source: str, limit: float) -> None:
    read = valid + len(invalid)
    raise DataError(
        f"{label} ({source}): {len(invalid)} of the {read} rows read ({100.0 * len(invalid) / read:.1f}%) have an "
        f"empty or non-string text, more than max_invalid_fraction={limit:g}; first: {invalid[0]}. "
        "Fix the data, check the task's key options, or raise the task's max_invalid_fraction."
    )


def check_unique_ids(ids: Iterable[str], where: str) -> None:
    """Raise :class:`DataError` naming up to five ids that occur more than once."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for example_id in ids:
        (repeated if example_id in seen else seen).add(example_id)
    if repeated:
        listed = sorted(repeated)
        shown = ", ".join(repr(i) for i in listed[:5]) + (" ..." if len(listed) > 5 else "")
        raise DataError(f"{where} repeats example id(s) {shown}; ids must be unique within a split.")
