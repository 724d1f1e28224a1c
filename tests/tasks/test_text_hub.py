"""Tests of the hub path of text tasks (brainalign.tasks.text_hub), offline with stand-in datasets."""

from __future__ import annotations

import logging
import sys

import datasets
import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.tasks.text import TextExample, load_hub_split
from tests.tasks.text_files import CONTEXT_1, CONTEXT_2, fake_load_dataset

# --------------------------------------------------------------------------- hub


def test_hub_without_datasets_names_config_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    with pytest.raises(ConfigError) as info:
        load_hub_split("summarization", "EdinburghNLP/xsum", "test", config_key="tasks.summarization.hub.name")
    message = str(info.value)
    assert "tasks.summarization.hub.name" in message
    assert "`datasets` is not installed" in message
    assert "run once online" in message and "`local`" in message


def test_hub_answer_lists_must_match(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"id": "h1", "context": CONTEXT_1, "question": "When?", "answers": {"text": ["1889"], "answer_start": []}}]
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(rows))
    with pytest.raises(DataError, match=r"hub dataset 'squad'.*row 0 question 'h1': 'answers' must hold"):
        load_hub_split("qa", "squad", "train", config_key="tasks.qa.hub.name")


def test_hub_offline_error_names_config_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(ConnectionError("offline mode is enabled")))
    with pytest.raises(ConfigError, match=r"tasks\.qa\.hub\.name='squad'.*offline mode is enabled.*cache"):
        load_hub_split("qa", "squad", "validation", config_key="tasks.qa.hub.name")


def test_hub_row_mapping(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    squad_rows = [
        {"id": "h1", "title": "T", "context": CONTEXT_1, "question": "When?",
         "answers": {"text": ["1889"], "answer_start": [CONTEXT_1.index("1889")]}},
        {"id": "h2", "title": "T", "context": CONTEXT_1, "question": "Who?",
         "answers": {"text": [], "answer_start": []}},
        # Offsets count from the raw context, leading whitespace included.
        {"id": "h3", "title": "T", "context": "\n " + CONTEXT_2, "question": "Who?",
         "answers": {"text": ["Marie Curie"], "answer_start": [2]}},
    ]
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(squad_rows))
    with caplog.at_level(logging.WARNING, logger="brainalign.tasks.text"):
        examples = load_hub_split("qa", "squad_v2", "validation", config_key="tasks.qa.hub.name")
    assert examples == [
        TextExample("h1", {"context": CONTEXT_1, "question": "When?"}, "1889"),
        TextExample("h3", {"context": CONTEXT_2, "question": "Who?"}, "Marie Curie"),
    ]
    assert any("skipped 1 question(s)" in r.getMessage() for r in caplog.records)

    wmt_rows = [{"translation": {"de": "Hallo", "en": "Hello"}}]
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(wmt_rows))
    (example,) = load_hub_split(
        "translation", "wmt14", "test", config_name="de-en", config_key="tasks.translation.hub.name",
        source_language="de", target_language="en",
    )
    assert example == TextExample("row0", {"source": "Hallo"}, "Hello")
