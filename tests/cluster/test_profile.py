"""profiles/slurm's user settings reach the jobs' resources (a dry run: no cluster needed)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _planned_resources(workdir, **env):
    """Rule name -> the resources lines of its planned jobs, from a dry run of the embedded default."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]'")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--profile", str(ROOT / "profiles" / "slurm"), "--dry-run"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, HF_HUB_OFFLINE="1", **env),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    plan = {}
    for rule, block in re.findall(r"^rule (\w+):\n((?:    .*\n)+)", result.stdout + result.stderr, flags=re.MULTILINE):
        plan.setdefault(rule, []).extend(re.findall(r"^    resources: (.*)$", block, flags=re.MULTILINE))
    return plan


def test_the_gpu_request_is_a_user_setting(tmp_path):
    """BRAINALIGN_SLURM_GPUS sets the GPUs of training and generation jobs (0: a CPU-only
    cluster, no request); the default, 1, is checked in tests/workflow/test_incremental.py."""
    plan = _planned_resources(tmp_path, BRAINALIGN_SLURM_GPUS="0", BRAINALIGN_SLURM_PARTITION="cpu")
    for rule in ("pretrain_base", "tune", "evaluate"):
        assert plan[rule] and all(re.search(r"\bgpu=0\b", line) for line in plan[rule]), rule
    for rule in ("features", "ridge"):
        assert plan[rule] and not any("gpu=" in line for line in plan[rule]), rule
    assert all("slurm_partition=cpu" in line for lines in plan.values() for line in lines)
