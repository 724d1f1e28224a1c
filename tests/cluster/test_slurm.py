"""The workflow through a real SLURM controller on localhost, with the shipped SLURM profile.

``local_slurm.sh`` (beside this file) starts munged, slurmctld and slurmd in a test-owned
directory; the workflow then runs with ``--profile profiles/slurm`` (every job an ``sbatch``
job, its status read with ``squeue``) and its tables must be byte-identical to a local run of
the same config. The config is the embedded default without tasks (no training, which the
profile sends to GPU nodes; the test node has none) and with a saved stand-in model.

- CI runs the reduced form: the local run's results minus ridge and tables are finished
  through SLURM (two ridge jobs and the tables job), about 40 s on top of the local run.
- ``BRAINALIGN_SLURM_FULL=1`` adds the whole workflow through SLURM (simulation, brain
  loading, stimulus table, features, ridge, tables: 9 jobs, about 2 minutes on 2 cores).

The daemons are stopped by PID however the tests end. Needs root and Debian's ``slurm-wlm``
+ ``munge`` (``.ci/run`` installs them when apt-get can); otherwise the tests skip and say why.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from brainalign.models.language import build_tiny_gpt2

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("local_slurm.sh")
TABLES = ["results/tables/decoding.csv", "results/tables/encoding.csv", "results/tables/paper/tables2to5_decoding.csv"]
pytestmark = pytest.mark.slurm


def _missing_requirements():
    tools = ["munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo"]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        return f"SLURM not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "a local SLURM cluster needs root (slurmd starts jobs as their owner)"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm not installed: pip install -e '.[slurm]'"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = _missing_requirements()
    if reason:
        pytest.skip(reason)
    # A short path: munge's socket path must fit in 108 bytes.
    directory = Path(subprocess.check_output(["mktemp", "-d", "/tmp/brainalign-slurm.XXXXXX"], text=True).strip())
    try:
        started = subprocess.run(
            ["bash", str(SCRIPT), "start", str(directory)], capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, started.stdout + started.stderr
        # As `local_slurm.sh env` prints: the config, and the srun that keeps it inside jobs.
        path = f"{directory / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        yield dict(os.environ, SLURM_CONF=str(directory / "slurm.conf"), PATH=path)
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(directory)], capture_output=True, timeout=60)
        shutil.rmtree(directory, ignore_errors=True)


def _snakemake(workdir, env, *args, timeout):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         *TABLES, *args, "--configfile", str(workdir / "config.yaml")],
        capture_output=True, text=True, timeout=timeout, env=dict(env, HF_HUB_OFFLINE="1"),
    )


def _workdir(root, name, model):
    workdir = root / name
    workdir.mkdir()
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    # The text arm's brain-alignment path only: no tasks (no training), no vision arm.
    config["tasks"] = {}
    config["datasets"] = {"pereira": config["datasets"]["pereira"]}
    config["models"] = {"tiny-gpt2": {"dataset": "pereira", "pretrained": str(model)}}
    config["features"]["layers"] = [0, -1]
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The test config run locally: the reference tables."""
    root = tmp_path_factory.mktemp("slurm-vs-local")
    model = build_tiny_gpt2(root / "standin-gpt2", seed=0)
    local = _workdir(root, "local", model)
    result = _snakemake(local, os.environ, "--cores", "2", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return local, model


def _run_through_slurm(workdir, env):
    """The shipped profile, with status checks from 2 s instead of 20 (a test waits less)."""
    result = _snakemake(
        workdir, env, "--profile", str(ROOT / "profiles" / "slurm"),
        "--slurm-init-seconds-before-status-checks", "2", timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "has been submitted with SLURM jobid" in log
    return log


def _completed_slurm_jobs(env):
    """Names of the jobs squeue lists as completed (finished jobs stay listed: MinJobAge)."""
    lines = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%T %k"], capture_output=True, text=True, env=env, timeout=30
    ).stdout.splitlines()
    return [line.split(" ", 1)[1] for line in lines if line.startswith("COMPLETED ")]


def test_ridge_jobs_through_slurm_match_the_local_run(slurm_cluster, local_run, tmp_path):
    """The reduced form CI runs: the local run's results, minus ridge and tables, finished on SLURM."""
    local, _ = local_run
    cluster = tmp_path / "slurm"
    shutil.copytree(local, cluster, symlinks=True)
    for stage in ("ridge", "tables"):
        shutil.rmtree(cluster / "results" / stage)
    log = _run_through_slurm(cluster, slurm_cluster)
    assert log.count("rule ridge:") == 2 and "rule tables:" in log and "rule features:" not in log
    assert len(_completed_slurm_jobs(slurm_cluster)) >= 3  # 2 ridge jobs + tables, each a SLURM job
    for table in TABLES:
        assert (cluster / table).read_bytes() == (local / table).read_bytes(), table


@pytest.mark.skipif(
    os.environ.get("BRAINALIGN_SLURM_FULL") != "1",
    reason="the whole workflow through SLURM takes ~2 minutes on 2 cores: set BRAINALIGN_SLURM_FULL=1",
)
def test_the_whole_workflow_through_slurm_matches_the_local_run(slurm_cluster, local_run, tmp_path):
    local, model = local_run
    cluster = _workdir(tmp_path, "slurm", model)
    log = _run_through_slurm(cluster, slurm_cluster)
    for rule in ("simulate_pereira", "brains_pereira", "stimulus_table", "features", "ridge", "tables"):
        assert f"rule {rule}:" in log
    assert len(_completed_slurm_jobs(slurm_cluster)) >= 9
    for table in TABLES:
        assert (cluster / table).read_bytes() == (local / table).read_bytes(), table
