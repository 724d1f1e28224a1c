"""The official Pereira et al. (2018) per-subject ``.mat`` files, in both distributions.

Two distributions hold the same content under different names (``{experiment}`` is
``384sentences`` for experiment 2 and ``243sentences`` for experiment 3):

=============================  =================================  ==============================
file                           sentence matrix (n x voxels)       source
=============================  =================================  ==============================
``data_{experiment}.mat``      ``examples_passagesentences``      today's EVLab download (also
                                                                  ``examples_passages``, unused)
``examples_{experiment}.mat``  ``examples``                       the older download
=============================  =================================  ==============================

Both also hold ``meta`` (a 1x1 struct: ``atlases`` a cell of atlas names, ``rois`` a cell
per atlas of ROI names, ``roiColumns`` a cell per atlas of cells of 1-based column vectors
into the sentence matrix; both cell orientations are accepted), ``keySentences`` (n, 1) cell
and ``labelsPassageForEachSentence`` (n, 1) 1-based passage numbers. Files are MATLAB v5
(read with :func:`scipy.io.loadmat`) or v7.3 (HDF5, read with h5py: arrays are stored
transposed, cells as object references, text as uint16 character codes).

This module reads one file into a :class:`PereiraExperiment`; :mod:`brainalign.brains.pereira`
turns experiments into a subject's response store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io

from brainalign.errors import DataError

MAT_LAYOUTS: dict[str, str] = {"data_": "examples_passagesentences", "examples_": "examples"}
"""File-name prefix -> name of its sentence matrix (the two distributions)."""

REQUIRED_VARIABLES = ("meta", "keySentences", "labelsPassageForEachSentence")
_LAYOUTS_TEXT = " or ".join(f"{prefix}{{experiment}}.mat with {var!r}" for prefix, var in MAT_LAYOUTS.items())


@dataclass(frozen=True, eq=False)
class PereiraExperiment:
    """One experiment file of one subject.

    Attributes
    ----------
    path : Path
    experiment : str
        The file name after its prefix, e.g. ``"384sentences"``.
    variable : str
        The sentence matrix read (``examples_passagesentences`` or ``examples``).
    n_voxels : int
        Columns of the sentence matrix.
    sentences : tuple of str, length n
    passages : tuple of int, length n
        1-based passage number of each sentence.
    atlases : dict of str to dict of str to ndarray
        Atlas -> ROI -> 0-based column indices (int64, range-checked).
    examples : ndarray of shape (n, n_voxels), or None
        The sentence matrix; None when read with ``matrix=False``.
    """

    path: Path
    experiment: str
    variable: str
    n_voxels: int
    sentences: tuple[str, ...]
    passages: tuple[int, ...]
    atlases: dict[str, dict[str, np.ndarray]] = field(repr=False)
    examples: np.ndarray | None = field(default=None, repr=False)

    def atlas_columns(self, atlas: str) -> np.ndarray:
        """Concatenated 0-based columns of all ROIs of ``atlas`` (KeyError if absent)."""
        return np.concatenate([np.zeros(0, dtype=np.int64), *self.atlases[atlas].values()])


def experiment_name(path: str | os.PathLike) -> str:
    """The experiment of a Pereira file: its stem after ``data_`` or ``examples_``."""
    stem = Path(path).stem
    for prefix in MAT_LAYOUTS:
        if stem.startswith(prefix):
            return stem.removeprefix(prefix)
    return stem


def experiment_candidates(subject_dir: str | os.PathLike, experiment: str) -> list[Path]:
    """The two file names an experiment may have, today's distribution first."""
    return [Path(subject_dir) / f"{prefix}{experiment}.mat" for prefix in MAT_LAYOUTS]


def find_experiment_file(subject_dir: str | os.PathLike, experiment: str, *, missing_ok: bool = False) -> Path:
    """The file of one experiment in ``{raw_dir}/{subject}/``, in either distribution.

    Parameters
    ----------
    subject_dir : path-like
    experiment : str
    missing_ok : bool
        When neither file exists, return today's name (``data_{experiment}.mat``) instead
        of raising, so a workflow can plan with it and report it missing.

    Raises
    ------
    DataError
        Both distributions' files exist (which one is meant is ambiguous), or neither does
        and ``missing_ok`` is False.
    """
    candidates = experiment_candidates(subject_dir, experiment)
    present = [path for path in candidates if path.is_file()]
    if len(present) > 1:
        raise DataError(
            f"Pereira experiment {experiment!r} has two files, {present[0]} and {present[1]} (the current and "
            "the older distribution of the same data); keep one of them."
        )
    if present:
        return present[0]
    if missing_ok:
        return candidates[0]
    raise DataError(
        f"Pereira experiment {experiment!r}: neither {candidates[0]} nor {candidates[1]} exists; download the "
        "subject's files into that folder, or fix datasets.pereira.raw_dir / experiments in the config."
    )


