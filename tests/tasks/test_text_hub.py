"""Tests of the hub path of text tasks (brainalign.tasks.text_hub), offline with stand-in datasets."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.tasks.text import TextExample, load_hub_split, load_task_split
from tests.tasks.text_files import CONTEXT_1, CONTEXT_2, fake_load_dataset

ROOT = Path(__file__).resolve().parents[2]

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


# --------------------------------------------------------------------------- at scale

SCALE_ROWS = 10_000_000

SCALE_SCRIPT = r"""
import json, resource, sys, time
import datasets
from brainalign.tasks.text_hub import load_hub_split

table = datasets.Dataset.from_file(sys.argv[1])  # memory-mapped, as load_dataset returns a prepared split
datasets.load_dataset = lambda *args, **kwargs: table
runs = []
for seed in (1, 1, 2):
    start = time.perf_counter()
    examples = load_hub_split("summarization", "fake/xsum", "train", config_key="tasks.s.hub.name",
                              max_examples=20000, seed=seed)
    runs.append({"seconds": time.perf_counter() - start, "ids": [e.id for e in examples],
                 "documents_match": all(e.fields["document"] == "d" + e.id[3:] for e in examples)})
print(json.dumps({"n_rows": len(table), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "runs": runs}))
"""


def write_big_arrow_table(path: Path, n_rows: int, chunk: int = 1_000_000) -> None:
    """An XSum-like Arrow stream file (the format of the `datasets` cache), built in vectorised chunks:
    row i has document ``d<i>`` and summary ``s<i>``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = pa.schema([("document", pa.string()), ("summary", pa.string())])
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for start in range(0, n_rows, chunk):
            ids = pa.array(np.arange(start, min(start + chunk, n_rows))).cast(pa.string())
            columns = {"document": pc.binary_join_element_wise("d", ids, ""),
                       "summary": pc.binary_join_element_wise("s", ids, "")}
            writer.write_table(pa.table(columns, schema=schema))


def test_subset_of_ten_million_rows_is_bounded_fast_spread_and_seeded(tmp_path: Path) -> None:
    """20,000 of 10M memory-mapped rows: < 1 GB peak, seconds, a uniform spread, same rows per seed.

    Turning the split into Python rows first (the old way) takes minutes and several GB here.
    """
    path = tmp_path / "big.arrow"
    write_big_arrow_table(path, SCALE_ROWS)
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        done = subprocess.run([sys.executable, "-c", SCALE_SCRIPT, str(path)], capture_output=True, text=True,
                              env=env, timeout=300, check=True)
    finally:
        path.unlink()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["n_rows"] == SCALE_ROWS
    assert result["peak_mb"] < 1024, result["peak_mb"]
    first, again, other = result["runs"]
    assert first["seconds"] < 60, first["seconds"]
    assert first["documents_match"] and other["documents_match"]
    rows = np.array([int(i.removeprefix("row")) for i in first["ids"]])
    assert rows.size == 20000 and np.all(np.diff(rows) > 0)  # distinct, in table order
    # Spread over the whole table, not the first N rows: about 2,000 per tenth (sd ~42).
    per_tenth = np.bincount(rows * 10 // SCALE_ROWS, minlength=10)
    assert per_tenth.min() > 1700 and per_tenth.max() < 2300, per_tenth
    assert again["ids"] == first["ids"]  # deterministic per seed
    assert len(set(other["ids"]) & set(first["ids"])) < 200  # another seed, other rows (expected ~40)


# --------------------------------------------------------------------------- subsets, revision, streaming


def xsum_rows(n: int, *, invalid_every: int | None = None) -> list[dict]:
    """Rows ``id`` = ``x<i>``; every ``invalid_every``-th document is None or empty."""
    rows = [{"id": f"x{i}", "document": f"Document number {i}.", "summary": f"Summary {i}."} for i in range(n)]
    if invalid_every:
        for i in range(0, n, invalid_every):
            rows[i]["document"] = None if (i // invalid_every) % 2 else "  "
    return rows


def test_subset_is_seeded_random_and_in_table_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(xsum_rows(1000)))
    load = lambda seed: [e.id for e in load_hub_split(  # noqa: E731
        "summarization", "x", "train", config_key="k", max_examples=100, seed=seed)]
    first = load(7)
    indices = [int(i[1:]) for i in first]
    assert len(first) == 100 and indices == sorted(indices)
    assert indices != list(range(100)) and max(indices) > 800
    assert load(7) == first and load(8) != first
    everything = load_hub_split("summarization", "x", "train", config_key="k", max_examples=5000)
    assert [e.id for e in everything] == [f"x{i}" for i in range(1000)]  # a split not larger: all of it, in order


def test_invalid_texts_are_skipped_and_replaced_within_the_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(xsum_rows(1000, invalid_every=50)))
    with caplog.at_level(logging.WARNING):
        examples = load_hub_split("summarization", "x", "train", config_key="k", task="news", max_examples=300,
                                  seed=3, max_invalid_fraction=0.05)
    assert len(examples) == 300  # skipped rows are replaced by further draws
    assert all(int(e.id[1:]) % 50 for e in examples)
    (warning,) = [r.getMessage() for r in caplog.records if "empty or non-string" in r.getMessage()]
    assert "split 'train' of task 'news'" in warning and "max_invalid_fraction=0.05" in warning
    skipped = int(warning.split("skipped ")[1].split(" of ")[0])
    assert 1 <= skipped <= 20  # ~2% of the ~306 rows read


