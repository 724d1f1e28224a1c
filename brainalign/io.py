"""Small file helpers shared by every stage: atomic writes, hashing, logging set-up."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from brainalign.errors import ConfigError

#: The only folder (relative to the working directory) the workflow writes outputs into.
RESULTS_DIR = "results"


def temporary_sibling(path: str | os.PathLike, *, directory: bool = False) -> Path:
    """Create an empty temporary file (or folder) next to ``path``, to be renamed onto it.

    Named ``.{name}.<random>.tmp``. Leftovers of that pattern (and ``.{name}.<random>.old``
    from replacing a folder) come from a writer of ``path`` that was killed before it could
    clean up; they are removed first, so a killed run leaves no litter once the job reruns.
    (Snakemake never runs two jobs writing the same output at once.)

    Parameters
    ----------
    path : path-like
        The final destination; its parent folder is created when missing.
    directory : bool
        Create a folder (``mkdtemp``) instead of a file (``mkstemp``).

    Returns
    -------
    Path
        The new temporary file or folder (owner-only permissions, as ``mkstemp`` makes them).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Exactly tempfile's names for this path: ".prompt.<8 random>.tmp" must not match the
    # ".prompt.loss.csv.<8 random>.tmp" of a sibling output being written right now.
    own = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.(tmp|old)")
    for stale in path.parent.iterdir():
        if not own.fullmatch(stale.name):
            continue
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    if directory:
        return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` and move it into place on success.

    A crash or exception leaves no file at ``path`` (a rerun never trusts a half-written
    output); the temporary file is removed, and one left by a killed process is removed
    by the next write of ``path`` (:func:`temporary_sibling`).

    Parameters
    ----------
    path : path-like
        Final destination. Its parent folder is created when missing.
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        # mkstemp creates owner-only files; give the output the permissions of a plain open().
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def check_output_path(path: str | os.PathLike, *, key: str, root: str | os.PathLike = RESULTS_DIR) -> Path:
    """Check that a configured output path stays inside ``root``, the configuration's results_dir.

    The path is resolved against the working directory (symbolic links and ``..``
    followed), so neither an absolute path elsewhere nor ``results/../data`` passes.

    Parameters
    ----------
    path : path-like
        A config value the workflow writes into (e.g. ``datasets.pereira.raw_dir`` when
        the data are simulated).
    key : str
        The config key, for the message.
    root : path-like
        The folder outputs must stay in, relative to the working directory.

    Returns
    -------
    Path
        ``path`` resolved.

    Raises
    ------
    ConfigError
        The resolved path is ``root`` itself or lies outside it.
    """
    resolved = Path(path).resolve()
    root_resolved = Path(root).resolve()
    if resolved == root_resolved or root_resolved not in resolved.parents:
        raise ConfigError(
            f"config key {key}: {os.fspath(path)!r} resolves to {resolved}, outside the results folder "
            f"{root_resolved}; the workflow writes only under its results_dir ({os.fspath(root)}/), so give a "
            f"folder inside it (e.g. {os.fspath(root)}/raw/pereira)."
        )
    return resolved


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def setup_logging(log_path: str | os.PathLike | None = None, level: int = logging.INFO) -> logging.Logger:
    """Send the package's log records to ``log_path`` (and stderr) and return its logger.

    An uncaught exception is logged too, so that a rule's log file ends with the error
    that stopped it (Snakemake shows failed logs).
    """
    logger = logging.getLogger("brainalign")
    logger.setLevel(level)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)

    def log_uncaught(exc_type, exc, traceback) -> None:
        logger.error("%s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, traceback))

    sys.excepthook = log_uncaught
    return logger


def write_report_files(
    results: dict, report: str, *, markdown: str | os.PathLike | None, json_path: str | os.PathLike | None
) -> None:
    """Write a benchmark's markdown report (headed by its command) and its JSON results.

    Each path may be None (not written); parent folders are created. Used by ``benchmarks/``.
    """
    import json

    if markdown is not None:
        Path(markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(markdown).write_text(f"`{results['command']}`\n\n{report}\n")
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(results, indent=2) + "\n")
