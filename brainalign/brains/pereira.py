"""Loaders for the Pereira et al. (2018) sentence fMRI data in its two published layouts.

1. The official per-subject MATLAB v5 files ``examples_384sentences.mat`` (experiment 2) and
   ``examples_243sentences.mat`` (experiment 3), read with :func:`scipy.io.loadmat` defaults:

   ``examples`` (n_sentences, n_voxels) double; ``meta`` a (1, 1) struct whose ``atlases`` is a
   cell of atlas names, ``rois`` a cell (one per atlas) of cells of ROI names and ``roiColumns``
   a cell (one per atlas) of cells of 1-based column vectors into ``examples`` (published files:
   per-atlas cells (1, n_atlases), per-ROI cells (n_rois, 1), vectors (k, 1); both orientations
   are accepted); ``keySentences`` (n, 1) cell; ``labelsPassageForEachSentence`` (n, 1) 1-based
   passage numbers; usually also ``keyPassages``, ``labelsPassageCategory``, ``keyPassageCategory``.

   A *network* (an output ROI) is the sorted union of the columns of all ROIs of a list of
   atlases (``networks`` config). Experiments of one subject share the subject's voxel columns
   (Pereira et al. train on one experiment and test on another), so they are concatenated row-wise.

2. The 627-sentence layout used by the reference paper: ``stimuli.txt`` (one sentence a line,
   384 experiment-2 lines then 243 experiment-3 lines) and a pickled ``subjN.npy`` dict with
   ``language``, ``vision``, ``task``, ``dmn`` matrices (n x voxels). Loading it unpickles,
   which can run code, so it needs ``trust_pickled_subject_files: true``.

Both loaders return :class:`~brainalign.brains.store.SubjectResponses` with the same ROI
names (``language``, ``task``, ``dmn``, ``visual``) after :func:`clean_voxels`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from brainalign.brains.store import SubjectResponses, clean_voxels
from brainalign.errors import ConfigError, DataError
from brainalign.io import sha256_file

logger = logging.getLogger(__name__)

DEFAULT_NETWORKS: dict[str, list[str]] = {
    "language": ["languageLH", "languageRH"], "task": ["MD"], "dmn": ["DMN"], "visual": ["visual"],
}
"""Output ROI name -> atlases of ``meta.atlases`` whose ROIs are unioned."""

NPY627_ROIS: dict[str, str] = {"language": "language", "task": "task", "dmn": "dmn", "vision": "visual"}
"""Key in a 627-layout ``subjN.npy`` dict -> output ROI name (same names as the .mat loader)."""


# --------------------------------------------------------------------------- official .mat files


def load_pereira_mat(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    subject: str,
    networks: Mapping[str, Sequence[str]] | None = None,
    simulated: bool = False,
    dataset: str = "pereira",
) -> SubjectResponses:
    """Load one subject's official Pereira ``examples_*.mat`` files.

    Parameters
    ----------
    paths : path-like or sequence of path-like
        One or more experiment files of the same subject, concatenated in the given order.
    subject, dataset : str
        Stored in the result (e.g. ``"P01"``, ``"pereira"``).
    networks : mapping of str to list of str, optional
        Output ROI name -> atlas names (default :data:`DEFAULT_NETWORKS`).
    simulated : bool
        Mark the result as simulated (files written by :mod:`brainalign.brains.simulate`).

    Returns
    -------
    SubjectResponses
        n = total sentences; ids ``"{experiment}_{i:03d}"`` (experiment = file stem without
        ``examples_``, i 1-based), groups ``"{experiment}_p{passage:03d}"``, texts from
        ``keySentences``, one (n, n_voxels) float32 matrix per network after cleaning.

    Raises
    ------
    ConfigError
        ``paths`` empty, or ``networks`` malformed.
    DataError
        Missing, truncated or corrupt file; missing variables; inconsistent counts; unknown
        atlas; column index out of range; differing voxel sets across experiments; a network
        with no usable voxels. Messages name the file.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    networks = _check_networks(DEFAULT_NETWORKS if networks is None else networks)
    experiments = [p.stem.removeprefix("examples_") for p in paths]
    if not paths or len(set(experiments)) != len(experiments):
        raise ConfigError(
            f"subject {subject}: Pereira files {[str(p) for p in paths]} must list each experiment "
            "(examples_*.mat file) exactly once."
        )

    ids: list[str] = []
    texts: list[str] = []
    groups: list[str] = []
    sessions: list[str] = []
    blocks: dict[str, list[np.ndarray]] = {roi: [] for roi in networks}
    reference: tuple[Path, int, dict[str, np.ndarray]] | None = None
    provenance: dict[str, str] = {"loader": "brainalign.brains.pereira.load_pereira_mat"}
    for path, experiment in zip(paths, experiments, strict=True):
        contents = _read_mat(path)
        examples, sentences, passages, columns = _parse_experiment(path, contents, networks)
        if reference is None:
            reference = (path, examples.shape[1], columns)
        else:
            _check_same_voxels(reference, path, examples.shape[1], columns)
        for i, (sentence, passage) in enumerate(zip(sentences, passages, strict=True), start=1):
            ids.append(f"{experiment}_{i:03d}")
            texts.append(sentence)
            groups.append(f"{experiment}_p{passage:03d}")
            sessions.append(experiment)
        for roi, cols in columns.items():
            blocks[roi].append(examples[:, cols])
        provenance[f"source:{path.name}"] = sha256_file(path)
        logger.info("read %s: %d sentences x %d voxels", path, examples.shape[0], examples.shape[1])

    source = ", ".join(str(p) for p in paths)
    rois: dict[str, np.ndarray] = {}
    for roi, parts in blocks.items():
        rois[roi], counts = clean_voxels(np.vstack(parts), roi, source)
        provenance[f"network:{roi}"] = "+".join(networks[roi])
        _record_counts(provenance, roi, counts)
    return SubjectResponses(
        dataset=dataset, subject=subject, stimulus_ids=tuple(ids), stimulus_texts=tuple(texts),
        groups=tuple(groups), rois=rois, simulated=simulated, provenance=provenance, sessions=tuple(sessions),
    )


