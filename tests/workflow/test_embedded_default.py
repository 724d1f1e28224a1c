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
COMPARISONS = "results/tables/comparisons.csv"
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


def small_budget_config(workdir):
    """The embedded default with smaller training budgets, so the suite stays fast.

    Everything else (data, models, tasks, ridge) is the shipped config; `make run` times
    the full default (see README).
    """
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["models"]["tiny-gpt2"]["pretrain"]["steps"] = 30
    config["tuning"].update(steps=16, eval_every=8)
    config["evaluation"]["max_new_tokens"] = 8
    path = workdir / "small-budget.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("embedded")
    # The timeout catches a hang, not slowness: on a shared 2-core machine the run can take
    # three times its usual 5-6 minutes.
    result = snakemake(workdir, "--cores", "2", "--configfile", str(small_budget_config(workdir)), timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return workdir


def test_tables_have_the_base_model_and_every_task_x_method(embedded_run):
    for table in TABLES:
        scores = pd.read_csv(embedded_run / table, dtype={"subject": str})
        variants = set(zip(scores["task"], scores["method"]))
        expected = {("none", "base")} | {
            (task, method) for task in ("summarization", "qa", "translation") for method in ("prompt", "finetune")
        }
        assert variants == expected
        per_variant = scores.groupby(["task", "method"]).size()
        assert per_variant.nunique() == 1  # every variant has every subject x ROI x metric
    pivots = pd.read_csv(embedded_run / "results/tables/paper/tables2to5_decoding.csv", dtype={"subject": str})
    assert set(pivots["subject"]) == {"S01", "S02", "mean"}
    assert len(pivots) == 3 * 4 * 3 * 3  # layers x ROIs x (subjects + mean) x tasks
    assert pivots[["prompt", "finetune", "base"]].notna().all().all()


def test_task_scores_and_table1(embedded_run):
    scores = pd.read_csv(embedded_run / "results/tables/task_scores.csv")
    assert len(scores) == 3 * 3 * 3  # tasks x methods x (precision, recall, F1)
    assert scores["score"].between(0, 1).all() and set(scores["n"]) == {48}
    table1 = pd.read_csv(embedded_run / "results/tables/paper/table1_bertscore.csv")
    assert set(table1["task"]) == {"summarization", "qa", "translation"}
    assert table1[["base", "prompt", "finetune"]].notna().all().all()


def test_checkpoints_hold_what_each_method_trains_and_a_loss_curve(embedded_run):
    for task in ("summarization", "qa", "translation"):
        prompt = embedded_run / f"results/checkpoints/tiny-gpt2/{task}/prompt"
        finetune = embedded_run / f"results/checkpoints/tiny-gpt2/{task}/finetune"
        assert (prompt / "adapter_model.safetensors").is_file() and not (prompt / "model.safetensors").exists()
        assert (finetune / "model.safetensors").is_file()
        for method in ("prompt", "finetune"):
            loss = pd.read_csv(embedded_run / f"results/checkpoints/tiny-gpt2/{task}/{method}.loss.csv")
            assert loss["step"].max() == 16 and loss["validation_loss"].notna().sum() >= 2
    pretraining = pd.read_csv(embedded_run / "results/models/tiny-gpt2/pretraining_loss.csv")
    validation = pretraining["validation_loss"].dropna()
    assert validation.iloc[-1] < validation.iloc[0] - 1.0  # pre-training learned something


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
        assert set(scores["layer"]) == {0, 2, 4}
        per_cell = scores.groupby(["task", "method", "layer", "subject", "roi", "metric"]).size()
        assert len(per_cell) == 7 * 3 * 2 * 4 * scores["metric"].nunique() and (per_cell == 1).all()
        two_vs_two = scores[scores["metric"] == "2v2"]["score"]
        assert two_vs_two.between(0, 1).all()
    encoding = pd.read_csv(embedded_run / TABLES[1])
    assert set(encoding["metric"]) == {"2v2", "pearson_r"}


def test_high_snr_roi_is_clearly_above_the_noise_roi(embedded_run):
    # Pooled 2v2 of a pure-noise ROI scatters by about +-0.035 around 0.5 (see
    # tests/test_alignment.py), so "clearly" means several of those widths. The base model's
    # embedding layer carries the sentence content the simulator plants; its contextual
    # layers, after a short pre-training, carry less of it (see README).
    scores = pd.concat(
        [pd.read_csv(embedded_run / table, dtype={"subject": str}) for table in TABLES], ignore_index=True
    )
    base = scores[(scores["metric"] == "2v2") & (scores["method"] == "base")]
    embeddings = base[base["layer"] == 0].set_index(["direction", "subject", "roi"])["score"]
    language, visual = embeddings.xs("language", level="roi"), embeddings.xs("visual", level="roi")
    assert (language > 0.6).all(), language
    assert ((visual - 0.5).abs() < 0.1).all(), visual  # simulated as pure noise: chance is 0.5
    assert (language > visual).all() and (language - visual).mean() > 0.08
    by_roi = base.groupby("roi")["score"].mean()
    assert by_roi["language"] > by_roi["visual"]


def test_every_rule_leaves_a_log_and_a_benchmark(embedded_run):
    rules = {
        "simulate_pereira", "brains_pereira", "stimulus_table", "pretrain_base", "features", "ridge", "tables",
        "prepare_task", "tune", "evaluate", "task_scores", "comparisons", "figures", "summary",
    }
    for folder in ("logs", "benchmarks"):
        root = embedded_run / "results" / folder
        files = [p for p in root.rglob("*") if p.is_file()]
        assert {p.relative_to(root).parts[0].split(".")[0] for p in files} == rules, folder
    for path in (embedded_run / "results/benchmarks").rglob("*.tsv"):
        row = pd.read_csv(path, sep="\t").iloc[0]
        assert row["s"] >= 0 and row["max_rss"] > 0, path  # time and peak memory recorded


def test_second_invocation_plans_nothing(embedded_run):
    config = str(embedded_run / "small-budget.yaml")
    result = snakemake(embedded_run, "--cores", "2", "--dry-run", "--configfile", config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_rerunning_from_features_gives_byte_identical_tables(embedded_run, tmp_path):
    tables = [*TABLES, COMPARISONS]
    before = {table: (embedded_run / table).read_bytes() for table in tables}
    for stage in ("features", "ridge", "tables"):
        shutil.move(embedded_run / "results" / stage, tmp_path / stage)
    config = str(embedded_run / "small-budget.yaml")
    result = snakemake(embedded_run, "--cores", "2", *tables, "--configfile", config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {table: (embedded_run / table).read_bytes() for table in tables} == before


def test_unknown_config_key_stops_before_any_job(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["ridge"]["n_fold"] = 3
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--cores", "1", "--configfile", str(tmp_path / "bad.yaml"), "--dry-run")
    assert result.returncode != 0
    assert "n_fold" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_every_score_carries_a_ci_and_a_permutation_p_value(embedded_run):
    for table in TABLES:
        scores = pd.read_csv(embedded_run / table, dtype={"subject": str})
        assert list(scores.columns[-4:]) == ["score", "ci_low", "ci_high", "p_value"]
        assert scores[["ci_low", "ci_high", "p_value"]].notna().all().all()
        assert (scores["ci_low"] <= scores["score"] + 1e-6).all() and (scores["score"] <= scores["ci_high"] + 1e-6).all()
        assert scores["p_value"].between(1 / 1001 - 1e-6, 1).all()
        two_vs_two = scores[scores["metric"] == "2v2"]
        pereira = two_vs_two[two_vs_two["dataset"] == "pereira"].set_index(["method", "layer", "subject", "roi"])
        language = pereira.xs(("base", 0), level=("method", "layer")).xs("language", level="roi")
        assert (language["p_value"] < 0.002).all() and (language["ci_low"] > 0.5).all()  # planted signal
        # The 2v2 CI and p-value agree: a CI above chance comes with a small p, a large p with a
        # CI reaching chance. (The calibration of p on pure noise through the whole pipeline is a
        # unit test; here noise rows share each subject's noise across variants, so one chance
        # fluctuation repeats in many rows and a rate check would be fragile. For the mean
        # Pearson r the bootstrap and the permutation test can disagree near the boundary.)
        assert (two_vs_two.loc[two_vs_two["ci_low"] > 0.5, "p_value"] < 0.1).all()
        assert (two_vs_two.loc[two_vs_two["p_value"] > 0.5, "ci_low"] <= 0.5).all()


def _arms():
    """(dataset, model, subjects, ROIs, layers, tasks) of each arm of the shipped config."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    arms = [("pereira", "tiny-gpt2", {"S01", "S02"}, 4, 3, 3)]
    if "tiny-vit" in config["models"]:
        vision = config["datasets"]["bold5000"]
        image_tasks = [name for name, task in config["tasks"].items() if task.get("kind") == "image_classification"]
        arms.append(("bold5000", "tiny-vit", set(vision["subjects"]), len(vision["rois"]),
                     len(config["features"]["vision"]["layers"]), len(image_tasks) or None))
    return arms


def test_comparisons_pair_every_tuned_method_with_the_other_and_base(embedded_run):
    comparisons = pd.read_csv(embedded_run / COMPARISONS, dtype={"subject": str})
    assert {"contrast", "subject", "roi", "task", "layer", "direction", "diff", "ci_low", "ci_high", "p", "q"} <= set(
        comparisons.columns
    )
    assert set(comparisons["contrast"]) == {"prompt-finetune", "prompt-base", "finetune-base"}
    for dataset, model, subjects, rois, layers, tasks in _arms():
        arm = comparisons[(comparisons["dataset"] == dataset) & (comparisons["model"] == model)]
        assert set(arm["subject"]) == subjects | {"all"}
        assert arm["simulated"].all()
        if tasks is not None:  # contrasts x tasks x (subjects + all) x ROIs x layers x directions
            assert len(arm) == 3 * tasks * (len(subjects) + 1) * rois * layers * 2
    assert (comparisons["q"] >= comparisons["p"] - 1e-9).all() and comparisons["q"].between(0, 1).all()
    assert (comparisons["diff"] - (comparisons["score_a"] - comparisons["score_b"])).abs().max() < 1e-5
    everyone = comparisons[comparisons["subject"] == "all"]
    assert (everyone["p"] >= 0.5).all() and (everyone["n_subjects"] == 2).all()  # exact sign flip, 2 subjects
    per_subject = comparisons[comparisons["subject"] != "all"]
    assert (per_subject["ci_low"] <= per_subject["diff"] + 1e-6).all() and (per_subject["diff"] <= per_subject["ci_high"] + 1e-6).all()
    decoding = pd.read_csv(embedded_run / TABLES[0], dtype={"subject": str})
    prompt = decoding[(decoding["method"] == "prompt") & (decoding["metric"] == "2v2")].set_index(
        ["dataset", "subject", "roi", "task", "layer"]
    )
    row = per_subject[(per_subject["contrast"] == "prompt-base") & (per_subject["direction"] == "decoding")].iloc[0]
    key = (row["dataset"], row["subject"], row["roi"], row["task"], row["layer"])
    assert row["score_a"] == pytest.approx(prompt.loc[key, "score"], abs=1e-6)


def test_figures_are_drawn_for_every_kind_and_stamped_simulated(embedded_run):
    figures = embedded_run / "results/figures"
    names = {path.stem for path in figures.glob("*.png")}
    expected = {"task_scores"}
    for dataset, model, _, _, _, _ in _arms():
        expected |= {f"{dataset}_{model}_{d}_{k}" for d in ("decoding", "encoding") for k in ("by_roi", "by_task", "by_layer")}
        expected.add(f"{dataset}_{model}_difference")
    assert names == expected
    for name in names:
        assert (figures / f"{name}.png").stat().st_size > 10_000
        svg = (figures / f"{name}.svg").read_text()
        # matplotlib keeps each text as an SVG comment: brain figures carry the stamp, task scores
        # (real generations on the task corpora) do not
        assert ("<!-- simulated -->" in svg) == (name != "task_scores"), name
        assert "<!-- chance -->" in svg or name.endswith("difference") or name == "task_scores"
        assert "no rows for" not in svg, name  # every declared figure found its data


def test_summary_and_html_report(embedded_run):
    summary = (embedded_run / "results/summary.md").read_text()
    assert "SIMULATED DATA" in summary and "prompt-finetune" in summary and "q = " in summary
    assert "Methods (generated from the configuration used)" in summary and "subjects S01, S02" in summary
    config = str(embedded_run / "small-budget.yaml")
    result = snakemake(embedded_run, "--cores", "1", "--configfile", config, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    report = (embedded_run / "results/report.html").read_text()
    assert len(report) > 100_000
    for text in ("comparisons.csv", "pereira_tiny-gpt2_difference.png", "summary.html", "Paired contrasts"):
        assert text in report, text
