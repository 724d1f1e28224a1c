"""Sentence stimulus sets: the shipped TSV files and the per-data-set stimulus table.

The shipped set (``resources/stimuli/sentences.tsv``) feeds the simulator; the stimulus table
(``results/brains/{dataset}/stimuli.tsv``) lists what the subjects saw and feeds feature
extraction.

The TSV has the header ``stimulus_id<TAB>passage<TAB>topic<TAB>sentence``, one sentence per
row in presentation order. Passages group consecutive sentences about one sub-topic; the
passage label is what cross-validation folds are grouped by, so a passage must never change
topic half-way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from brainalign.errors import DataError
from brainalign.io import atomic_output

if TYPE_CHECKING:
    from brainalign.brains.store import SubjectResponses

logger = logging.getLogger(__name__)

TSV_HEADER: tuple[str, ...] = ("stimulus_id", "passage", "topic", "sentence")


@dataclass(frozen=True)
class SentenceStimuli:
    """An ordered set of sentence stimuli.

    Attributes
    ----------
    stimulus_ids : tuple of str, length n
        Unique ids, presentation order.
    passages : tuple of str, length n
        Passage label of each sentence (the CV grouping unit).
    topics : tuple of str, length n
        Topic label of each sentence; constant within a passage.
    sentences : tuple of str, length n
        The sentence texts.
    """

    stimulus_ids: tuple[str, ...]
    passages: tuple[str, ...]
    topics: tuple[str, ...]
    sentences: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("stimulus_ids", "passages", "topics", "sentences"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        lengths = {len(self.stimulus_ids), len(self.passages), len(self.topics), len(self.sentences)}
        if len(lengths) != 1:
            raise DataError(
                "SentenceStimuli fields differ in length: "
                f"stimulus_ids={len(self.stimulus_ids)}, passages={len(self.passages)}, "
                f"topics={len(self.topics)}, sentences={len(self.sentences)}; give one entry per sentence."
            )
        if not self.stimulus_ids:
            raise DataError("SentenceStimuli is empty; give at least one sentence.")

    def __len__(self) -> int:
        return len(self.stimulus_ids)

    @property
    def unique_passages(self) -> tuple[str, ...]:
        """Passage labels in order of first appearance."""
        return tuple(dict.fromkeys(self.passages))

    @property
    def unique_topics(self) -> tuple[str, ...]:
        """Topic labels in order of first appearance."""
        return tuple(dict.fromkeys(self.topics))


def load_sentence_stimuli(path: str | os.PathLike) -> SentenceStimuli:
    """Read and validate a sentence-stimulus TSV.

    Parameters
    ----------
    path : path-like
        TSV with header ``stimulus_id, passage, topic, sentence`` (tab separated, UTF-8).

    Returns
    -------
    SentenceStimuli
        n sentences in file order.

    Raises
    ------
    DataError
        File missing or unreadable, wrong header, wrong column count, empty field, duplicate
        stimulus id, or a passage listed under two topics. The message names the file (and
        line) and how to fix it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"stimulus file {path} not found; check the path in the config (stimuli key).")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read stimulus file {path} as UTF-8 text ({exc}); re-save it as UTF-8.") from exc

    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != TSV_HEADER:
        found = lines[0] if lines else "<empty file>"
        raise DataError(
            f"stimulus file {path} must start with the tab-separated header "
            f"{'<TAB>'.join(TSV_HEADER)!r}, found {found!r}."
        )

    columns: list[list[str]] = [[], [], [], []]
    for line_no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            # A blank trailing line is harmless; a blank line mid-file hides a missing sentence.
            if line_no == len(lines):
                continue
            raise DataError(f"stimulus file {path} line {line_no} is blank; remove it or fill in the sentence.")
        fields = line.split("\t")
        if len(fields) != len(TSV_HEADER):
            raise DataError(
                f"stimulus file {path} line {line_no} has {len(fields)} tab-separated fields, expected "
                f"{len(TSV_HEADER)}; sentences must not contain tabs."
            )
        for column, value in zip(columns, fields, strict=True):
            value = value.strip()
            if not value:
                raise DataError(f"stimulus file {path} line {line_no} has an empty field; fill it in.")
            column.append(value)

    ids, passages, topics, sentences = columns
    if not ids:
        raise DataError(f"stimulus file {path} has a header but no sentences; add at least one row.")
    duplicates = duplicate_values(ids)
    if duplicates:
        raise DataError(f"stimulus file {path} repeats stimulus ids {duplicates}; make every stimulus_id unique.")

    topic_of: dict[str, str] = {}
    for passage, topic in zip(passages, topics, strict=True):
        previous = topic_of.setdefault(passage, topic)
        if previous != topic:
            raise DataError(
                f"stimulus file {path}: passage {passage!r} is listed under topics {previous!r} and {topic!r}; "
                "each passage must belong to exactly one topic."
            )

    stimuli = SentenceStimuli(tuple(ids), tuple(passages), tuple(topics), tuple(sentences))
    logger.info(
        "loaded %d sentences in %d passages and %d topics from %s",
        len(stimuli), len(stimuli.unique_passages), len(stimuli.unique_topics), path,
    )
    return stimuli


def duplicate_values(values: Sequence[str]) -> list[str]:
    """Return the sorted values that occur more than once."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return sorted(repeated)


STIMULUS_TABLE_COLUMNS: tuple[str, ...] = ("stimulus_id", "group", "text")


def stimulus_table(subjects: Sequence[SubjectResponses]) -> pd.DataFrame:
    """The stimuli of a data set: the union over subjects, in first-seen order.

    Parameters
    ----------
    subjects : sequence of SubjectResponses
        Every subject of one data set (subjects may have seen different subsets).

    Returns
    -------
    pandas.DataFrame
        Columns ``stimulus_id``, ``group``, ``text``; one row per distinct stimulus.

    Raises
    ------
    DataError
        If no subject is given, or one stimulus id has different texts or groups in two
        subjects (the raw files disagree about what was shown).
    """
    if not subjects:
        raise DataError("no subject stores given; check the config's subjects")
    seen: dict[str, tuple[str, str, str]] = {}
    for responses in subjects:
        for stimulus, group, text in zip(responses.stimulus_ids, responses.groups, responses.stimulus_texts):
            if stimulus not in seen:
                seen[stimulus] = (responses.subject, group, text)
            elif seen[stimulus][1:] != (group, text):
                other = seen[stimulus][0]
                raise DataError(
                    f"stimulus {stimulus!r} differs between subjects {other} and {responses.subject} "
                    f"({seen[stimulus][1:]!r} vs {(group, text)!r}); the raw files of the two subjects "
                    "must describe the same stimuli"
                )
    return pd.DataFrame(
        [(stimulus, group, text) for stimulus, (_, group, text) in seen.items()],
        columns=list(STIMULUS_TABLE_COLUMNS),
    )


def write_stimulus_table(path: str | os.PathLike, subjects: Sequence[SubjectResponses]) -> pd.DataFrame:
    """Write :func:`stimulus_table` of ``subjects`` as TSV (atomically) and return it."""
    table = stimulus_table(subjects)
    with atomic_output(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
    return table


def read_stimulus_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_stimulus_table`."""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"cannot read stimulus table {path}: {error}; rerun the stimulus_table rule") from error
    if tuple(table.columns) != STIMULUS_TABLE_COLUMNS or table.empty:
        raise DataError(
            f"stimulus table {path} must have the columns {list(STIMULUS_TABLE_COLUMNS)} and at least one row; "
            "rerun the stimulus_table rule"
        )
    return table
