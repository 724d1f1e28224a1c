"""Tests of configured text tasks: load_task_split and prepare_task_splits (brainalign.tasks.text)."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
import yaml

from brainalign.errors import DataError
from brainalign.tasks.text import load_task_split, prepare_task_splits
from tests.tasks.text_files import fake_load_dataset

def test_load_task_split_reads_the_shipped_demo_corpora_and_applies_max_examples():
    root = Path(__file__).resolve().parents[2]
    demo = {
        "summarization": ("summarization", "resources/tasks/summarization/{}.jsonl", {}),
        "qa": ("qa", "resources/tasks/qa/{}.json", {}),
        "translation": ("translation", "resources/tasks/translation/{}.jsonl", {"source_language": "en", "target_language": "fr"}),
    }
    for task, (kind, pattern, options) in demo.items():
        settings = {"kind": kind, "local": {s: str(root / pattern.format(s)) for s in ("train", "validation", "test")}, **options}
        sizes = {split: len(load_task_split(task, settings, split)) for split in ("train", "validation", "test")}
        assert sizes["train"] >= 150 and sizes["test"] >= 40, (task, sizes)
        capped = load_task_split(task, {**settings, "max_examples": {"train": 7}}, "train")
        assert len(capped) == 7


def test_prepare_task_splits_from_parallel_text_is_deterministic_per_seed(tmp_path):
    data = tmp_path / "wmt"
    data.mkdir()
    for split in ("train", "valid", "test"):
        for lang, word in (("en", "Sentence"), ("fr", "Phrase")):
            (data / f"{split}.{lang}").write_text("".join(f"{word} {i}.\n" for i in range(200)), encoding="utf-8")
    settings = {"kind": "translation", "max_examples": {"train": 50},
                "local": {"format": "parallel_text", "train": str(data / "train"), "validation": str(data / "valid"),
                          "test": str(data / "test")}}

    def prepare(seed: int, folder: str) -> dict[str, bytes]:
        outputs = {split: tmp_path / folder / f"{split}.jsonl" for split in ("train", "validation", "test")}
        counts = prepare_task_splits("wmt", settings, outputs, seed=seed)
        assert counts == {"train": 50, "validation": 200, "test": 200}
        return {split: Path(path).read_bytes() for split, path in outputs.items()}

    first = prepare(1, "a")
    assert prepare(1, "b") == first  # byte-identical for the same seed
    other = prepare(2, "c")
    assert other["train"] != first["train"] and other["test"] == first["test"]


def test_max_invalid_fraction_is_read_from_the_task_settings(tmp_path):
    path = tmp_path / "news.jsonl"
    rows = [{"document": "" if i % 20 == 0 else f"Document {i}.", "summary": f"S {i}."} for i in range(100)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    settings = {"kind": "summarization", "local": {"train": str(path), "validation": str(path), "test": str(path)}}
    with pytest.raises(DataError, match=r"split 'train' of task 'news'.*5 of the 100 rows"):
        load_task_split("news", settings, "train")
    assert len(load_task_split("news", {**settings, "max_invalid_fraction": 0.1}, "train")) == 95


def test_paper_config_reads_xsum_from_its_parquet_export(monkeypatch):
    """datasets 5 runs no loading scripts: XSum's main branch has one, its parquet export does not."""
    root = Path(__file__).resolve().parents[2]
    settings = yaml.safe_load((root / "config" / "paper.yaml").read_text())["tasks"]["summarization"]
    calls: list[dict] = []
    rows = [{"id": str(i), "document": f"Article {i}.", "summary": f"Summary {i}."} for i in range(30)]
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(rows, calls))
    examples = load_task_split("summarization", {**settings, "max_examples": {"train": 10}}, "train", seed=0)
    assert len(examples) == 10
    assert calls[0]["name"] == "EdinburghNLP/xsum" and calls[0]["revision"] == "refs/convert/parquet"