def test_too_many_invalid_texts_stop_naming_task_and_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(xsum_rows(1000, invalid_every=50)))
    with pytest.raises(DataError) as info:
        load_hub_split("summarization", "x", "validation", config_key="k", task="news", max_examples=300, seed=3)
    message = str(info.value)
    assert "split 'validation' of task 'news'" in message and "max_invalid_fraction=0.01" in message
    assert "'document' (option document_key) is" in message  # the first invalid row, named


def test_a_single_invalid_text_in_a_whole_split_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = xsum_rows(200)
    rows[17]["summary"] = None
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(rows))
    examples = load_hub_split("summarization", "x", "train", config_key="k")
    assert len(examples) == 199 and "x17" not in {e.id for e in examples}


def test_revision_reaches_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(xsum_rows(10), calls))
    settings = {"kind": "summarization", "max_examples": {"test": 4},
                "hub": {"name": "EdinburghNLP/xsum", "revision": "refs/convert/parquet",
                        "splits": {"train": "train", "validation": "validation", "test": "test"}}}
    assert len(load_task_split("summarization", settings, "test", seed=1)) == 4
    assert calls == [{"name": "EdinburghNLP/xsum", "config_name": None, "split": "test",
                      "revision": "refs/convert/parquet", "streaming": False}]


def test_streaming_takes_a_seeded_shuffled_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(xsum_rows(2000), calls))
    load = lambda seed: [e.id for e in load_hub_split(  # noqa: E731
        "summarization", "x", "train", config_key="k", streaming=True, shuffle_buffer=500, max_examples=50,
        seed=seed)]
    first = load(5)
    assert len(first) == 50 and len(set(first)) == 50
    assert calls[0]["streaming"] is True
    assert first == load(5) and first != load(6)
    assert {int(i[1:]) for i in first} != set(range(50))  # not the first rows of the stream
    assert max(int(i[1:]) for i in first) >= 500  # shards shuffled: rows from beyond the first shard


def test_streaming_refuses_sliced_splits() -> None:
    with pytest.raises(ConfigError, match=r"tasks\.qa\.hub\.name='squad'.*'validation\[:50%\]' is a slice"):
        load_hub_split("qa", "squad", "validation[:50%]", config_key="tasks.qa.hub.name", streaming=True)


def test_the_real_datasets_api_on_a_local_parquet_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load_dataset and select of the installed `datasets`, on parquet shards laid out like the hub's
    parquet export (offline: a local folder in place of a repository id). Streaming a local folder costs
    ~5 s of `datasets` start-up here; the streaming shuffle is tested on an in-memory IterableDataset."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    repo = tmp_path / "xsum_like"
    repo.mkdir()
    for shard in range(3):
        rows = [{"id": f"{shard}-{i}", "document": f"Doc {shard} {i}.", "summary": f"Sum {shard} {i}."}
                for i in range(400)]
        pq.write_table(pa.Table.from_pylist(rows), repo / f"train-{shard:05d}-of-00003.parquet")
    subset = load_hub_split("summarization", str(repo), "train", config_key="k", max_examples=60, seed=3)
    shards = {e.id.split("-")[0] for e in subset}
    assert len(subset) == 60 and shards == {"0", "1", "2"}
    assert all(e.fields["document"] == "Doc {} {}.".format(*e.id.split("-")) for e in subset)
    assert [e.id for e in load_hub_split("summarization", str(repo), "train", config_key="k", max_examples=60,
                                         seed=3)] == [e.id for e in subset]
    sliced = load_hub_split("summarization", str(repo), "train[:10%]", config_key="k", max_examples=5, seed=3)
    assert len(sliced) == 5 and all(e.id.startswith("0-") and int(e.id[2:]) < 120 for e in sliced)
