"""Tests of the local text-task readers (brainalign.tasks.text_local)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.tasks.text import (
    TextExample,
    local_input_files,
    local_split_paths,
    local_task_problems,
    read_local_split,
)
from tests.tasks.text_files import CONTEXT_1, CONTEXT_2, qa, squad_document, squad_file, wmt_file, write_jsonl, xsum_file

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
    with pytest.raises(DataError, match=r"split 'test' of task 'qa' \(squad_json file .*only_impossible\.json\) has no examples"):
        read_local_split("qa", path, split="test")

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"split 'train' of task 'summarization' \(hf_jsonl file .*empty\.jsonl\) has no"):
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


# --------------------------------------------------------------------------- formats


def write_parallel(prefix: Path, pairs: list[tuple[str, str]], langs: tuple[str, str] = ("en", "fr"), *,
                   newline: str = "\n") -> Path:
    """WMT-style plain text: ``{prefix}.{lang}``, one sentence per line."""
    for position, lang in enumerate(langs):
        Path(f"{prefix}.{lang}").write_text("".join(pair[position] + newline for pair in pairs), encoding="utf-8")
    return prefix


def test_parallel_text_reader(tmp_path: Path) -> None:
    prefix = write_parallel(tmp_path / "newstest2014", [("The cat sleeps.", "Le chat dort."),
                                                        (" We are late. ", "Nous sommes en retard.")], newline="\r\n")
    examples = read_local_split("translation", prefix, format="parallel_text", split="test")
    assert examples == [TextExample("line1", {"source": "The cat sleeps."}, "Le chat dort."),
                        TextExample("line2", {"source": "We are late."}, "Nous sommes en retard.")]
    write_parallel(tmp_path / "train", [("Guten Tag.", "Good day.")], ("de", "en"))
    (example,) = read_local_split("translation", tmp_path / "train", format="parallel_text",
                                  source_language="de", target_language="en")
    assert example.fields == {"source": "Guten Tag."} and example.target == "Good day."


def test_parallel_text_line_counts_must_match(tmp_path: Path) -> None:
    prefix = write_parallel(tmp_path / "train", [("a", "b"), ("c", "d")])
    Path(f"{prefix}.fr").write_text("b\nd\ne\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train\.en has 2 lines, .*train\.fr has 3"):
        read_local_split("translation", prefix, format="parallel_text", split="train")
    Path(f"{prefix}.fr").unlink()
    with pytest.raises(DataError, match=r"train\.fr not found"):
        read_local_split("translation", prefix, format="parallel_text")


def test_parallel_text_blank_lines_are_skipped_up_to_the_limit(tmp_path: Path, caplog) -> None:
    pairs = [(f"Sentence {i}.", f"Phrase {i}.") for i in range(300)]
    pairs[10] = ("Sentence 10.", "")
    prefix = write_parallel(tmp_path / "valid", pairs)
    with caplog.at_level(logging.WARNING):
        examples = read_local_split("translation", prefix, format="parallel_text", split="validation", task="wmt")
    assert len(examples) == 299 and "line11" not in {e.id for e in examples}
    assert any("skipped 1 of 300 rows" in r.getMessage() and "task 'wmt'" in r.getMessage() for r in caplog.records)
    pairs[20] = pairs[30] = pairs[40] = ("", "Phrase.")
    write_parallel(prefix, pairs)
    with pytest.raises(DataError, match=r"split 'validation' of task 'wmt'.*4 of the 300 rows.*valid\.fr line 11"):
        read_local_split("translation", prefix, format="parallel_text", split="validation", task="wmt")


def test_format_must_suit_the_kind(xsum_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"'parallel_text' cannot be read for task kind 'summarization'.*hf_jsonl"):
        read_local_split("summarization", xsum_file, format="parallel_text")
    with pytest.raises(ConfigError, match=r"'jsonl' cannot be read.*squad_json, hf_jsonl"):
        read_local_split("qa", xsum_file, format="jsonl")


def test_qa_from_the_hugging_face_export(tmp_path: Path) -> None:
    row = {"id": "h1", "title": "T", "context": CONTEXT_1, "question": "When?",
           "answers": {"text": ["1889"], "answer_start": [CONTEXT_1.index("1889")]}}
    (example,) = read_local_split("qa", write_jsonl(tmp_path / "squad.jsonl", [row]), format="hf_jsonl")
    assert example == TextExample("h1", {"context": CONTEXT_1, "question": "When?"}, "1889")


@pytest.mark.parametrize("fmt", ["hf_jsonl", "parallel_text"])
def test_local_subset_is_seeded_random_in_file_order(tmp_path: Path, fmt: str) -> None:
    pairs = [(f"Sentence {i}.", f"Phrase {i}.") for i in range(500)]
    if fmt == "hf_jsonl":
        path = write_jsonl(tmp_path / "train.jsonl", [{"translation": {"en": a, "fr": b}} for a, b in pairs])
    else:
        path = write_parallel(tmp_path / "train", pairs)
    read = lambda seed: [int(e.id.removeprefix("line")) for e in read_local_split(  # noqa: E731
        "translation", path, format=fmt, max_examples=40, seed=seed)]
    lines = read(1)
    assert len(lines) == 40 and lines == sorted(lines) and lines != list(range(1, 41)) and max(lines) > 400
    assert read(1) == lines and read(2) != lines
    examples = read_local_split("translation", path, format=fmt, max_examples=40, seed=1)
    assert all(e.fields["source"] == f"Sentence {n - 1}." for e, n in zip(examples, lines))


# --------------------------------------------------------------------------- workflow helpers and pre-flight


def parallel_settings(prefix: str) -> dict:
    return {"kind": "translation", "source_language": "en", "target_language": "de",
            "local": {"format": "parallel_text", "train": f"{prefix}/train", "validation": f"{prefix}/valid",
                      "test": f"{prefix}/newstest2014"}}


def test_local_files_of_a_parallel_text_task(tmp_path: Path) -> None:
    settings = parallel_settings("data")
    resolve = lambda path: str(tmp_path / path)  # noqa: E731  (the workflow's shipped-resource lookup)
    assert local_split_paths(settings, resolve=resolve)["test"] == str(tmp_path / "data/newstest2014")
    files = local_input_files(settings, resolve=resolve)
    assert files["train_source"] == str(tmp_path / "data/train.en")
    assert files["train_target"] == str(tmp_path / "data/train.de")
    assert len(files) == 6
    single = {"kind": "qa", "local": {"train": "a.json", "validation": "b.json", "test": "c.json"}}
    assert local_input_files(single) == {"train": "a.json", "validation": "b.json", "test": "c.json"}


def test_local_task_problems(tmp_path: Path, xsum_file: Path) -> None:
    settings = parallel_settings(str(tmp_path))
    for name in ("train", "valid", "newstest2014"):
        write_parallel(tmp_path / name, [("a", "b")] * 3, ("en", "de"))
    assert local_task_problems("wmt", settings) == []
    Path(tmp_path / "valid.de").write_text("b\n", encoding="utf-8")
    Path(tmp_path / "newstest2014.en").unlink()
    problems = local_task_problems("wmt", settings)
    assert len(problems) == 2
    assert problems[0].startswith("tasks.wmt.local.validation:") and "valid.en has 3 lines" in problems[0]
    assert problems[1].startswith("tasks.wmt.local.test:") and "newstest2014.en not found" in problems[1]

    news = {"kind": "summarization", "document_key": "article",
            "local": {"train": str(xsum_file), "validation": str(xsum_file), "test": str(tmp_path / "none.jsonl")}}
    problems = local_task_problems("news", news)
    assert len(problems) == 3 and "lacks key(s) ['article']" in problems[0] and "none.jsonl not found" in problems[2]
    wrong = {**news, "local": {**news["local"], "format": "squad_json"}}
    assert local_task_problems("news", wrong) == [
        "tasks.news.local.format='squad_json' cannot be read for task kind 'summarization'; choose one of "
        "hf_jsonl (see config/README.md, 'Task file formats')."
    ]
