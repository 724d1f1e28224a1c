"""The per-subject response store: ``results/brains/{dataset}/{subject}.h5``.

Every loader (Pereira ``.mat``, the 627-sentence ``.npy`` layout, BOLD5000) turns its raw
files into one :class:`SubjectResponses`, and the rest of the workflow only ever reads this
store. HDF5 layout (format version 2)::

    /                      attrs: format_version, dataset, subject, simulated
    /stimulus_ids          (n,) utf-8 strings, presentation order
    /stimulus_texts        (n,) utf-8 strings
    /groups                (n,) utf-8 strings (passage / image label for grouped CV folds)
    /sessions              (n,) utf-8 strings (acquisition block, e.g. Pereira's experiment)
    /rois/<name>           (n, n_voxels) float32, NaN-free; insertion order tracked
    /provenance/keys       (m,) utf-8 strings
    /provenance/values     (m,) utf-8 strings
    /repeats/stimulus_index  (P,) int32, optional: the stimulus (row) of each individual presentation
    /repeats/rois/<name>     (P, n_voxels) float32: that presentation's response (same voxels as /rois)

``/repeats`` (BOLD5000: the individual presentations of repeated images, for the split-half
noise ceiling of :mod:`brainalign.ceilings`) is optional, so format-2 stores written before it
existed still read (with ``repeats = None``).

Also here: :func:`clean_voxels`, which every loader uses to drop unusable voxels.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from brainalign.brains.stimuli import duplicate_values
from brainalign.errors import DataError
from brainalign.io import atomic_output

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2 added /sessions
#: The session label of every stimulus when a dataset has one acquisition block (sessions=None).
SINGLE_SESSION = "single"
_STR = h5py.string_dtype("utf-8")


@dataclass(frozen=True, eq=False)
class RepeatedPresentations:
    """The individual presentations of stimuli shown more than once (kept for noise ceilings).

    Attributes
    ----------
    stimulus_index : ndarray of int, shape (P,)
        Row of :attr:`SubjectResponses.stimulus_ids` each presentation showed, presentations
        in acquisition order; every indexed stimulus appears at least twice.
    rois : dict of str to ndarray
        ROI name -> (P, n_voxels) float32 responses, the same ROIs and voxels (columns) as
        :attr:`SubjectResponses.rois`, whose row of a repeated stimulus is the mean of these.
    """

    stimulus_index: np.ndarray
    rois: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        object.__setattr__(self, "stimulus_index", np.asarray(self.stimulus_index, dtype=np.int64).ravel())
        try:
            rois = {str(k): np.ascontiguousarray(v, dtype=np.float32) for k, v in dict(self.rois).items()}
        except (TypeError, ValueError) as exc:
            raise DataError(f"repeated presentations: ROI matrices must be numeric arrays ({exc}).") from exc
        object.__setattr__(self, "rois", rois)

    @property
    def n_presentations(self) -> int:
        """Number of presentations P."""
        return int(self.stimulus_index.size)


@dataclass(frozen=True, eq=False)
class SubjectResponses:
    """Responses of one subject to n stimuli, per ROI.

    Attributes
    ----------
    dataset : str
        Dataset name, e.g. ``"pereira"``.
    subject : str
        Subject id, e.g. ``"P01"``.
    stimulus_ids : tuple of str, length n
        Unique stimulus ids in presentation order.
    stimulus_texts : tuple of str, length n
        The sentence (or image file name) of each stimulus.
    groups : tuple of str, length n
        Passage / image-category label; cross-validation folds never split a group.
    rois : dict of str to ndarray
        ROI name -> (n, n_voxels) float32 matrix, finite, at least one voxel.
    simulated : bool
        True when the responses come from the simulator (must be labelled downstream).
    provenance : dict of str to str
        Free-form record of sources, e.g. ``{"source:<file>": sha256, "loader": ...}``.
    sessions : tuple of str, length n, optional
        The acquisition block of each stimulus (Pereira: the experiment, scanned in its own
        sessions). Blocks can differ by an offset that carries no stimulus information.
        ``None`` means one block: every entry becomes :data:`SINGLE_SESSION`.
    repeats : RepeatedPresentations, optional
        The individual presentations of the stimuli shown more than once (BOLD5000's ``rep_``
        trials); ``rois`` keeps their mean, which stays the analysis input.

    Raises
    ------
    DataError
        On construction, when the fields are inconsistent (see :meth:`validate`).

    Notes
    -----
    ``eq=False`` because ndarray fields make field-wise ``==`` ambiguous. ROI matrices are
    converted to C-contiguous float32 on construction.
    """

    dataset: str
    subject: str
    stimulus_ids: tuple[str, ...]
    stimulus_texts: tuple[str, ...]
    groups: tuple[str, ...]
    rois: dict[str, np.ndarray]
    simulated: bool
    provenance: dict[str, str]
    sessions: tuple[str, ...] | None = None
    repeats: RepeatedPresentations | None = None

    def __post_init__(self) -> None:
        if self.sessions is None:
            object.__setattr__(self, "sessions", (SINGLE_SESSION,) * len(tuple(self.stimulus_ids)))
        for name in ("stimulus_ids", "stimulus_texts", "groups", "sessions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        try:
            rois = {str(k): np.ascontiguousarray(v, dtype=np.float32) for k, v in dict(self.rois).items()}
        except (TypeError, ValueError) as exc:
            raise DataError(f"subject {self.subject}: ROI matrices must be numeric arrays ({exc}).") from exc
        object.__setattr__(self, "rois", rois)
        object.__setattr__(self, "provenance", dict(self.provenance))
        object.__setattr__(self, "simulated", bool(self.simulated))
        self.validate()

    def __repr__(self) -> str:
        shapes = {roi: matrix.shape for roi, matrix in self.rois.items()}
        return (
            f"SubjectResponses(dataset={self.dataset!r}, subject={self.subject!r}, n_stimuli={self.n_stimuli}, "
            f"rois={shapes}, simulated={self.simulated})"
        )

    @property
    def n_sessions(self) -> int:
        """Number of distinct acquisition blocks."""
        return len(set(self.sessions))

    @property
    def n_stimuli(self) -> int:
        """Number of stimuli n."""
        return len(self.stimulus_ids)

    def validate(self) -> None:
        """Check the invariants; raise :class:`DataError` naming the offending field."""
        for name in ("dataset", "subject"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"SubjectResponses.{name} must be a non-empty string, got {value!r}.")
        for name in ("stimulus_ids", "stimulus_texts", "groups", "sessions"):
            bad = [v for v in getattr(self, name) if not isinstance(v, str)]
            if bad:
                raise DataError(f"SubjectResponses.{name} must hold strings only, found {bad[:3]!r}.")
        n = len(self.stimulus_ids)
        if n == 0:
            raise DataError(f"subject {self.subject}: no stimuli; a store needs at least one stimulus.")
        if len(self.stimulus_texts) != n or len(self.groups) != n or len(self.sessions) != n:
            raise DataError(
                f"subject {self.subject}: stimulus_ids ({n}), stimulus_texts ({len(self.stimulus_texts)}), "
                f"groups ({len(self.groups)}) and sessions ({len(self.sessions)}) must have one entry per stimulus."
            )
        duplicates = duplicate_values(self.stimulus_ids)
        if duplicates:
            shown = duplicates[:10]
            raise DataError(
                f"subject {self.subject}: duplicate stimulus ids {shown}"
                f"{' ...' if len(duplicates) > 10 else ''}; every stimulus id must be unique."
            )
        if not self.rois:
            raise DataError(f"subject {self.subject}: no ROIs; a store needs at least one ROI matrix.")
        for roi, matrix in self.rois.items():
            if not roi or "/" in roi:
                raise DataError(f"subject {self.subject}: ROI name {roi!r} must be non-empty and contain no '/'.")
            if matrix.ndim != 2 or matrix.shape[0] != n:
                raise DataError(
                    f"subject {self.subject}: ROI {roi!r} has shape {matrix.shape}, expected ({n}, n_voxels) "
                    "with one row per stimulus."
                )
            if matrix.shape[1] < 1:
                raise DataError(f"subject {self.subject}: ROI {roi!r} has no voxels.")
            if not np.isfinite(matrix).all():
                raise DataError(
                    f"subject {self.subject}: ROI {roi!r} contains NaN or infinite values; "
                    "pass it through clean_voxels first."
                )
        bad_prov = {k: v for k, v in self.provenance.items() if not isinstance(k, str) or not isinstance(v, str)}
        if bad_prov:
            raise DataError(f"subject {self.subject}: provenance keys and values must be strings, got {bad_prov!r}.")
        if self.repeats is not None:
            self._validate_repeats(self.repeats)

    def _validate_repeats(self, repeats: RepeatedPresentations) -> None:
        where = f"subject {self.subject}: repeated presentations"
        index = repeats.stimulus_index
        if index.size and (index.min() < 0 or index.max() >= self.n_stimuli):
            raise DataError(f"{where} index stimuli outside 0..{self.n_stimuli - 1}.")
        if (np.bincount(index, minlength=self.n_stimuli)[np.unique(index)] < 2).any():
            raise DataError(f"{where}: every stimulus listed must have at least 2 presentations.")
        if list(repeats.rois) != list(self.rois):
            raise DataError(f"{where} have ROIs {list(repeats.rois)}, the responses {list(self.rois)}.")
        for roi, matrix in repeats.rois.items():
            if matrix.shape != (index.size, self.rois[roi].shape[1]):
                raise DataError(
                    f"{where}: ROI {roi!r} has shape {matrix.shape}, expected ({index.size}, "
                    f"{self.rois[roi].shape[1]}) (one row per presentation, the ROI's voxels)."
                )
            if not np.isfinite(matrix).all():
                raise DataError(f"{where}: ROI {roi!r} contains NaN or infinite values.")


def record_voxel_counts(provenance: dict[str, str], roi: str, counts: dict[str, int]) -> None:
    """Record :func:`clean_voxels`' dropped-voxel counts of ``roi`` in a provenance dict."""
    provenance[f"dropped_voxels:{roi}"] = str(counts["nan"] + counts["constant"])
    provenance[f"dropped_nan_voxels:{roi}"] = str(counts["nan"])
    provenance[f"dropped_constant_voxels:{roi}"] = str(counts["constant"])


