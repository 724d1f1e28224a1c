"""The reference paper's 627-sentence Pereira layout: ``stimuli.txt`` + pickled ``subjN.npy``.

``stimuli.txt`` holds one sentence a line, 384 experiment-2 lines then 243 experiment-3 lines;
``subjN.npy`` a pickled dict with ``language``, ``vision``, ``task``, ``dmn`` matrices
(n x voxels), rows in the same order. Loading it unpickles, which can run code, so it needs
``trust_pickled_subject_files: true``.

The layout has no passage labels. Grouped cross-validation needs them (passage-mates in train
and test folds inflate every score), so the loader never guesses: it takes a passages file
(one label per line, written from the official ``.mat`` files by
``python -m brainalign.brains.passages``) or a block size the user set explicitly
(``passage_block_size``: exact for experiment 2's 96 passages of 4, wrong for experiment 3's
passages of 3-4 sentences).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.brains.store import SubjectResponses, clean_voxels, record_voxel_counts
from brainalign.errors import ConfigError, DataError
from brainalign.io import sha256_file

logger = logging.getLogger(__name__)

NPY627_ROIS: dict[str, str] = {"language": "language", "task": "task", "dmn": "dmn", "vision": "visual"}
"""Key in a 627-layout ``subjN.npy`` dict -> output ROI name (same names as the .mat loader)."""


def load_pereira_627(
    stimuli_path: str | os.PathLike,
    subject_path: str | os.PathLike,
    *,
    subject: str,
    trust_pickled_subject_files: bool,
    passages_path: str | os.PathLike | None = None,
    passage_block_size: int | None = None,
    simulated: bool = False,
    dataset: str = "pereira",
) -> SubjectResponses:
    """Load the reference paper's 627-sentence layout (``stimuli.txt`` + pickled ``subjN.npy``).

    Parameters
    ----------
    stimuli_path : path-like
        UTF-8 text, one sentence per line (n lines).
    subject_path : path-like
        ``.npy`` holding a pickled dict ``{language, vision, task, dmn}`` of (n, voxels) arrays.
    subject, dataset : str
        Stored in the result.
    trust_pickled_subject_files : bool
        Must be True: unpickling runs code embedded in the file.
    passages_path : path-like, optional
        One passage label per line (n lines), e.g. written by
        ``python -m brainalign.brains.passages`` from the official ``.mat`` files.
    passage_block_size : int, optional
        Without ``passages_path``: passages are consecutive blocks of this many sentences
        (exact for experiment 2, 96 passages of 4; not for experiment 3, passages of 3-4).
        One of the two must be given: the loader never guesses passages.
    simulated : bool
        Mark the result as simulated.

    Returns
    -------
    SubjectResponses
        ids ``"s{i:03d}"`` (1-based), groups = passage labels, ROIs ``language``, ``visual``,
        ``task``, ``dmn``.

    Raises
    ------
    ConfigError
        Untrusted pickle, neither a passages file nor a block size, or a bad ``passage_block_size``.
    DataError
        Missing/unreadable files, a non-dict subject file, missing keys, line counts that do
        not match the matrix rows. Messages name the file.
    """
    stimuli_path, subject_path = Path(stimuli_path), Path(subject_path)
    if not trust_pickled_subject_files:
        raise ConfigError(
            f"{subject_path} is a pickled .npy file, and unpickling can run arbitrary code from the file. "
            "Set config key 'datasets.pereira.trust_pickled_subject_files: true' only if the file comes from a "
            "trusted source."
        )
    sentences, groups = read_627_stimuli(
        stimuli_path, passages_path=passages_path, passage_block_size=passage_block_size
    )
    n = len(sentences)
    provenance = {"loader": "brainalign.brains.pereira.load_pereira_627"}
    provenance[f"source:{stimuli_path.name}"] = sha256_file(stimuli_path)
    if passages_path is not None:
        provenance[f"source:{Path(passages_path).name}"] = sha256_file(passages_path)
    else:
        provenance["passages"] = f"consecutive blocks of {passage_block_size}"

    matrices = _read_pickled_dict(subject_path)
    provenance[f"source:{subject_path.name}"] = sha256_file(subject_path)
    missing = [key for key in NPY627_ROIS if key not in matrices]
    if missing:
        raise DataError(
            f"subject file {subject_path} lacks keys {missing} (keys present: {sorted(map(str, matrices))}); "
            f"expected a dict with {list(NPY627_ROIS)}."
        )
    rois: dict[str, np.ndarray] = {}
    for key, roi in NPY627_ROIS.items():
        matrix = np.asarray(matrices[key])
        if matrix.ndim != 2 or matrix.shape[0] != n:
            raise DataError(
                f"subject file {subject_path}: '{key}' has shape {matrix.shape} but stimulus file {stimuli_path} "
                f"has {n} lines; the matrix needs one row per sentence (same order)."
            )
        rois[roi], counts = clean_voxels(matrix, roi, subject_path)
        record_voxel_counts(provenance, roi, counts)
    return SubjectResponses(
        dataset=dataset, subject=subject, stimulus_ids=tuple(f"s{i:03d}" for i in range(1, n + 1)),
        stimulus_texts=tuple(sentences), groups=tuple(groups), rois=rois, simulated=simulated, provenance=provenance,
        sessions=sessions_627(n),
    )


def read_627_stimuli(
    stimuli_path: str | os.PathLike,
    *,
    passages_path: str | os.PathLike | None = None,
    passage_block_size: int | None = None,
) -> tuple[list[str], list[str]]:
    """The sentences of ``stimuli.txt`` and their passage labels (see :func:`load_pereira_627`).

    Returns
    -------
    sentences, passages : list of str, length n each

    Raises
    ------
    ConfigError
        Neither a passages file nor a block size, or a bad block size.
    DataError
        A missing or unreadable file, blank lines, or a passages file of another length.
    """
    stimuli_path = Path(stimuli_path)
    sentences = _read_lines(stimuli_path, "stimulus")
    if passages_path is None:
        return sentences, _block_passages(len(sentences), passage_block_size, stimuli_path)
    passages_path = Path(passages_path)
    groups = _read_lines(passages_path, "passage")
    if len(groups) != len(sentences):
        raise DataError(
            f"passage file {passages_path} has {len(groups)} lines but stimulus file {stimuli_path} has "
            f"{len(sentences)}; give one passage label per sentence (python -m brainalign.brains.passages writes it)."
        )
    return sentences, groups


def _block_passages(n: int, size: int | None, stimuli_path: Path) -> list[str]:
    """Passage labels as consecutive blocks of ``size`` sentences, only when the user set ``size``."""
    if size is None:
        raise ConfigError(
            f"{stimuli_path} ({n} sentences) has no passage labels, and the loader does not guess them: passage-mates "
            "split across cross-validation folds inflate every score. Write a passages file from the official "
            ".mat files (python -m brainalign.brains.passages, see docs/data.md) and set "
            "datasets.pereira.passages_file, or set datasets.pereira.passage_block_size (4 is exact for "
            "experiment 2 only; experiment 3's passages have 3-4 sentences)."
        )
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"config key 'datasets.pereira.passage_block_size' must be a positive integer, got {size!r}.")
    logger.warning(
        "no passage file given for %s: consecutive passages of %d sentences (datasets.pereira.passage_block_size); "
        "exact for Pereira experiment 2 but not experiment 3 (passages of 3-4 sentences), so grouped CV folds may "
        "split a passage there.", stimuli_path, size,
    )
    return [f"p{i // size + 1:03d}" for i in range(n)]


PEREIRA_627_SESSIONS = (("384sentences", 384), ("243sentences", 243))
"""The 627-sentence layout's two experiments, in file order: (session label, sentences)."""


