"""Reliability of the workflow: byte-identical reruns from scratch, and a killed run that resumes.

Uses a reduced config (one subject, one task, both tuning methods, a few steps, two ROIs)
so that three runs from scratch fit the suite's time budget; every stage of the embedded
default still runs (simulate -> brains -> pretrain -> tune -> features -> ridge -> tables).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.workflow.benchmark_records import check_benchmark_records

ROOT = Path(__file__).resolve().parents[2]
#: The tables of the default target (brain scores, task scores, the paper's pivots); its
#: figures and summary are left out to save time (figure bytes: tests/test_plots.py).
TABLES = [
    "results/tables/decoding.csv",
    "results/tables/encoding.csv",
    "results/tables/task_scores.csv",
    "results/tables/paper/table1_bertscore.csv",
    "results/tables/paper/tables2to5_decoding.csv",
]
pytestmark = pytest.mark.workflow


def reduced_config(workdir: Path) -> Path:
    """The embedded default cut to one subject, one task and tiny budgets (about 50 s on 2 cores)."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    # The text arm on Pereira only (the vision arm's stages are the same rules).
    config["datasets"] = {"pereira": config["datasets"]["pereira"]}
    config["models"] = {"tiny-gpt2": config["models"]["tiny-gpt2"]}
    config["statistics"].update(n_bootstrap=50, n_permutations=50)
    pereira = config["datasets"]["pereira"]
    pereira["subjects"] = ["S01"]
    pereira["networks"] = {"language": ["languageLH", "languageRH"], "visual": ["visual"]}
    for roi in pereira["simulate"]["rois"].values():
        roi["n_voxels"] = 40
    config["tasks"] = {"summarization": config["tasks"]["summarization"]}
    config["tasks"]["summarization"]["max_examples"] = {"train": 16, "validation": 8, "test": 8}
    model = config["models"]["tiny-gpt2"]
    model["build"].update(n_layer=2, n_embd=32, n_head=2, n_positions=96)
    model["pretrain"].update(steps=4, batch_size=4, block_size=32)
    config["tuning"].update(steps=4, eval_every=2, batch_size=4)
    config["evaluation"].update(max_new_tokens=4, batch_size=8)
    config["features"]["layers"] = [0, -1]
    config["ridge"].update(n_folds=3, alphas=[1.0, 100.0])
    path = workdir / "reduced.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def command(workdir: Path, *args: str) -> list[str]:
    """The README's command (the tables as targets, default workflow profile) in ``workdir``."""
    return [
        sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
        *args, *TABLES, "--configfile", str(reduced_config(workdir)),
    ]


def environment() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


def run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(workdir, *args), capture_output=True, text=True, timeout=900, env=environment())


def outputs(workdir: Path) -> dict[str, bytes]:
    """Every output file's bytes (tables, stores, checkpoints, models), not logs, benchmarks or
    the provenance record (which lists each run's start time)."""
    results = workdir / "results"
    return {
        str(p.relative_to(results)): p.read_bytes()
        for p in sorted(results.rglob("*"))
        if p.is_file()
        and p.relative_to(results).parts[0] not in ("logs", "benchmarks")
        and p.relative_to(results) != Path("provenance.json")
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One uninterrupted run from scratch on 2 cores."""
    workdir = tmp_path_factory.mktemp("reference")
    result = run(workdir, "--cores", "2")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return workdir


def test_a_run_from_scratch_on_other_cores_gives_byte_identical_outputs(reference, tmp_path):
    # One core instead of two: job order and the threads Snakemake grants change, the
    # results must not (tables, HDF5 stores, checkpoints and the pre-trained model).
    result = run(tmp_path, "--cores", "1")
    assert result.returncode == 0, result.stderr[-4000:]
    expected, got = outputs(reference), outputs(tmp_path)
    assert sorted(got) == sorted(expected)
    assert {str(Path(table).relative_to("results")) for table in TABLES} <= set(got)
    assert any(name.endswith(".h5") for name in got) and any(name.endswith(".safetensors") for name in got)
    differing = [name for name in expected if got[name] != expected[name]]
    assert differing == []


def test_a_killed_run_resumes_to_the_same_tables(reference, tmp_path):
    process = subprocess.Popen(
        command(tmp_path, "--cores", "2"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment(), start_new_session=True,
    )
    # Kill the whole process group (Snakemake and its jobs) once a tuning job is running.
    tune_logs = tmp_path / "results" / "logs" / "tune"
    deadline = time.monotonic() + 600
    while not (tune_logs.exists() and any(tune_logs.rglob("*.log"))):
        assert process.poll() is None, "the workflow ended before any tuning job started"
        assert time.monotonic() < deadline, "no tuning job started within 10 minutes"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not any((tmp_path / table).exists() for table in TABLES)

    # Snakemake keeps its lock after a kill: the same command refuses to start ...
    refused = run(tmp_path, "--cores", "2")
    assert refused.returncode != 0 and "cannot be locked" in refused.stdout + refused.stderr
    # ... until it is unlocked (README: Guarantees); then it finishes what was left.
    assert run(tmp_path, "--unlock").returncode == 0
    resumed = run(tmp_path, "--cores", "2")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    for table in TABLES:
        assert (tmp_path / table).read_bytes() == (reference / table).read_bytes(), table
    assert outputs(tmp_path) == outputs(reference)  # hidden temporaries included: none left


def test_every_rule_records_its_time_and_peak_memory(reference):
    results = reference / "results"

    def rules_with(folder: str) -> set[str]:
        return {p.relative_to(results / folder).parts[0].split(".")[0] for p in (results / folder).rglob("*") if p.is_file()}

    # Every rule that ran (each writes a log) has a benchmark: all stages, tuning to report.
    assert rules_with("benchmarks") == rules_with("logs")
    assert {"simulate_pereira", "brains_pereira", "pretrain_base", "tune", "features", "ridge", "tables", "evaluate"} <= rules_with("logs")
    check_benchmark_records(results / "benchmarks", at_least_sampled=3)  # tuning, features, ridge
