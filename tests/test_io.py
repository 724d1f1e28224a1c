"""Atomic outputs: nothing at the destination after a failure, plain permissions after success."""

import os
import stat

import pytest

from brainalign.io import atomic_output, sha256_file


def test_failure_leaves_no_output_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert list(tmp_path.iterdir()) == []


def test_success_moves_the_file_into_place_with_umask_permissions(tmp_path):
    target = tmp_path / "sub" / "out.csv"
    with atomic_output(target) as tmp:
        tmp.write_text("done")
    assert target.read_text() == "done"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["out.csv"]


def test_sha256_file(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    assert sha256_file(tmp_path / "a") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_uncaught_errors_end_up_in_the_log_file(tmp_path):
    import subprocess
    import sys

    log = tmp_path / "rule.log"
    code = (
        "from brainalign.io import setup_logging\n"
        f"setup_logging({str(log)!r})\n"
        "raise ValueError('raw file data/x.mat is truncated')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "ValueError: raw file data/x.mat is truncated" in log.read_text()