def clean_voxels(matrix: np.ndarray, roi: str, source: str | os.PathLike) -> tuple[np.ndarray, dict[str, int]]:
    """Drop voxels (columns) that carry no usable signal.

    A voxel is dropped when any of its values is NaN or infinite (also after the cast to
    float32) or when it is exactly constant across stimuli (zero variance: it cannot be
    standardised and carries no stimulus information).

    Parameters
    ----------
    matrix : array_like, shape (n_stimuli, n_voxels)
        Raw responses of one ROI.
    roi : str
        ROI name, for messages.
    source : str or path-like
        The file(s) the matrix came from, for messages.

    Returns
    -------
    cleaned : ndarray, shape (n_stimuli, n_kept), float32
    counts : dict
        ``{"total", "nan", "constant", "kept"}`` voxel counts; ``nan`` counts non-finite voxels.

    Raises
    ------
    DataError
        When the matrix is not 2-D or no voxel survives.
    """
    raw = np.asarray(matrix)
    if raw.ndim != 2:
        raise DataError(f"ROI {roi!r} in {source} is {raw.ndim}-D with shape {raw.shape}; expected stimuli x voxels.")
    if not np.issubdtype(raw.dtype, np.number) or np.issubdtype(raw.dtype, np.complexfloating):
        raise DataError(f"ROI {roi!r} in {source} has non-numeric dtype {raw.dtype}; expected real numbers.")
    if raw.shape[0] == 0:
        raise DataError(f"ROI {roi!r} in {source} has no rows (stimuli); check the file.")
    # Cast first: a float64 value beyond float32 range becomes inf and must be dropped too.
    with np.errstate(over="ignore", invalid="ignore"):
        values = raw.astype(np.float32)
    nonfinite = ~np.isfinite(values).all(axis=0)
    constant = np.zeros_like(nonfinite)
    if (~nonfinite).any():
        constant[~nonfinite] = np.ptp(values[:, ~nonfinite], axis=0) == 0
    keep = ~(nonfinite | constant)
    counts = {
        "total": int(raw.shape[1]),
        "nan": int(nonfinite.sum()),
        "constant": int(constant.sum()),
        "kept": int(keep.sum()),
    }
    if counts["kept"] == 0:
        raise DataError(
            f"ROI {roi!r} in {source} has no usable voxels (all NaN or constant: {counts['nan']} NaN, "
            f"{counts['constant']} constant of {counts['total']}); check the file or the ROI's column indices."
        )
    message = "roi %s: dropped %d NaN and %d constant voxels of %d (file %s)"
    level = logging.WARNING if counts["kept"] < counts["total"] else logging.INFO
    logger.log(level, message, roi, counts["nan"], counts["constant"], counts["total"], source)
    return np.ascontiguousarray(values[:, keep]), counts