def read_experiment(path: str | os.PathLike, *, matrix: bool = True) -> PereiraExperiment:
    """Read and check one Pereira experiment file (either distribution, MATLAB v5 or v7.3).

    Parameters
    ----------
    path : path-like
    matrix : bool
        Load the sentence matrix. False reads only its shape, the metadata and the
        sentences (seconds, for pre-flight checks).

    Raises
    ------
    DataError
        Missing, truncated or corrupt file; no sentence matrix of either layout (the message
        lists the variables found); a missing variable or ``meta`` field; inconsistent
        counts; a column index out of range. Messages name the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Pereira file {path} not found; check the subject's file paths in the config.")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as exc:
        raise DataError(f"cannot open Pereira file {path} ({exc}).") from exc
    reader = _read_v73 if is_hdf5 else _read_v5
    variable, shape, contents = reader(path, matrix)
    return _parse(path, variable, shape, contents)


def _matrix_variable(path: Path, names: list[str]) -> str:
    """The sentence matrix present in a file: the layout its name suggests first."""
    preferred = [var for prefix, var in MAT_LAYOUTS.items() if path.stem.startswith(prefix)]
    for variable in [*preferred, *MAT_LAYOUTS.values()]:
        if variable in names:
            return variable
    raise DataError(
        f"Pereira file {path} has no sentence matrix (variables found: {sorted(names)}); the accepted layouts are "
        f"{_LAYOUTS_TEXT}. Is it an official Pereira file?"
    )


def _missing(path: Path, names: list[str]) -> None:
    for key in REQUIRED_VARIABLES:
        if key not in names:
            raise DataError(f"Pereira file {path} has no variable {key!r} (it has {sorted(names)}); is it official?")


def _read_v5(path: Path, matrix: bool) -> tuple[str, tuple[int, ...], dict[str, Any]]:
    """scipy.io.loadmat with every failure turned into a DataError naming the file."""
    try:
        # scipy raises a zoo of errors on damaged files (MatReadError, OSError, IndexError,
        # ValueError, ...); all mean "unreadable".
        listing = {name: tuple(shape) for name, shape, _ in scipy.io.whosmat(str(path))}
        try:
            variable = _matrix_variable(path, list(listing))
            _missing(path, list(listing))
        except DataError:
            scipy.io.loadmat(str(path))  # whosmat stops quietly at a truncation; loadmat raises
            raise
        wanted = [*REQUIRED_VARIABLES, *([variable] if matrix else [])]
        contents = scipy.io.loadmat(str(path), variable_names=wanted)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001
        detail = f"{type(exc).__name__}: {exc}"
        raise DataError(f"Pereira file {path} is truncated or corrupt ({detail}); download it again.") from exc
    if any(key not in contents for key in wanted):  # listed but unreadable: damaged
        raise DataError(f"Pereira file {path} is truncated or corrupt (variables unreadable); download it again.")
    return variable, listing[variable], contents


def _read_v73(path: Path, matrix: bool) -> tuple[str, tuple[int, ...], dict[str, Any]]:
    """A MATLAB v7.3 (HDF5) file through h5py, into loadmat-like values (shapes un-transposed)."""
    try:
        with h5py.File(path, "r") as h5:
            names = [name for name in h5 if not name.startswith("#")]
            variable = _matrix_variable(path, names)
            _missing(path, names)
            contents = {key: _h5_value(h5, h5[key]) for key in REQUIRED_VARIABLES}
            if matrix:
                contents[variable] = _h5_value(h5, h5[variable])
            shape = tuple(reversed(h5[variable].shape))
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError, ValueError, ... on damage
        detail = f"{type(exc).__name__}: {exc}"
        raise DataError(
            f"Pereira file {path} is a MATLAB v7.3 (HDF5) file that could not be read ({detail}); download it "
            "again, or re-save it in MATLAB with save(..., '-v7')."
        ) from exc
    return variable, shape, contents


def _h5_value(h5: h5py.File, node: Any) -> Any:
    """One MATLAB v7.3 value: struct -> dict, cell -> object array, char -> str, else array."""
    cls = node.attrs.get("MATLAB_class", b"")
    cls = cls.decode() if isinstance(cls, bytes) else str(cls)
    if isinstance(node, h5py.Group):
        return {name: _h5_value(h5, node[name]) for name in node}
    if node.attrs.get("MATLAB_empty", 0):
        return "" if cls == "char" else np.zeros((0, 0))
    data = node[()]
    if cls == "cell":
        refs = np.asarray(data).T  # MATLAB's column-major storage: h5py sees the transpose
        out = np.empty(refs.shape, dtype=object)
        for index in np.ndindex(refs.shape):
            out[index] = _h5_value(h5, h5[refs[index]])
        return out
    if cls == "char":
        return "".join(chr(code) for code in np.asarray(data).T.ravel())
    return np.asarray(data).T


def _parse(path: Path, variable: str, shape: tuple[int, ...], contents: dict[str, Any]) -> PereiraExperiment:
    examples = None
    if variable in contents:
        examples = np.asarray(contents[variable])
        shape = examples.shape
        if not np.issubdtype(examples.dtype, np.number):
            shape = ()
    if len(shape) != 2:
        raise DataError(f"Pereira file {path}: {variable!r} is not a numeric sentences x voxels matrix.")
    sentences = [_string(c, path, "keySentences").strip() for c in _cells(contents["keySentences"], path, "keySentences")]
    passages = _integers(contents["labelsPassageForEachSentence"], path, "labelsPassageForEachSentence")
    if not shape[0] == len(sentences) == len(passages):
        raise DataError(
            f"Pereira file {path}: {variable} has {shape[0]} rows, keySentences {len(sentences)} entries and "
            f"labelsPassageForEachSentence {len(passages)}; all must count the same sentences."
        )
    if passages and min(passages) < 1:
        raise DataError(f"Pereira file {path}: labelsPassageForEachSentence must be 1-based passage numbers.")
    return PereiraExperiment(
        path=path, experiment=experiment_name(path), variable=variable, n_voxels=int(shape[1]),
        sentences=tuple(sentences), passages=tuple(passages),
        atlases=_atlas_rois(path, contents["meta"], int(shape[1])), examples=examples,
    )


def _atlas_rois(path: Path, meta: Any, n_voxels: int) -> dict[str, dict[str, np.ndarray]]:
    """Map atlas name -> ROI name -> 0-based columns, range-checked."""
    if isinstance(meta, dict):  # v7.3: a struct is an HDF5 group
        fields: tuple[str, ...] = tuple(meta)
        get = meta.__getitem__
    elif isinstance(meta, np.ndarray) and meta.dtype.names is not None and meta.size == 1:
        fields = meta.dtype.names
        get = lambda name: meta[name].ravel()[0]  # noqa: E731
    else:
        raise DataError(f"Pereira file {path}: 'meta' is not a 1x1 MATLAB struct; expected an official file.")

    def field_(name: str) -> Any:
        if name not in fields:
            raise DataError(f"Pereira file {path}: meta has no field {name!r} (fields: {list(fields)}).")
        return get(name)

    atlases = [_string(c, path, "meta.atlases") for c in _cells(field_("atlases"), path, "meta.atlases")]
    per_atlas = _cells(field_("roiColumns"), path, "meta.roiColumns")
    roi_names = _cells(field_("rois"), path, "meta.rois") if "rois" in fields else None
    if len(per_atlas) != len(atlases) or (roi_names is not None and len(roi_names) != len(atlases)):
        counts = f"{len(atlases)} atlases, {len(per_atlas)} roiColumns, {len(roi_names or atlases)} rois"
        raise DataError(f"Pereira file {path}: meta has {counts}; they must match one to one.")
    result: dict[str, dict[str, np.ndarray]] = {}
    for a, (atlas, cell) in enumerate(zip(atlases, per_atlas, strict=True)):
        vectors = _cells(cell, path, f"meta.roiColumns{{{atlas}}}")
        names = [f"#{r + 1}" for r in range(len(vectors))]
        if roi_names is not None:
            names = [_string(c, path, "meta.rois") for c in _cells(roi_names[a], path, f"meta.rois{{{atlas}}}")]
        if len(names) != len(vectors):
            raise DataError(f"Pereira file {path}: atlas {atlas!r} has {len(names)} rois, {len(vectors)} roiColumns.")
        rois: dict[str, np.ndarray] = {}
        for name, vector in zip(names, vectors, strict=True):
            cols = np.asarray(vector, dtype=np.float64).ravel()
            bad = cols[~np.isfinite(cols) | (cols != np.round(cols)) | (cols < 1) | (cols > n_voxels)]
            if bad.size:
                raise DataError(
                    f"Pereira file {path}: ROI {name!r} of atlas {atlas!r} has column index {bad[0]:g} outside "
                    f"1..{n_voxels} (the sentence matrix has {n_voxels} columns); the file's meta does not "
                    "match its sentence matrix: download it again."
                )
            rois[name] = np.concatenate([rois.get(name, np.zeros(0, dtype=np.int64)), cols.astype(np.int64) - 1])
        result[atlas] = rois
    return result


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
