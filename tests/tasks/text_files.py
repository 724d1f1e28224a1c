"""Small text-task files in the formats the readers take, and a stand-in hub, for the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pytest

def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def qa(qid: str, question: str, context: str, answer: str | None) -> dict:
    """A SQuAD question whose answer span is computed from the context (None: unanswerable)."""
    if answer is None:
        return {"id": qid, "question": question, "answers": [], "is_impossible": True}
    return {"id": qid, "question": question, "answers": [{"text": answer, "answer_start": context.index(answer)}]}


CONTEXT_1 = "The Eiffel Tower was completed in 1889 for the World's Fair in Paris."
CONTEXT_2 = "Marie Curie won the Nobel Prize in Physics in 1903 and in Chemistry in 1911."


def squad_document(*, impossible: bool = False) -> dict:
    first = [
        qa("q1", "When was the Eiffel Tower completed?", CONTEXT_1, "1889"),
        qa("q2", "Where was the World's Fair?", CONTEXT_1, "Paris"),
    ]
    second = [
        qa("q3", "Who won the Nobel Prize in Physics in 1903?", CONTEXT_2, "Marie Curie"),
        qa("q4", "When did she win in Chemistry?", CONTEXT_2, "1911"),
    ]
    if impossible:
        second.append(qa("q5", "Who won in 1950?", CONTEXT_2, None))
        second.append(qa("q6", "Who won in 1960?", CONTEXT_2, None))
    return {
        "version": "v2.0" if impossible else "1.1",
        "data": [
            {"title": "Eiffel", "paragraphs": [{"context": CONTEXT_1, "qas": first}]},
            {"title": "Curie", "paragraphs": [{"context": CONTEXT_2, "qas": second}]},
        ],
    }


@pytest.fixture()
def squad_file(tmp_path: Path) -> Path:
    path = tmp_path / "squad_dev.json"
    path.write_text(json.dumps(squad_document()), encoding="utf-8")
    return path


@pytest.fixture()
def xsum_file(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "xsum_test.jsonl",
        [
            {
                "id": "35232142",
                "document": "  The council approved the new bridge.\nWork starts in May. ",
                "summary": "A bridge is coming.",
            },
            {"id": "40143035", "document": "Rain fell all week in Zürich.", "summary": "It rained."},
        ],
    )


@pytest.fixture()
def wmt_file(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "wmt_fr_en.jsonl",
        [
            {"translation": {"en": "The cat sleeps.", "fr": "Le chat dort."}},
            {"translation": {"en": "We are late.", "fr": "Nous sommes en retard."}},
        ],
    )


def fake_load_dataset(rows: list[dict] | Exception | Any, calls: list[dict] | None = None):
    """A stand-in for ``datasets.load_dataset`` (patch it onto the real module): returns
    ``rows`` as a real in-memory ``datasets.Dataset`` (an ``IterableDataset`` when
    streaming; ``rows`` itself when it is a dataset already), raises ``rows`` when it is an
    exception, and records each call's arguments in ``calls``."""

    def load_dataset(name, config_name=None, *, split=None, revision=None, streaming=False):
        if calls is not None:
            calls.append({"name": name, "config_name": config_name, "split": split, "revision": revision,
                          "streaming": streaming})
        if isinstance(rows, Exception):
            raise rows
        if isinstance(rows, list):
            table = datasets.Dataset.from_list(rows)
            return table.to_iterable_dataset(num_shards=min(4, len(rows))) if streaming else table
        return rows

    return load_dataset