def write_subject_store(path: str | os.PathLike, responses: SubjectResponses) -> None:
    """Write ``responses`` to an HDF5 store atomically (no partial file on failure).

    Parameters
    ----------
    path : path-like
        Destination ``.h5`` file; its folder is created when missing.
    responses : SubjectResponses
        Validated again before anything is written.
    """
    responses.validate()
    path = Path(path)
    with atomic_output(path) as tmp:
        # track_times=False keeps identical inputs byte-stable (no embedded modification times).
        with h5py.File(tmp, "w", track_order=True) as h5:
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.attrs["dataset"] = responses.dataset
            h5.attrs["subject"] = responses.subject
            h5.attrs["simulated"] = responses.simulated
            for name in ("stimulus_ids", "stimulus_texts", "groups", "sessions"):
                h5.create_dataset(name, data=list(getattr(responses, name)), dtype=_STR, track_times=False)
            rois = h5.create_group("rois", track_order=True)
            for roi, matrix in responses.rois.items():
                rois.create_dataset(roi, data=matrix, dtype=np.float32, track_times=False)
            prov = h5.create_group("provenance")
            prov.create_dataset("keys", data=list(responses.provenance.keys()), dtype=_STR, track_times=False)
            prov.create_dataset("values", data=list(responses.provenance.values()), dtype=_STR, track_times=False)
            if responses.repeats is not None:
                repeats = h5.create_group("repeats")
                repeats.create_dataset(
                    "stimulus_index", data=responses.repeats.stimulus_index, dtype=np.int32, track_times=False
                )
                repeat_rois = repeats.create_group("rois", track_order=True)
                for roi, matrix in responses.repeats.rois.items():
                    repeat_rois.create_dataset(roi, data=matrix, dtype=np.float32, track_times=False)
    logger.info(
        "wrote %s: %d stimuli, ROIs %s", path, responses.n_stimuli,
        {roi: m.shape[1] for roi, m in responses.rois.items()},
    )


