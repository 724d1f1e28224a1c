"""Tests of prompt rendering and the normalised split files (brainalign.tasks.text_splits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.tasks.text import (
    DEFAULT_TEMPLATES,
    TASK_FIELDS,
    TASK_KINDS,
    TextExample,
    read_local_split,
    read_split,
    render_prompt,
    write_split,
)
from tests.tasks.text_files import CONTEXT_2, squad_file, write_jsonl

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