def _check_networks(networks: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    if not isinstance(networks, Mapping) or not networks:
        raise ConfigError(f"config key 'networks' must map ROI names to lists of atlas names, got {networks!r}.")
    checked: dict[str, list[str]] = {}
    for roi, atlases in networks.items():
        if (
            isinstance(atlases, str) or not isinstance(atlases, Sequence) or not atlases
            or not all(isinstance(a, str) and a for a in atlases)
        ):
            raise ConfigError(f"config key 'networks.{roi}' must be a non-empty list of atlas names, got {atlases!r}.")
        checked[str(roi)] = list(atlases)
    return checked


def _read_mat(path: Path) -> dict[str, Any]:
    """scipy.io.loadmat with every failure turned into a DataError naming the file."""
    if not path.is_file():
        raise DataError(f"Pereira file {path} not found; check the subject's file paths in the config.")
    try:
        return scipy.io.loadmat(str(path))
    # scipy raises a zoo of errors on damaged files (MatReadError, OSError, IndexError,
    # ValueError, NotImplementedError for v7.3 HDF5 files, ...); all mean "unreadable".
    except Exception as exc:  # noqa: BLE001
        detail = f"{type(exc).__name__}: {exc}"
        raise DataError(f"Pereira file {path} is truncated or corrupt ({detail}); download it again.") from exc


def _parse_experiment(
    path: Path, contents: dict[str, Any], networks: dict[str, list[str]]
) -> tuple[np.ndarray, list[str], list[int], dict[str, np.ndarray]]:
    """Return (examples (n, v), sentences (n), passages (n, 1-based), network -> 0-based columns)."""
    for key in ("examples", "meta", "keySentences", "labelsPassageForEachSentence"):
        if key not in contents:
            present = sorted(k for k in contents if not k.startswith("__"))
            raise DataError(f"Pereira file {path} has no variable {key!r} (it has {present}); is it official?")
    examples = np.asarray(contents["examples"])
    if examples.ndim != 2 or not np.issubdtype(examples.dtype, np.number):
        raise DataError(f"Pereira file {path}: 'examples' is not a numeric sentences x voxels matrix.")
    key_sentences = _cells(contents["keySentences"], path, "keySentences")
    sentences = [_string(c, path, "keySentences").strip() for c in key_sentences]
    passages = _integers(contents["labelsPassageForEachSentence"], path, "labelsPassageForEachSentence")
    if not examples.shape[0] == len(sentences) == len(passages):
        raise DataError(
            f"Pereira file {path}: examples has {examples.shape[0]} rows, keySentences {len(sentences)} entries and "
            f"labelsPassageForEachSentence {len(passages)}; all must count the same sentences."
        )
    if passages and min(passages) < 1:
        raise DataError(f"Pereira file {path}: labelsPassageForEachSentence must be 1-based passage numbers.")

    atlas_columns = _atlas_columns(path, contents["meta"], examples.shape[1])
    columns: dict[str, np.ndarray] = {}
    for roi, atlases in networks.items():
        missing = [a for a in atlases if a not in atlas_columns]
        if missing:
            raise DataError(
                f"Pereira file {path} has no atlas {missing} (needed for ROI {roi!r} in config key "
                f"'networks'); atlases present: {list(atlas_columns)}."
            )
        union = np.unique(np.concatenate([atlas_columns[a] for a in atlases]))
        if union.size == 0:
            raise DataError(f"Pereira file {path}: atlases {atlases} of ROI {roi!r} list no voxel columns.")
        columns[roi] = union
    return examples, sentences, passages, columns


def _atlas_columns(path: Path, meta: Any, n_voxels: int) -> dict[str, np.ndarray]:
    """Map atlas name -> concatenated 0-based columns of all its ROIs, range-checked."""
    if not isinstance(meta, np.ndarray) or meta.dtype.names is None or meta.size != 1:
        raise DataError(f"Pereira file {path}: 'meta' is not a 1x1 MATLAB struct; expected an official file.")
    fields = meta.dtype.names

    def field(name: str) -> Any:
        if name not in fields:
            raise DataError(f"Pereira file {path}: meta has no field {name!r} (fields: {list(fields)}).")
        return meta[name].ravel()[0]

    atlases = [_string(c, path, "meta.atlases") for c in _cells(field("atlases"), path, "meta.atlases")]
    per_atlas = _cells(field("roiColumns"), path, "meta.roiColumns")
    roi_names = _cells(field("rois"), path, "meta.rois") if "rois" in fields else None
    if len(per_atlas) != len(atlases) or (roi_names is not None and len(roi_names) != len(atlases)):
        counts = f"{len(atlases)} atlases, {len(per_atlas)} roiColumns, {len(roi_names or atlases)} rois"
        raise DataError(f"Pereira file {path}: meta has {counts}; they must match one to one.")
    result: dict[str, np.ndarray] = {}
    for a, (atlas, cell) in enumerate(zip(atlases, per_atlas, strict=True)):
        vectors = _cells(cell, path, f"meta.roiColumns{{{atlas}}}")
        names = [f"#{r + 1}" for r in range(len(vectors))]
        if roi_names is not None:
            names = [_string(c, path, "meta.rois") for c in _cells(roi_names[a], path, f"meta.rois{{{atlas}}}")]
        if len(names) != len(vectors):
            raise DataError(f"Pereira file {path}: atlas {atlas!r} has {len(names)} rois, {len(vectors)} roiColumns.")
        parts = [np.zeros(0, dtype=np.int64)]
        for name, vector in zip(names, vectors, strict=True):
            cols = np.asarray(vector, dtype=np.float64).ravel()
            bad = cols[~np.isfinite(cols) | (cols != np.round(cols)) | (cols < 1) | (cols > n_voxels)]
            if bad.size:
                raise DataError(
                    f"Pereira file {path}: ROI {name!r} of atlas {atlas!r} has column index {bad[0]:g} outside "
                    f"1..{n_voxels} (the examples matrix has {n_voxels} columns); the file's meta does not "
                    "match its examples matrix: download it again."
                )
            parts.append(cols.astype(np.int64) - 1)
        result[atlas] = np.concatenate(parts)
    return result


def _check_same_voxels(
    reference: tuple[Path, int, dict[str, np.ndarray]], path: Path, n_voxels: int, columns: dict[str, np.ndarray]
) -> None:
    ref_path, ref_voxels, ref_columns = reference
    fix = "only files of the same subject can be concatenated"
    if n_voxels != ref_voxels:
        raise DataError(f"Pereira files {ref_path} ({ref_voxels} voxel columns) and {path} ({n_voxels}) differ; {fix}.")
    for roi, cols in columns.items():
        if not np.array_equal(cols, ref_columns[roi]):
            raise DataError(f"Pereira files {ref_path} and {path} give ROI {roi!r} different voxel columns; {fix}.")


def _cells(value: Any, path: Path, what: str) -> list[Any]:
    """Flatten a MATLAB cell vector that loadmat returned as (1, k), (k, 1) or (k,)."""
    array = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if array.ndim > 2 or (array.ndim == 2 and min(array.shape) > 1):
        raise DataError(f"Pereira file {path}: {what} should be a cell vector, got shape {array.shape}.")
    return list(array.ravel())


def _string(value: Any, path: Path, what: str) -> str:
    """Unwrap loadmat's nested one-element arrays down to the str inside."""
    while isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        if value.size != 1:
            raise DataError(f"Pereira file {path}: an entry of {what} is not a single string (shape {value.shape}).")
        value = value.ravel()[0]
    if not isinstance(value, str):
        raise DataError(f"Pereira file {path}: an entry of {what} is {type(value).__name__}, expected text.")
    return str(value)  # plain str, not np.str_, so messages and ids read cleanly


def _integers(value: Any, path: Path, what: str) -> list[int]:
    array = np.asarray(value)
    if array.ndim > 2 or (array.ndim == 2 and min(array.shape) > 1) or not np.issubdtype(array.dtype, np.number):
        raise DataError(f"Pereira file {path}: {what} should be a numeric vector, got shape {array.shape}.")
    flat = array.astype(np.float64).ravel()
    if not np.all(np.isfinite(flat)) or np.any(flat != np.round(flat)):
        raise DataError(f"Pereira file {path}: {what} must hold whole numbers.")
    return [int(v) for v in flat]


def _record_counts(provenance: dict[str, str], roi: str, counts: dict[str, int]) -> None:
    provenance[f"dropped_voxels:{roi}"] = str(counts["nan"] + counts["constant"])
    provenance[f"dropped_nan_voxels:{roi}"] = str(counts["nan"])
    provenance[f"dropped_constant_voxels:{roi}"] = str(counts["constant"])


# --------------------------------------------------------------------------- 627-sentence layout


def load_pereira_627(
    stimuli_path: str | os.PathLike,
    subject_path: str | os.PathLike,
    *,
    subject: str,
    trust_pickled_subject_files: bool,
    passages_path: str | os.PathLike | None = None,
    passage_block_size: int = 4,
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
        One passage label per line (n lines). Without it, passages are consecutive blocks of
        ``passage_block_size`` sentences: exact for experiment 2 (96 passages of 4), only
        approximate for experiment 3 (passages of 3 or 4 sentences).
    passage_block_size : int
        Block size used when ``passages_path`` is None.
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
        Untrusted pickle, or a bad ``passage_block_size``.
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
    sentences = _read_lines(stimuli_path, "stimulus")
    n = len(sentences)
    provenance = {"loader": "brainalign.brains.pereira.load_pereira_627"}
    provenance[f"source:{stimuli_path.name}"] = sha256_file(stimuli_path)
    if passages_path is not None:
        passages_path = Path(passages_path)
        groups = _read_lines(passages_path, "passage")
        if len(groups) != n:
            raise DataError(
                f"passage file {passages_path} has {len(groups)} lines but stimulus file {stimuli_path} has {n}; "
                "give one passage label per sentence."
            )
        provenance[f"source:{passages_path.name}"] = sha256_file(passages_path)
    else:
        size = passage_block_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"config key 'passage_block_size' must be a positive integer, got {size!r}.")
        groups = [f"p{i // passage_block_size + 1:03d}" for i in range(n)]
        logger.warning(
            "no passage file given for %s: assuming consecutive passages of %d sentences; this is exact for "
            "Pereira experiment 2 but not experiment 3 (passages of 3-4 sentences), so grouped CV folds may "
            "split a passage. Give a passages file to be exact.", stimuli_path, passage_block_size,
        )
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
        _record_counts(provenance, roi, counts)
    return SubjectResponses(
        dataset=dataset, subject=subject, stimulus_ids=tuple(f"s{i:03d}" for i in range(1, n + 1)),
        stimulus_texts=tuple(sentences), groups=tuple(groups), rois=rois, simulated=simulated, provenance=provenance,
        sessions=sessions_627(n),
    )


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
