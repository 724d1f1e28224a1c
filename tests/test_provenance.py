"""One results root per configuration, and aggregate tables that hold only configured rows."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.provenance import (
    PROVENANCE_FILE,
    ConfiguredVariants,
    check_results_root,
    config_sha256,
    read_provenance,
    record_run,
)

BRAIN_ROWS = [
    ("pereira", subject, "tiny-gpt2", task, method)
    for subject in ("S01", "S02")
    for task, method in (("none", "base"), ("qa", "prompt"), ("qa", "finetune"))
]
TASK_ROWS = [("tiny-gpt2", "qa", method) for method in ("base", "prompt", "finetune")]


def configured() -> ConfiguredVariants:
    return ConfiguredVariants("default", brain_rows=BRAIN_ROWS, task_rows=TASK_ROWS)


def score_table(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["dataset", "subject", "model", "task", "method"])
    return frame.assign(roi="language", layer=0, score=0.6)


def test_config_hash_ignores_key_order_and_sees_values():
    assert config_sha256({"a": 1, "b": {"c": [1, 2]}}) == config_sha256({"b": {"c": [1, 2]}, "a": 1})
    assert config_sha256({"a": 1}) != config_sha256({"a": 2})


def test_record_run_claims_a_root_and_appends_each_run(tmp_path):
    root = tmp_path / "results"
    assert read_provenance(root) is None
    check_results_root(root, "default")  # an empty root belongs to nobody yet
    first = datetime(2026, 1, 1, tzinfo=timezone.utc)
    record_run(root, "default", {"seed": 0}, started=first)
    record_run(root, "default", {"seed": 1})  # an edited config keeps its name: reruns work
    record = json.loads((root / PROVENANCE_FILE).read_text())
    assert record["name"] == "default"
    assert [run["config_sha256"] for run in record["runs"]] == [config_sha256({"seed": 0}), config_sha256({"seed": 1})]
    assert record["runs"][0]["started"] == "2026-01-01T00:00:00+00:00"


def test_a_root_of_another_configuration_is_refused(tmp_path):
    record_run(tmp_path, "default", {"seed": 0})
    with pytest.raises(ConfigError, match=r"belongs to configuration 'default'.*not to 'paper'.*results_dir"):
        check_results_root(tmp_path, "paper")
    with pytest.raises(ConfigError, match="belongs to configuration 'default'"):
        record_run(tmp_path, "paper", {"seed": 0})
    assert json.loads((tmp_path / PROVENANCE_FILE).read_text())["name"] == "default"


def test_a_corrupt_provenance_file_is_named(tmp_path):
    (tmp_path / PROVENANCE_FILE).write_text("{not json")
    with pytest.raises(DataError, match=PROVENANCE_FILE):
        check_results_root(tmp_path, "default")


def test_configured_scores_pass():
    table = score_table(BRAIN_ROWS)
    configured().check_scores({"decoding": table, "encoding": table}, "decoding.csv")


def test_scores_of_another_configuration_are_refused_with_the_stray_rows():
    stray = score_table([("pereira", "P01", "gpt2", "none", "base")])
    table = pd.concat([score_table(BRAIN_ROWS), stray])
    with pytest.raises(ConfigError) as error:
        configured().check_scores({"decoding": table}, "results/tables/decoding.csv")
    message = str(error.value)
    assert "does not belong to configuration 'default'" in message
    assert "pereira/P01/gpt2/none/base" in message and "results/tables/decoding.csv" in message


def test_scores_missing_a_configured_subject_are_refused():
    table = score_table([row for row in BRAIN_ROWS if row[1] != "S02"])
    with pytest.raises(ConfigError, match=r"configured variants with no rows: pereira/S02/tiny-gpt2"):
        configured().check_scores({"decoding": table}, "decoding.csv")


def test_task_scores_are_checked_exactly():
    table = pd.DataFrame(TASK_ROWS, columns=["model", "task", "method"])
    configured().check_task_scores(table, "task_scores.csv")
    with pytest.raises(ConfigError, match="tiny-gpt2/qa/lora"):
        configured().check_task_scores(pd.concat([table, table.iloc[:1].assign(method="lora")]), "task_scores.csv")


def comparison_rows(subjects, method_a="prompt", method_b="finetune", model="tiny-gpt2"):
    return pd.DataFrame(
        [
            {"dataset": "pereira", "subject": subject, "model": model, "task": "qa", "method_a": method_a, "method_b": method_b}
            for subject in subjects
        ]
    )


def test_comparisons_of_configured_variants_and_the_group_level_pass():
    configured().check_comparisons(comparison_rows(["S01", "S02", "all"]), "comparisons.csv")
    configured().check_comparisons(comparison_rows(["all"], method_a="prompt", method_b="base"), "comparisons.csv")


@pytest.mark.parametrize(
    "rows",
    [
        comparison_rows(["P01"]),  # another configuration's subject
        comparison_rows(["S01"], method_a="lora"),  # a method this configuration does not tune
        comparison_rows(["all"], model="gpt2"),  # another model
    ],
)
def test_stray_comparisons_are_refused(rows):
    with pytest.raises(ConfigError, match="does not belong to configuration 'default'"):
        configured().check_comparisons(rows, "comparisons.csv")


def test_report_inputs_are_all_checked():
    scores = {"decoding": score_table(BRAIN_ROWS), "encoding": score_table(BRAIN_ROWS)}
    sources = {name: f"{name}.csv" for name in ("decoding", "encoding", "comparisons", "task_scores")}
    tasks = pd.DataFrame(TASK_ROWS, columns=["model", "task", "method"])
    configured().check_report_inputs(scores, comparison_rows(["all"]), tasks, sources)
    with pytest.raises(ConfigError, match="comparisons.csv"):
        configured().check_report_inputs(scores, comparison_rows(["P01"]), tasks, sources)
    with pytest.raises(ConfigError, match="task_scores.csv"):
        configured().check_report_inputs(scores, comparison_rows(["all"]), tasks.iloc[:1], sources)
