"""Incremental reruns: what one config change makes Snakemake plan, on a completed run.

The completed run is built without running a job: every output of the embedded default is
created empty, then ``snakemake --touch --forceall`` marks all of them up to date and records
the metadata a real run records (params, the set of inputs, code). Each test then changes one
setting and reads the plan from ``snakemake --summary``: one row per output file of the
DAG with its rule and plan (``update pending`` or ``no update``). Nothing is executed, so the
module takes seconds; tests/workflow/test_embedded_default.py checks a real second run.
"""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PENDING = "update pending"
# Outputs gathered over every subject and model variant (tables, statistics, figures, the
# report): any change upstream legitimately updates them.
GATHERED = ("results/tables/", "results/stats/", "results/figures/", "results/report/", "results/summary.md")


def snakemake(workdir, *args):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--cores", "1", *args],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def summary(workdir, config):
    """output file -> (rule, plan) for every output of the DAG under ``config``."""
    out = snakemake(workdir, "--summary", "--configfile", str(config)).stdout
    rows = csv.DictReader(io.StringIO(out[out.index("output_file\t"):]), delimiter="\t")
    return {row["output_file"]: (row["rule"], row["plan"]) for row in rows}


def pending(plan):
    return {path for path, (_, status) in plan.items() if status == PENDING}


def write_config(directory, name, edit=None):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    if edit:
        edit(config)
    path = Path(directory) / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def completed(tmp_path_factory):
    """A working directory in which the embedded default counts as completed."""
    workdir = tmp_path_factory.mktemp("incremental")
    config = write_config(workdir, "default")
    for path in summary(workdir, config):
        path = workdir / path
        if path.suffix:  # directory() outputs (models, checkpoints) have no suffix
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True, exist_ok=True)
    snakemake(workdir, "--touch", "--forceall", "--configfile", str(config))
    return workdir, config


def test_a_completed_run_plans_nothing(completed):
    workdir, config = completed
    result = snakemake(workdir, "--dry-run", "--configfile", str(config))
    assert "Nothing to be done" in result.stdout + result.stderr
    plan = summary(workdir, config)
    assert len(plan) > 50 and not pending(plan)


@pytest.mark.parametrize(
    "key, value", [("alphas", [0.5, 5.0, 50.0]), ("n_folds", 4), ("distance", "cosine")]
)
def test_a_ridge_setting_reruns_only_ridge_and_tables(completed, tmp_path, key, value):
    workdir, _ = completed
    config = write_config(tmp_path, "ridge", lambda c: c["ridge"].update({key: value}))
    plan = summary(workdir, config)
    ridge = {p for p, (rule, _) in plan.items() if rule == "ridge"}
    assert ridge <= pending(plan)  # every ridge job ...
    assert all(p in ridge or p.startswith(GATHERED) for p in pending(plan)), pending(plan) - ridge  # ... and no more
    assert "results/tables/decoding.csv" in pending(plan)


def test_one_tasks_tuning_override_retrains_only_that_tasks_checkpoints(completed, tmp_path):
    workdir, _ = completed
    config = write_config(tmp_path, "qa-steps", lambda c: c["tasks"]["qa"].update(tuning={"steps": 30}))
    plan = summary(workdir, config)
    retrained = {p for p in pending(plan) if plan[p][0] == "tune"}
    assert retrained == {
        f"results/checkpoints/tiny-gpt2/qa/{method}{suffix}"
        for method in ("prompt", "finetune") for suffix in ("", ".loss.csv")
    }
    # Downstream of the qa checkpoints only; the other tasks, the base model and the data stay.
    for path in pending(plan):
        assert "/qa/" in path or path.startswith(GATHERED), path
    assert {plan[p][0] for p in pending(plan) if "/qa/" in p} == {"tune", "evaluate", "features", "ridge"}


def test_one_methods_override_of_one_task_retrains_one_checkpoint(completed, tmp_path):
    workdir, _ = completed
    config = write_config(
        tmp_path, "qa-prompt-lr", lambda c: c["tasks"]["qa"].update(tuning={"prompt": {"learning_rate": 0.1}})
    )
    plan = summary(workdir, config)
    assert {p for p in pending(plan) if plan[p][0] == "tune"} == {
        "results/checkpoints/tiny-gpt2/qa/prompt",
        "results/checkpoints/tiny-gpt2/qa/prompt.loss.csv",
    }


def test_adding_a_subject_adds_only_its_brain_and_ridge_jobs(completed, tmp_path):
    workdir, _ = completed
    config = write_config(
        tmp_path, "three-subjects", lambda c: c["datasets"]["pereira"].update(subjects=["S01", "S02", "S03"])
    )
    plan = summary(workdir, config)
    new = pending(plan)
    for path in new:
        assert "S03" in path or path.startswith(GATHERED), path
    assert {plan[p][0] for p in new if "S03" in p} == {"simulate_pereira", "brains_pereira", "ridge"}
    # One ridge job per model variant, as for the subjects already there.
    ridge_s01 = {p.replace("/S01.", "/S03.") for p in plan if plan[p][0] == "ridge" and "/S01." in p}
    assert {p for p in new if plan[p][0] == "ridge"} == ridge_s01 and ridge_s01


def test_the_shared_profiles_parse_and_plan(completed):
    workdir, config = completed
    for profile in ("default", "slurm"):
        result = snakemake(
            workdir, "--profile", str(ROOT / "profiles" / profile), "--dry-run", "--forceall",
            "--configfile", str(config),
        )
        plan = result.stdout + result.stderr
        assert f"profiles/{profile}" in plan and "rule ridge:" in plan
    # The SLURM profile's GPU request reaches the training jobs, not the ridge jobs.
    assert "gpu=1" in plan.split("rule tune:")[1].split("rule ")[0]
    assert "gpu=" not in plan.split("rule ridge:")[1].split("rule ")[0]


def test_the_torch_backend_on_cuda_reruns_only_ridge_and_asks_each_ridge_job_for_a_gpu(completed, tmp_path):
    workdir, _ = completed
    config = write_config(tmp_path, "ridge-cuda", lambda c: c["ridge"].update(backend="torch", device="cuda"))
    result = snakemake(workdir, "--dry-run", "--configfile", str(config))
    jobs = [block.split("\n\n")[0] for block in result.stdout.split("\nrule ")[1:]]
    # every ridge job reruns on a GPU, and so does the noise ceilings' job (the same ridge)
    ridge = [job for job in jobs if job.startswith(("ridge:", "ceilings:"))]
    assert ridge and all("gpu=1" in job for job in ridge)
    others = [job for job in jobs if not job.startswith(("ridge:", "ceilings:"))]
    assert not any("gpu=1" in job for job in others)
    assert {job.split(":")[0] for job in others} <= {"tables", "vision_tables", "comparisons", "figures", "summary", "all"}
