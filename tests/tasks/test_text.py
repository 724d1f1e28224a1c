"""Tests of configured text tasks: load_task_split and prepare_task_splits (brainalign.tasks.text)."""

from __future__ import annotations

def test_load_task_split_reads_the_shipped_demo_corpora_and_applies_max_examples():
    from pathlib import Path

    from brainalign.tasks.text import load_task_split

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