def sessions_627(n: int) -> tuple[str, ...] | None:
    """The experiment of each line of a 627-sentence ``stimuli.txt``; None (one session) otherwise.

    Experiments 2 and 3 were scanned in separate sessions, so their responses can differ by an
    offset; the labels match the ``.mat`` loader's experiment names.
    """
    if n != sum(size for _, size in PEREIRA_627_SESSIONS):
        return None
    return tuple(label for label, size in PEREIRA_627_SESSIONS for _ in range(size))


def _read_lines(path: Path, kind: str) -> list[str]:
    if not path.is_file():
        raise DataError(f"{kind} file {path} not found; check its path in the config.")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {kind} file {path} as UTF-8 text ({exc}); re-save it as UTF-8.") from exc
    lines = [line.strip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    blank = [i for i, line in enumerate(lines, start=1) if not line]
    if blank or not lines:
        raise DataError(f"{kind} file {path} is empty or has blank lines {blank[:5]}; give one entry per line.")
    return lines


def _read_pickled_dict(path: Path) -> Mapping[Any, Any]:
    if not path.is_file():
        raise DataError(f"subject file {path} not found; check its path in the config.")
    try:
        loaded = np.load(path, allow_pickle=True)
    except Exception as exc:  # noqa: BLE001 - numpy/pickle raise many types for damaged files
        raise DataError(f"cannot read subject file {path} ({type(exc).__name__}: {exc}); is it truncated?") from exc
    if isinstance(loaded, np.ndarray) and loaded.dtype == object and loaded.shape == ():
        loaded = loaded.item()
    if not isinstance(loaded, Mapping):
        expected = f"a dict with keys {list(NPY627_ROIS)}"
        raise DataError(f"subject file {path} holds {type(loaded).__name__}, expected {expected}.")
    return loaded
