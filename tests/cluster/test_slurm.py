"""The workflow through a real SLURM controller on localhost, with the shipped SLURM profile.

``local_slurm.sh`` (beside this file) starts munged, slurmctld and slurmd in a test-owned
directory; the workflow then runs with ``--profile profiles/slurm`` (every job an ``sbatch``
job, its status read with ``squeue``) and its tables must be byte-identical to a local run of
the same config.

- CI runs the reduced form: the embedded default without tasks or vision arm and with a saved
  stand-in model runs locally; its results minus ridge and tables are then finished through
  SLURM (two ridge jobs and the tables job), about 40 s on top of the local run. CI also
  runs ``local_slurm.sh run`` on a target that fails at once (~10 s): it must pass on
  Snakemake's status and leave no daemon running.
- ``BRAINALIGN_SLURM_FULL=1`` adds the embedded default itself (both models, text and image
  tasks, random baseline, tuning, evaluation, features, ridge, statistics, figures, report:
  91 sbatch jobs) run with the one documented command, ``local_slurm.sh run`` (what
  ``make slurm-demo`` runs; no GPU requests, the node has none), against a local
  ``--cores 2`` run of the same config: every table byte-identical. Two runs of the embedded
  default: an estimated 20 minutes on 2 quiet cores, about an hour on a loaded machine (each
  run may take an hour).

The daemons are stopped by PID however the tests end. Needs root and Debian's ``slurm-wlm``
+ ``munge`` (``.ci/run`` installs them when apt-get can); otherwise the tests skip and say why.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
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
    # The text arm's brain-alignment path only: no tasks (no training), no vision arm, no
    # untrained baseline (the pre-trained stand-in alone: 2 ridge jobs).
    config["tasks"] = {}
    config["baselines"] = []
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


def _timed_run(command, env, log, timeout):
    """Runs ``command`` with its output in ``log``; on timeout SIGTERM (``local_slurm.sh run``
    then cancels the jobs and stops its daemons), SIGKILL 90 s later. Returns (status, seconds)."""
    start = time.monotonic()
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            status = None
    return status, time.monotonic() - start


def _finished_jobs(log):
    """Rule name -> number of its jobs a Snakemake log reports finished (the target rule `all`,
    which runs in the main process under every executor, left out)."""
    rules = re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)", log, flags=re.MULTILINE)
    return Counter(rule for rule in rules if rule != "all")


def _tables(workdir):
    return sorted(str(path.relative_to(workdir)) for path in (workdir / "results" / "tables").rglob("*.csv"))


@pytest.mark.skipif(
    os.environ.get("BRAINALIGN_SLURM_FULL") != "1",
    reason="the embedded default, locally and through SLURM: 20-60 minutes on 2 cores; set BRAINALIGN_SLURM_FULL=1",
)
def test_the_embedded_default_through_slurm_matches_the_local_run(tmp_path):
    reason = _missing_requirements()
    if reason:
        pytest.skip(reason)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("BRAINALIGN_SLURM_GPUS", None)  # `run`'s default: no GPU requests
    snakemake = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
    local, cluster = tmp_path / "local", tmp_path / "slurm"
    local.mkdir()
    cluster.mkdir()

    status, local_seconds = _timed_run(
        [*snakemake, "--directory", str(local), "--cores", "2"], env, tmp_path / "local.log", 3600
    )
    local_log = (tmp_path / "local.log").read_text()
    assert status == 0, local_log[-3000:]
    local_finished = _finished_jobs(local_log)

    # The documented command (as `make slurm-demo` runs it), in its own cluster directory; a
    # short path, as munge's socket must fit in 108 bytes. Status checks from 2 s, not 20.
    directory = Path(subprocess.check_output(["mktemp", "-d", "/tmp/brainalign-slurm.XXXXXX"], text=True).strip())
    try:
        status, slurm_seconds = _timed_run(
            ["bash", str(SCRIPT), "run", str(directory), "--", "-s", str(ROOT / "Snakefile"),
             "--directory", str(cluster), "--slurm-init-seconds-before-status-checks", "2"],
            dict(env, SNAKEMAKE=f"{sys.executable} -m snakemake"), tmp_path / "slurm.log", 3600,
        )
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(directory)], capture_output=True, timeout=60)
        shutil.rmtree(directory, ignore_errors=True)
    log = (tmp_path / "slurm.log").read_text()
    assert status == 0, log[-4000:]

    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    finished = _finished_jobs(log)
    print(f"\nembedded default: local --cores 2 {local_seconds:.0f} s, {sum(local_finished.values())} jobs; "
          f"through SLURM {slurm_seconds:.0f} s, {len(submitted)} sbatch jobs")

    tables = _tables(local)
    for name in ("decoding.csv", "encoding.csv", "comparisons.csv", "paper/tables2to5_decoding.csv",
                 "paper/table1_bertscore.csv", "paper/table6_accuracy.csv", "paper/tables7to8_bold5000.csv"):
        assert f"results/tables/{name}" in tables, name
    assert _tables(cluster) == tables
    for table in tables:
        assert (cluster / table).read_bytes() == (local / table).read_bytes(), table

    # Every job of the local run was an sbatch job here, and finished.
    assert sum(local_finished.values()) >= 80 and finished == local_finished
    assert len(submitted) == len(set(submitted)) == sum(finished.values())
    assert {"tune", "evaluate", "features", "ridge", "tables", "comparisons", "figures"} <= set(finished)
    # The profile's GPU request (BRAINALIGN_SLURM_GPUS, `run` makes it 0: no --gpus on sbatch)
    # reached the training and generation jobs, and only those.
    gpu_requests = re.findall(r"^\s+resources: .*\bgpu=(\d+)", log, flags=re.MULTILINE)
    assert len(gpu_requests) == finished["pretrain_base"] + finished["tune"] + finished["evaluate"]
    assert set(gpu_requests) == {"0"}


def _processes_mentioning(text):
    """PIDs whose command line contains ``text`` (the cluster's daemons name its directory)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                pids.append(int(cmdline.parent.name))
        except OSError:  # the process ended meanwhile
            pass
    return pids


def test_run_passes_on_snakemakes_status_and_always_stops_the_cluster(tmp_path):
    """The documented command's life cycle, on a run that fails at once (an unknown target)."""
    reason = _missing_requirements()
    if reason:
        pytest.skip(reason)
    directory = Path(subprocess.check_output(["mktemp", "-d", "/tmp/brainalign-slurm.XXXXXX"], text=True).strip())
    try:
        result = subprocess.run(
            ["bash", str(SCRIPT), "run", str(directory), "--", "-s", str(ROOT / "Snakefile"),
             "--directory", str(tmp_path), "no/such/target.csv"],
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, HF_HUB_OFFLINE="1", SNAKEMAKE=f"{sys.executable} -m snakemake"),
        )
        assert f"cluster up in {directory}" in result.stderr
        assert result.returncode == 1 and "no/such/target.csv" in result.stderr, result.stderr[-3000:]
        assert _processes_mentioning(f"{directory}/") == []  # munged, slurmctld, slurmd
        assert not list(directory.glob("*.pid"))
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(directory)], capture_output=True, timeout=60)
        shutil.rmtree(directory, ignore_errors=True)
