"""Tests of the text task readers, prompt rendering and the normalised split files."""

from __future__ import annotations

import json
import logging
import sys
import types
from pathlib import Path

import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.tasks.text import (
    DEFAULT_TEMPLATES,
    TASK_FIELDS,
    TASK_KINDS,
    TextExample,
    load_hub_split,
    read_local_split,
    read_split,
    render_prompt,
    write_split,
)

# --------------------------------------------------------------------------- fixture files


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


# --------------------------------------------------------------------------- readers


def test_summarization_reader(xsum_file: Path) -> None:
    examples = read_local_split("summarization", xsum_file)
    assert [e.id for e in examples] == ["35232142", "40143035"]
    assert examples[0].fields == {"document": "The council approved the new bridge.\nWork starts in May."}
    assert examples[0].target == "A bridge is coming."
    assert examples[1].fields["document"] == "Rain fell all week in Zürich."


def test_summarization_reader_custom_keys_and_line_ids(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "cnn.jsonl", [{"article": "Long text.", "highlights": "Short."}])
    path.write_text(path.read_text() + "\n")  # a trailing blank line is harmless
    (example,) = read_local_split("summarization", path, document_key="article", summary_key="highlights")
    assert example == TextExample("line1", {"document": "Long text."}, "Short.")


def test_qa_reader_two_paragraphs(squad_file: Path) -> None:
    examples = read_local_split("qa", squad_file, split="validation")
    assert [e.id for e in examples] == ["q1", "q2", "q3", "q4"]
    assert [e.target for e in examples] == ["1889", "Paris", "Marie Curie", "1911"]
    assert examples[0].fields == {"context": CONTEXT_1, "question": "When was the Eiffel Tower completed?"}
    assert examples[2].fields["context"] == CONTEXT_2


def test_qa_reader_skips_unanswerable_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "squad2.json"
    path.write_text(json.dumps(squad_document(impossible=True)), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="brainalign.tasks.text"):
        examples = read_local_split("qa", path, split="train")
    assert [e.id for e in examples] == ["q1", "q2", "q3", "q4"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 2 question(s)" in warnings[0] and "'train'" in warnings[0]


def test_translation_reader_default_pair(wmt_file: Path) -> None:
    examples = read_local_split("translation", wmt_file)
    assert [e.id for e in examples] == ["line1", "line2"]
    assert examples[0].fields == {"source": "The cat sleeps."}
    assert examples[0].target == "Le chat dort."


def test_translation_reader_other_pair(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "wmt_de_en.jsonl",
        [{"id": "a", "translation": {"de": "Guten Morgen, schöne Welt.", "en": "Good morning, beautiful world."}}],
    )
    (example,) = read_local_split("translation", path, source_language="de", target_language="en")
    assert example == TextExample("a", {"source": "Guten Morgen, schöne Welt."}, "Good morning, beautiful world.")


# --------------------------------------------------------------------------- reader errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere.jsonl.*not found"):
        read_local_split("summarization", tmp_path / "nowhere.jsonl")


def test_invalid_jsonl_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"document": "a", "summary": "b"}\n{"document": "c", \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl line 2 is not valid JSON"):
        read_local_split("summarization", path)


def test_invalid_squad_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.json is not valid JSON"):
        read_local_split("qa", path)


def test_jsonl_line_not_an_object(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "list.jsonl", [["document", "summary"]])
    with pytest.raises(DataError, match=r"list\.jsonl line 1 holds a list"):
        read_local_split("summarization", path)


def test_summarization_missing_key_names_option(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"document": "a", "summary": "b"}, {"document": "c"}])
    with pytest.raises(DataError, match=r"x\.jsonl line 2 lacks key 'summary' \(option summary_key\)"):
        read_local_split("summarization", path)


