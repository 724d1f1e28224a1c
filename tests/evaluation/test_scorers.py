"""Each task is scored by a scorer for its language; raw and baseline-rescaled F1; Table I names the scorers.

Nothing here downloads or loads a hub model: the scorer choice and bert-score's baselines
are planned and read from the installed bert-score package.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import validate
from snakemake_interface_common.exceptions import WorkflowError

import bert_score
from brainalign.errors import ConfigError, DataError
from brainalign.evaluation import (
    SUMMARY_COLUMNS,
    ScorerSettings,
    baseline_scores,
    bertscore_table,
    evaluate_generations,
    gather_task_scores,
    rescale,
    resolve_scorer,
    task_language,
    task_scorer_settings,
)
from brainalign.evaluation.scorers import OFFLINE_SCORER_NAME
from brainalign.models.language import build_tiny_gpt2
from brainalign.tables import read_task_scores, write_frame

ROOT = Path(__file__).resolve().parents[2]
BASELINES = Path(bert_score.__file__).parent / "rescale_baseline"


def _config(name: str) -> dict:
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))  # fills the defaults
    return config


def _scorers(config: dict) -> dict:
    return {
        task: resolve_scorer(task_scorer_settings(task, settings, config["evaluation"]))
        for task, settings in config["tasks"].items()
        if settings["kind"] != "image_classification"
    }


# ---------------------------------------------------------------------------------- the rules


def test_task_language_is_the_translation_target() -> None:
    assert task_language({"kind": "summarization"}) == "en"
    assert task_language({"kind": "qa"}) == "en"
    assert task_language({"kind": "translation", "target_language": "DE"}) == "de"
    assert task_language({"kind": "translation"}) == "fr"  # the task kind's default target
    assert task_language({"kind": "translation", "source_language": "fr", "target_language": "en"}) == "en"


def test_english_tasks_take_the_global_scorer_other_languages_bert_scores_default() -> None:
    evaluation = {"scorer_model": "roberta-large", "scorer_num_layers": 17}
    assert task_scorer_settings("qa", {"kind": "qa"}, evaluation) == ScorerSettings("en", "roberta-large", 17)
    french = task_scorer_settings("translation", {"kind": "translation", "target_language": "fr"}, evaluation)
    assert french.by_language and french.language == "fr" and french.model is None
    # A task's own scorer wins, null included (the offline MiniLM), with its own key in messages.
    own = {"kind": "translation", "evaluation": {"scorer_model": "xlm-roberta-large"}}
    assert task_scorer_settings("translation", own, evaluation) == ScorerSettings(
        "fr", "xlm-roberta-large", None, key="tasks.translation.evaluation.scorer_model"
    )
    offline = task_scorer_settings("translation", {"kind": "translation", "evaluation": {"scorer_model": None}}, evaluation)
    assert offline.model is None and not offline.by_language
    with pytest.raises(ConfigError, match="tasks.qa.evaluation.scorer_model"):
        task_scorer_settings("qa", {"kind": "qa", "evaluation": {"scorer_num_layers": 3}}, evaluation)


def test_french_is_scored_by_bert_scores_multilingual_default_at_layer_9_with_its_baseline() -> None:
    scorer = resolve_scorer(ScorerSettings("fr", by_language=True))
    assert (scorer.model, scorer.name, scorer.num_layers, scorer.language) == (
        "bert-base-multilingual-cased", "bert-base-multilingual-cased", 9, "fr"
    )
    assert scorer.valid and scorer.note == ""
    # The baseline bert-score's rescale_with_baseline reads: row `num_layers` (P, R, F) of the fr file.
    row = pd.read_csv(BASELINES / "fr" / "bert-base-multilingual-cased.tsv").iloc[9].to_numpy()[1:]
    assert scorer.baseline == pytest.approx(tuple(row), abs=0) and 0.2 < scorer.baseline[2] < 0.9


@pytest.mark.parametrize(
    ("model", "language", "valid"),
    [
        ("roberta-large", "en", True),
        ("roberta-large", "fr", False),  # bert-score's English default on French text
        ("xlm-roberta-large", "fr", True),  # multilingual
        ("bert-base-multilingual-cased", "de", True),
        ("bert-base-chinese", "zh", True),
        ("bert-base-chinese", "fr", False),
        ("bert-base-uncased", "fr", False),  # an English model of bert-score's layer table
    ],
)
def test_a_scorer_is_valid_only_for_its_languages(model: str, language: str, valid: bool) -> None:
    scorer = resolve_scorer(ScorerSettings(language, model, key="tasks.t.evaluation.scorer_model"))
    assert scorer.valid is valid
    assert ("NOT VALID" in scorer.note) is (not valid)
    if not valid:
        assert "tasks.t.evaluation.scorer_model" in scorer.note and language in scorer.note


def test_the_offline_english_scorer_is_not_valid_for_french_and_has_no_baseline() -> None:
    english = resolve_scorer(ScorerSettings("en"))
    assert (english.name, english.num_layers, english.valid, english.baseline) == (OFFLINE_SCORER_NAME, 6, True, None)
    assert "no rescaled F1" in english.note and "NOT VALID" not in english.note
    french = resolve_scorer(ScorerSettings("fr", key="tasks.translation.evaluation.scorer_model"))
    assert not french.valid and french.baseline is None
    assert "NOT VALID" in french.note and "bert-base-multilingual-cased, layer 9" in french.note


def test_a_local_scorer_of_unknown_language_is_not_checked(tmp_path: Path) -> None:
    folder = build_tiny_gpt2(tmp_path / "scorer", n_layer=2, n_embd=16, n_head=2, n_positions=32, seed=0)
    scorer = resolve_scorer(ScorerSettings("fr", str(folder), 2))
    assert scorer.valid and scorer.baseline is None and "not known to bert-score" in scorer.note
    with pytest.raises(ConfigError, match="evaluation.scorer_num_layers"):
        resolve_scorer(ScorerSettings("fr", str(folder)))


def test_baselines_and_rescaling() -> None:
    assert baseline_scores("roberta-large", "en", 17) is not None
    assert baseline_scores("roberta-large", "fr", 17) is None  # bert-score ships no French roberta-large baseline
    assert baseline_scores("bert-base-multilingual-cased", "fr", 99) is None  # no such layer
    # (s - b) / (1 - b): the baseline maps to 0, a perfect score stays 1, linear in between.
    b = baseline_scores("bert-base-multilingual-cased", "fr", 9)[2]
    np.testing.assert_allclose(rescale(np.array([b, 1.0, (1 + b) / 2]), b), [0.0, 1.0, 0.5], atol=1e-12)


# ---------------------------------------------------------------------------------- the shipped configs


def test_the_paper_config_scores_translation_with_a_scorer_for_its_target_language() -> None:
    config = _config("paper.yaml")
    scorers = _scorers(config)
    target = config["tasks"]["translation"]["target_language"]
    translation = scorers["translation"]
    assert translation.language == target == "fr"
    assert (translation.name, translation.num_layers) == ("bert-base-multilingual-cased", 9)
    assert translation.valid and translation.baseline is not None
    for task in ("summarization", "qa"):
        assert (scorers[task].name, scorers[task].num_layers, scorers[task].valid) == ("roberta-large", 17, True)
        assert scorers[task].baseline is not None
    assert all(scorer.note == "" for scorer in scorers.values())


def test_the_embedded_default_marks_its_translation_scores_as_not_valid() -> None:
    scorers = _scorers(_config("config.yaml"))
    assert {scorer.name for scorer in scorers.values()} == {OFFLINE_SCORER_NAME}  # the only scorer offline
    assert not scorers["translation"].valid and "NOT VALID" in scorers["translation"].note
    assert scorers["summarization"].valid and scorers["qa"].valid


def test_the_schema_takes_a_task_scorer() -> None:
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    changed = copy.deepcopy(config)
    changed["tasks"]["translation"]["evaluation"] = {"scorer_model": "xlm-roberta-large", "scorer_num_layers": 17}
    validate(changed, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    scorer = _scorers(changed)["translation"]
    assert (scorer.name, scorer.num_layers, scorer.valid) == ("xlm-roberta-large", 17, True)
    for bad, named in (({"scorer_num_layers": 9}, "scorer_model"), ({"scorer": "x"}, "scorer")):
        wrong = copy.deepcopy(config)
        wrong["tasks"]["translation"]["evaluation"] = bad
        with pytest.raises(WorkflowError, match=named):
            validate(wrong, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))


# ---------------------------------------------------------------------------------- tables


RECORDS = [
    {"id": "t0", "prompt": "p0", "target": "the cat sat on the mat"},
    {"id": "t1", "prompt": "p1", "target": "stock markets fell sharply"},
    {"id": "t2", "prompt": "p2", "target": "a quick brown fox"},
]


def test_task_scores_and_table_one_name_the_scorers_and_flag_an_invalid_one(tmp_path: Path) -> None:
    english = resolve_scorer(ScorerSettings("en"))
    french = resolve_scorer(ScorerSettings("fr", key="tasks.translation.evaluation.scorer_model"))
    generations = ["the cat sat on the mat", "", "a brown fox"]
    paths = []
    for task, scorer in (("qa", english), ("translation", french)):
        table = evaluate_generations(RECORDS, generations, scorer=scorer)
        for method in ("base", "prompt"):
            path = tmp_path / "tiny" / task / f"{method}.csv"
            write_frame(table, path)
            paths.append(path)
    write_frame(gather_task_scores(paths), tmp_path / "task_scores.csv")
    scores = read_task_scores(tmp_path / "task_scores.csv")
    assert list(scores.columns) == list(SUMMARY_COLUMNS)
    assert set(scores["metric"]) == {"bertscore_precision", "bertscore_recall", "bertscore_f1", "bertscore_f1_rescaled"}
    rescaled = scores[scores["metric"] == "bertscore_f1_rescaled"]
    assert rescaled[["score", "ci_low", "ci_high"]].isna().all().all()  # no baseline for the MiniLM
    translation = scores[scores["task"] == "translation"]
    assert not translation["scorer_valid"].any() and translation["note"].str.contains("NOT VALID").all()
    assert scores.loc[scores["task"] == "qa", "scorer_valid"].all()
    assert set(scores["scorer_layer"]) == {6}

    table = bertscore_table(scores)
    assert list(table.columns) == [
        "model", "task", "scorer", "scorer_layer", "language", "f1", "base", "prompt", "scorer_valid", "note"
    ]
    assert table[["task", "f1"]].values.tolist() == [
        ["qa", "raw"], ["qa", "rescaled"], ["translation", "raw"], ["translation", "rescaled"]
    ]
    raw = table[table["f1"] == "raw"].set_index("task")
    f1 = scores[(scores["metric"] == "bertscore_f1") & (scores["method"] == "base")].set_index("task")["score"]
    assert raw["base"].to_dict() == pytest.approx(f1.to_dict())
    assert raw.loc["translation", "scorer"] == OFFLINE_SCORER_NAME and raw.loc["translation", "language"] == "fr"
    assert not raw.loc["translation", "scorer_valid"] and raw.loc["qa", "scorer_valid"]
    assert table.loc[table["f1"] == "rescaled", ["base", "prompt"]].isna().all().all()


def test_table_one_has_rescaled_values_where_bert_score_has_a_baseline() -> None:
    rows = []
    for metric, score in (("bertscore_f1", 0.8), ("bertscore_f1_rescaled", 0.4)):
        for method in ("base", "finetune"):
            rows.append({
                "model": "gpt2", "task": "translation", "method": method, "metric": metric, "score": score,
                "n": 10, "ci_low": score - 0.1, "ci_high": score + 0.1, "scorer": "bert-base-multilingual-cased",
                "scorer_layer": 9, "language": "fr", "scorer_valid": True, "note": "",
            })
    table = bertscore_table(pd.DataFrame(rows))
    assert table[["f1", "base", "finetune"]].values.tolist() == [["raw", 0.8, 0.8], ["rescaled", 0.4, 0.4]]
    mixed = pd.DataFrame(rows)
    mixed.loc[0, "scorer"] = "roberta-large"
    with pytest.raises(DataError, match="different scorers"):
        bertscore_table(mixed)
