"""The embedded default runs end to end with Snakemake and gives sensible tables.

Runs the real workflow in a temporary working directory (``--directory``), exactly as a user
would, then checks the science-level expectations on the simulated data.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TABLES = ["results/tables/decoding.csv", "results/tables/encoding.csv"]
pytestmark = pytest.mark.workflow


def snakemake(workdir, *args, timeout=900):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("embedded")
    result = snakemake(workdir, "--cores", "2")  # the default target: everything
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return workdir


def test_task_splits_hold_every_example_with_the_configured_template(embedded_run):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for task, settings in config["tasks"].items():
        for split, minimum in (("train", 150), ("validation", 20), ("test", 40)):
            lines = (embedded_run / f"results/tasks/{task}/{split}.jsonl").read_text().splitlines()
            records = [json.loads(line) for line in lines]
            assert len(records) >= minimum
            prefix = settings["template"].split("{")[0]
            assert all(r["prompt"].startswith(prefix) and r["target"].strip() for r in records)


def test_tables_cover_every_subject_and_roi(embedded_run):
    for table in TABLES:
        scores = pd.read_csv(embedded_run / table, dtype={"subject": str})
        assert set(scores["subject"]) == {"S01", "S02"}
        assert set(scores["roi"]) == {"language", "task", "dmn", "visual"}
        assert scores["simulated"].all()
        per_cell = scores.groupby(["subject", "roi", "metric"]).size()
        assert len(per_cell) == 2 * 4 * scores["metric"].nunique() and (per_cell == 1).all()
        two_vs_two = scores[scores["metric"] == "2v2"]["score"]
        assert two_vs_two.between(0, 1).all()
    encoding = pd.read_csv(embedded_run / TABLES[1])
    assert set(encoding["metric"]) == {"2v2", "pearson_r"}


def test_high_snr_roi_is_clearly_above_the_noise_roi(embedded_run):
    # Pooled 2v2 of a pure-noise ROI scatters by about +-0.035 around 0.5 (see
    # tests/test_alignment.py), so "clearly" means several of those widths.
    scores = pd.concat(
        [pd.read_csv(embedded_run / table, dtype={"subject": str}) for table in TABLES], ignore_index=True
    )
    two_vs_two = scores[scores["metric"] == "2v2"].set_index(["direction", "subject", "roi"])["score"]
    language, visual = two_vs_two.xs("language", level="roi"), two_vs_two.xs("visual", level="roi")
    assert (language > 0.6).all(), language
    assert ((visual - 0.5).abs() < 0.1).all(), visual  # simulated as pure noise: chance is 0.5
    assert (language > visual).all() and (language - visual).mean() > 0.08


def test_every_rule_leaves_a_log_and_a_benchmark(embedded_run):
    rules = {
        "simulate_pereira", "brains_pereira", "stimulus_table", "build_base_model", "features", "ridge", "tables",
        "prepare_task",
    }
    for folder in ("logs", "benchmarks"):
        root = embedded_run / "results" / folder
        files = [p for p in root.rglob("*") if p.is_file()]
        assert {p.relative_to(root).parts[0].split(".")[0] for p in files} == rules, folder
    for path in (embedded_run / "results/benchmarks").rglob("*.tsv"):
        assert pd.read_csv(path, sep="\t")["s"].iloc[0] >= 0


def test_second_invocation_plans_nothing(embedded_run):
    result = snakemake(embedded_run, "--cores", "2", "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_rerunning_from_features_gives_byte_identical_tables(embedded_run, tmp_path):
    before = {table: (embedded_run / table).read_bytes() for table in TABLES}
    for stage in ("features", "ridge", "tables"):
        shutil.move(embedded_run / "results" / stage, tmp_path / stage)
    result = snakemake(embedded_run, "--cores", "2", *TABLES)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {table: (embedded_run / table).read_bytes() for table in TABLES} == before


def test_unknown_config_key_stops_before_any_job(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["ridge"]["n_fold"] = 3
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--cores", "1", "--configfile", str(tmp_path / "bad.yaml"), "--dry-run")
    assert result.returncode != 0
    assert "n_fold" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