def test_translation_missing_language(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "w.jsonl", [{"translation": {"en": "a", "fr": "b"}}, {"translation": {"en": "c"}}])
    with pytest.raises(DataError, match=r"w\.jsonl line 2 lacks key 'translation\.fr'"):
        read_local_split("translation", path)
    with pytest.raises(DataError, match=r"w\.jsonl line 1 lacks key 'translation\.de'"):
        read_local_split("translation", path, source_language="de", target_language="en")


def test_translation_missing_translation_object(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "w.jsonl", [{"en": "a", "fr": "b"}])
    with pytest.raises(DataError, match=r"w\.jsonl line 1 lacks key 'translation'"):
        read_local_split("translation", path)


def test_qa_answer_span_mismatch(tmp_path: Path) -> None:
    document = squad_document()
    document["data"][1]["paragraphs"][0]["qas"][1]["answers"][0]["answer_start"] += 1
    path = tmp_path / "shifted.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(DataError, match=r"shifted\.json.*question 'q4': answer '1911' is not at answer_start"):
        read_local_split("qa", path)


def test_qa_missing_keys(tmp_path: Path) -> None:
    document = squad_document()
    del document["data"][0]["paragraphs"][0]["qas"][1]["question"]
    path = tmp_path / "noq.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(DataError, match=r"noq\.json.*question 'q2' lacks key 'question'"):
        read_local_split("qa", path)

    document = squad_document()
    del document["data"][1]["paragraphs"][0]["context"]
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(DataError, match=r"noq\.json data\[1\]\.paragraphs\[0\] question 'q3': its context is missing"):
        read_local_split("qa", path)

    path.write_text(json.dumps({"version": "1.1"}), encoding="utf-8")
    with pytest.raises(DataError, match=r"noq\.json.*lacks the list 'data'"):
        read_local_split("qa", path)


def test_empty_split(tmp_path: Path) -> None:
    path = tmp_path / "only_impossible.json"
    context = "Nothing here."
    path.write_text(
        json.dumps({"data": [{"paragraphs": [{"context": context, "qas": [qa("z", "Why?", context, None)]}]}]}),
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"split 'test' of task 'qa' \(file .*only_impossible\.json\) has no examples"):
        read_local_split("qa", path, split="test")

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"split 'train' of task 'summarization' \(file .*empty\.jsonl\) has no"):
        read_local_split("summarization", empty, split="train")


def test_duplicate_ids(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "dup.jsonl",
        [{"id": "7", "document": "a", "summary": "b"}, {"id": 7, "document": "c", "summary": "d"}],
    )
    with pytest.raises(DataError, match=r"dup\.jsonl.*repeats example id\(s\) '7'"):
        read_local_split("summarization", path, split="train")


@pytest.mark.parametrize("summary", ["", "   ", None, 3])
def test_empty_or_non_string_target(tmp_path: Path, summary: object) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"document": "a", "summary": summary}])
    with pytest.raises(DataError, match=r"t\.jsonl line 1.*'summary'"):
        read_local_split("summarization", path)


def test_empty_qa_answer(tmp_path: Path) -> None:
    document = squad_document()
    document["data"][0]["paragraphs"][0]["qas"][0]["answers"][0] = {"text": "", "answer_start": 0}
    path = tmp_path / "blank.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(DataError, match=r"blank\.json.*question 'q1': its first answer text is empty"):
        read_local_split("qa", path)


def test_config_errors(wmt_file: Path) -> None:
    with pytest.raises(ConfigError, match="unknown task kind 'poetry'"):
        read_local_split("poetry", wmt_file)
    with pytest.raises(ConfigError, match=r"takes no option\(s\) \['document_key'\]"):
        read_local_split("translation", wmt_file, document_key="text")
    with pytest.raises(ConfigError, match="both 'en'"):
        read_local_split("translation", wmt_file, source_language="en", target_language="en")


# --------------------------------------------------------------------------- hub


def test_hub_without_datasets_names_config_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    with pytest.raises(ConfigError) as info:
        load_hub_split("summarization", "EdinburghNLP/xsum", "test", config_key="tasks.summarization.hub.name")
    message = str(info.value)
    assert "tasks.summarization.hub.name" in message
    assert "`datasets` is not installed" in message
    assert "run once online" in message and "`local`" in message


