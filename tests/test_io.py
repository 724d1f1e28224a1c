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


def test_a_writer_killed_mid_write_leaves_no_output_and_the_next_write_clears_its_litter(tmp_path):
    import signal
    import subprocess
    import sys

    target = tmp_path / "table.csv"
    code = (
        "import os, signal\n"
        "from brainalign.io import atomic_output\n"
        f"with atomic_output({str(target)!r}) as tmp:\n"
        "    tmp.write_text('half a tab')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert killed.returncode == -signal.SIGKILL
    assert not target.exists()
    [litter] = list(tmp_path.iterdir())
    assert litter.name.startswith(".table.csv.") and litter.name.endswith(".tmp")
    with atomic_output(target) as tmp:
        tmp.write_text("whole table")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_temporary_sibling_clears_stale_folders_too(tmp_path):
    from brainalign.io import temporary_sibling

    (tmp_path / ".ckpt.abcd_123.tmp").mkdir()
    (tmp_path / ".ckpt.abcd_123.tmp" / "weights").write_text("partial")
    (tmp_path / ".ckpt.efgh4567.old").mkdir()
    # Temporaries of other outputs stay, even when their name starts like this one's:
    # another job (or this one) may be writing them right now.
    kept = [".other.abcd1234.tmp", ".ckpt.loss.csv.abcd1234.tmp"]
    for name in kept:
        (tmp_path / name).write_text("another output's")
    fresh = temporary_sibling(tmp_path / "ckpt", directory=True)
    assert fresh.is_dir() and not list(fresh.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, *kept])