def read_subject_store(path: str | os.PathLike, *, subject: str | None = None) -> SubjectResponses:
    """Read a store written by :func:`write_subject_store`.

    Parameters
    ----------
    path : path-like
        The ``.h5`` file.
    subject : str, optional
        The subject the caller expects; a store of another subject (a copied or renamed
        file) is an error.

    Returns
    -------
    SubjectResponses

    Raises
    ------
    DataError
        File missing, not HDF5, truncated/corrupt, a dataset or attribute missing, an unknown
        format version, contents that fail validation, or another subject than ``subject``.
        The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"response store {path} not found; run the brains stage to create it.")
    fix = "delete it and rerun the brains stage to rebuild it"
    try:
        with h5py.File(path, "r") as h5:
            version = int(h5.attrs["format_version"])
            if version != FORMAT_VERSION:
                raise DataError(
                    f"response store {path} has format version {version}, this code reads {FORMAT_VERSION}; {fix}."
                )
            dataset = str(h5.attrs["dataset"])
            stored_subject = str(h5.attrs["subject"])
            if subject is not None and stored_subject != subject:
                raise DataError(f"response store {path} holds subject {stored_subject!r}, not {subject!r}; {fix}.")
            simulated = bool(h5.attrs["simulated"])
            strings = {
                name: tuple(h5[name].asstr()[()]) for name in ("stimulus_ids", "stimulus_texts", "groups", "sessions")
            }
            rois = {roi: np.asarray(h5["rois"][roi][()], dtype=np.float32) for roi in h5["rois"]}
            keys = h5["provenance/keys"].asstr()[()]
            values = h5["provenance/values"].asstr()[()]
            repeats = None
            if "repeats" in h5:
                repeats = RepeatedPresentations(
                    stimulus_index=h5["repeats/stimulus_index"][()],
                    rois={roi: h5["repeats/rois"][roi][()] for roi in h5["repeats/rois"]},
                )
    except DataError:
        raise
    except KeyError as exc:
        raise DataError(f"response store {path} lacks an expected dataset or attribute ({exc}); {fix}.") from exc
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise DataError(f"response store {path} is corrupt or truncated ({exc}); {fix}.") from exc
    if len(keys) != len(values):
        raise DataError(f"response store {path} has {len(keys)} provenance keys but {len(values)} values; {fix}.")
    try:
        return SubjectResponses(
            dataset=dataset,
            subject=stored_subject,
            stimulus_ids=strings["stimulus_ids"],
            stimulus_texts=strings["stimulus_texts"],
            groups=strings["groups"],
            sessions=strings["sessions"],
            rois=rois,
            repeats=repeats,
            simulated=simulated,
            provenance=dict(zip(keys, values, strict=True)),
        )
    except DataError as exc:
        raise DataError(f"response store {path} is invalid: {exc} ({fix})") from exc