def fake_datasets(rows: list[dict] | Exception) -> types.ModuleType:
    """A stand-in for the `datasets` module (not installed here): load_dataset returns ``rows``."""
    module = types.ModuleType("datasets")

    def load_dataset(name, config_name=None, *, split=None):
        if isinstance(rows, Exception):
            raise rows
        return list(rows)

    module.load_dataset = load_dataset
    return module


def test_hub_answer_lists_must_match(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"id": "h1", "context": CONTEXT_1, "question": "When?", "answers": {"text": ["1889"], "answer_start": []}}]
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(rows))
    with pytest.raises(DataError, match=r"hub dataset 'squad'.*row 0 question 'h1': 'answers' must hold"):
        load_hub_split("qa", "squad", "train", config_key="tasks.qa.hub.name")


def test_hub_offline_error_names_config_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(ConnectionError("offline mode is enabled")))
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
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(squad_rows))
    with caplog.at_level(logging.WARNING, logger="brainalign.tasks.text"):
        examples = load_hub_split("qa", "squad_v2", "validation", config_key="tasks.qa.hub.name")
    assert examples == [
        TextExample("h1", {"context": CONTEXT_1, "question": "When?"}, "1889"),
        TextExample("h3", {"context": CONTEXT_2, "question": "Who?"}, "Marie Curie"),
    ]
    assert any("skipped 1 question(s)" in r.getMessage() for r in caplog.records)

    wmt_rows = [{"translation": {"de": "Hallo", "en": "Hello"}}]
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(wmt_rows))
    (example,) = load_hub_split(
        "translation", "wmt14", "test", config_name="de-en", config_key="tasks.translation.hub.name",
        source_language="de", target_language="en",
    )
    assert example == TextExample("row0", {"source": "Hallo"}, "Hello")


# --------------------------------------------------------------------------- prompts


def test_example_keeps_its_own_fields() -> None:
    fields = {"document": "D"}
    example = TextExample("1", fields, "S")
    fields["document"] = "changed"
    assert example.fields == {"document": "D"}


def test_default_templates_render_every_kind() -> None:
    assert set(DEFAULT_TEMPLATES) == set(TASK_KINDS) == set(TASK_FIELDS)
    for kind in TASK_KINDS:
        fields = {name: f"<{name}>" for name in TASK_FIELDS[kind]}
        prompt = render_prompt(DEFAULT_TEMPLATES[kind], TextExample("1", fields, "t"))
        assert all(value in prompt for value in fields.values())
        assert not prompt.endswith(" ")


def test_render_prompt() -> None:
    example = TextExample("1", {"context": "C {x} é", "question": "Q?"}, "A")
    assert render_prompt("Context: {context}\nQuestion: {question}\nAnswer:", example) == (
        "Context: C {x} é\nQuestion: Q?\nAnswer:"
    )


def test_render_prompt_unknown_placeholder() -> None:
    example = TextExample("1", {"document": "D"}, "S")
    with pytest.raises(ConfigError) as info:
        render_prompt("Article: {article}\nSummary:", example, config_key="tasks.summarization.template")
    message = str(info.value)
    assert "tasks.summarization.template" in message and "{article}" in message and "available: document" in message


@pytest.mark.parametrize(
    ("template", "pattern"),
    [
        ("Summary:", r"no placeholder for input field\(s\) \['document'\]"),
        ("Article: {document:.0}\nSummary:", r"renders without the text of field\(s\) \['document'\]"),
        ("Article: {document[0]}\nSummary:", r"renders without the text"),
        ("Article: {document!r}\nSummary:", r"renders without the text"),
        ("Article: {}\nSummary:", r"placeholder \{\} is not an input field"),
        ("Article: {document\nSummary:", r"malformed"),
    ],
)
def test_render_prompt_leaving_input_out(template: str, pattern: str) -> None:
    example = TextExample("1", {"document": "Some document."}, "S")
    with pytest.raises(ConfigError, match=pattern):
        render_prompt(template, example, config_key="tasks.summarization.template")


def test_render_prompt_allows_padding_and_literal_braces() -> None:
    example = TextExample("1", {"document": "D"}, "S")
    assert render_prompt("{{Article}} {document:>3}\nSummary:", example) == "{Article}   D\nSummary:"


def test_render_prompt_needs_every_qa_field() -> None:
    example = TextExample("1", {"context": "C", "question": "Q"}, "A")
    with pytest.raises(ConfigError, match=r"\['context'\]"):
        render_prompt("Question: {question}\nAnswer:", example)


# --------------------------------------------------------------------------- normalised splits


def test_write_read_round_trip_unicode(tmp_path: Path) -> None:
    examples = [
        TextExample("a", {"source": "Grüße aus Köln — 東京 🚄"}, "Greetings from Cologne"),
        TextExample("b", {"source": 'Quote "x"\nnext line'}, "Zweite Zeile ✓"),
    ]
    path = tmp_path / "out" / "test.jsonl"
    write_split(path, examples, "German: {source}\nEnglish:")
    assert "東京" in path.read_text(encoding="utf-8")  # written as UTF-8, not \u escapes
    records = read_split(path)
    assert records == [
        {"id": "a", "prompt": "German: Grüße aus Köln — 東京 🚄\nEnglish:",
         "target": "Greetings from Cologne"},
        {"id": "b", "prompt": 'German: Quote "x"\nnext line\nEnglish:', "target": "Zweite Zeile ✓"},
    ]
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temporary file left behind


def test_local_reader_to_split_file(squad_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "qa_validation.jsonl"
    write_split(path, read_local_split("qa", squad_file), DEFAULT_TEMPLATES["qa"])
    records = read_split(path)
    assert [r["target"] for r in records] == ["1889", "Paris", "Marie Curie", "1911"]
    assert records[3]["prompt"] == f"Context: {CONTEXT_2}\nQuestion: When did she win in Chemistry?\nAnswer:"


def test_write_split_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with pytest.raises(DataError, match=r"s\.jsonl.*empty"):
        write_split(path, [], DEFAULT_TEMPLATES["translation"])
    duplicates = [TextExample("x", {"source": "a"}, "b"), TextExample("x", {"source": "c"}, "d")]
    with pytest.raises(DataError, match=r"s\.jsonl repeats example id\(s\) 'x'"):
        write_split(path, duplicates, DEFAULT_TEMPLATES["translation"])
    with pytest.raises(DataError, match=r"'y' written to .*s\.jsonl has an empty target"):
        write_split(path, [TextExample("y", {"source": "a"}, " ")], DEFAULT_TEMPLATES["translation"])
    with pytest.raises(ConfigError, match="tasks.translation.template"):
        write_split(path, [TextExample("z", {"source": "a"}, "b")], "French:", config_key="tasks.translation.template")
    assert not path.exists()


def test_read_split_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.jsonl not found"):
        read_split(tmp_path / "missing.jsonl")

    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "a", "prompt": "p", "target": "t"}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"s\.jsonl line 2 is not valid JSON"):
        read_split(path)

    write_jsonl(path, [{"id": "a", "prompt": "p"}])
    with pytest.raises(DataError, match=r"s\.jsonl line 1: key 'target' is missing"):
        read_split(path)

    write_jsonl(path, [{"id": "a", "prompt": "p", "target": "t"}, {"id": "a", "prompt": "q", "target": "u"}])
    with pytest.raises(DataError, match=r"s\.jsonl repeats example id\(s\) 'a'"):
        read_split(path)

    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"s\.jsonl has no records"):
        read_split(path)

    path.write_bytes(b'{"id": "a", "prompt": "\xff", "target": "t"}\n')
    with pytest.raises(DataError, match=r"s\.jsonl as UTF-8"):
        read_split(path)


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
