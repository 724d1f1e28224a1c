"""Pereira et al. (2018) sentence fMRI: one subject's files -> :class:`SubjectResponses`.

Two layouts of the data are read:

1. The official per-subject ``.mat`` files, one per experiment, in either distribution
   (``data_{experiment}.mat`` or ``examples_{experiment}.mat``; file reading in
   :mod:`brainalign.brains.pereira_mat`): :func:`load_pereira_mat`. A *network* (an output
   ROI) is the sorted union of the columns of all ROIs of a list of atlases (``networks``
   config). Experiments of one subject share the subject's voxel columns (Pereira et al.
   train on one experiment and test on another), so they are concatenated row-wise.

2. The reference paper's 627-sentence layout (``stimuli.txt`` + pickled ``subjN.npy``,
   :mod:`brainalign.brains.pereira_627`): :func:`load_pereira_627`.

Both loaders return the same ROI names (``language``, ``task``, ``dmn``, ``visual``) after
:func:`~brainalign.brains.store.clean_voxels`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from brainalign.brains.pereira_627 import NPY627_ROIS, PEREIRA_627_SESSIONS, load_pereira_627, sessions_627
from brainalign.brains.pereira_mat import (
    PereiraExperiment,
    experiment_name,
    find_experiment_file,
    read_experiment,
)
from brainalign.brains.store import SubjectResponses, clean_voxels, record_voxel_counts
from brainalign.errors import ConfigError, DataError
from brainalign.io import sha256_file

__all__ = [
    "DEFAULT_NETWORKS", "NPY627_ROIS", "PEREIRA_627_SESSIONS", "check_networks", "check_same_voxels", "find_experiment_file",
    "load_pereira_627", "load_pereira_mat", "network_columns", "sessions_627", "subject_mat_files",
]

logger = logging.getLogger(__name__)

DEFAULT_NETWORKS: dict[str, list[str]] = {
    "language": ["languageLH", "languageRH"], "task": ["MD"], "dmn": ["DMN"], "visual": ["visual"],
}
"""Output ROI name -> atlases of ``meta.atlases`` whose ROIs are unioned."""


def subject_mat_files(
    raw_dir: str | os.PathLike, subject: str, experiments: Sequence[str], *, missing_ok: bool = False
) -> list[Path]:
    """A subject's experiment files, ``{raw_dir}/{subject}/{data_|examples_}{experiment}.mat``.

    See :func:`~brainalign.brains.pereira_mat.find_experiment_file` (both distributions'
    files for one experiment is an error; ``missing_ok`` returns today's name for a missing one).
    """
    folder = Path(raw_dir) / subject
    return [find_experiment_file(folder, experiment, missing_ok=missing_ok) for experiment in experiments]


def load_pereira_mat(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    subject: str,
    networks: Mapping[str, Sequence[str]] | None = None,
    simulated: bool = False,
    dataset: str = "pereira",
) -> SubjectResponses:
    """Load one subject's official Pereira ``.mat`` files (either distribution).

    Parameters
    ----------
    paths : path-like or sequence of path-like
        One or more experiment files of the same subject (``data_{experiment}.mat`` or
        ``examples_{experiment}.mat``), concatenated in the given order.
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
        its ``data_`` / ``examples_`` prefix, i 1-based), groups ``"{experiment}_p{passage:03d}"``,
        sessions = the experiment, texts from ``keySentences``, one (n, n_voxels) float32
        matrix per network after cleaning. The same content gives the same result in both
        distributions.

    Raises
    ------
    ConfigError
        ``paths`` empty, or ``networks`` malformed.
    DataError
        Two files for one experiment; missing, truncated or corrupt file; no sentence matrix
        of either layout; missing variables; inconsistent counts; unknown atlas; column index
        out of range; differing voxel sets across experiments; a network with no usable
        voxels. Messages name the file.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    networks = check_networks(DEFAULT_NETWORKS if networks is None else networks)
    if not paths:
        raise ConfigError(f"subject {subject}: no Pereira files given; list at least one experiment.")
    seen: dict[str, Path] = {}
    for path in paths:
        other = seen.setdefault(experiment_name(path), path)
        if other != path or paths.count(path) > 1:
            raise DataError(
                f"subject {subject}: experiment {experiment_name(path)!r} is given twice ({other} and {path}); "
                "keep one file per experiment (data_*.mat and examples_*.mat are two distributions of the same data)."
            )

    ids: list[str] = []
    texts: list[str] = []
    groups: list[str] = []
    sessions: list[str] = []
    blocks: dict[str, list[np.ndarray]] = {roi: [] for roi in networks}
    reference: tuple[Path, int, dict[str, np.ndarray]] | None = None
    provenance: dict[str, str] = {"loader": "brainalign.brains.pereira.load_pereira_mat"}
    for path in paths:
        experiment = read_experiment(path)
        assert experiment.examples is not None
        columns = network_columns(experiment, networks)
        if reference is None:
            reference = (path, experiment.n_voxels, columns)
        else:
            check_same_voxels(reference, path, experiment.n_voxels, columns)
        name = experiment.experiment
        for i, (sentence, passage) in enumerate(zip(experiment.sentences, experiment.passages, strict=True), start=1):
            ids.append(f"{name}_{i:03d}")
            texts.append(sentence)
            groups.append(f"{name}_p{passage:03d}")
            sessions.append(name)
        for roi, cols in columns.items():
            blocks[roi].append(experiment.examples[:, cols])
        provenance[f"source:{path.name}"] = sha256_file(path)
        provenance[f"matrix:{path.name}"] = experiment.variable
        logger.info(
            "read %s (%s): %d sentences x %d voxels", path, experiment.variable, len(experiment.sentences),
            experiment.n_voxels,
        )

    source = ", ".join(str(p) for p in paths)
    rois: dict[str, np.ndarray] = {}
    for roi, parts in blocks.items():
        rois[roi], counts = clean_voxels(np.vstack(parts), roi, source)
        provenance[f"network:{roi}"] = "+".join(networks[roi])
        record_voxel_counts(provenance, roi, counts)
    return SubjectResponses(
        dataset=dataset, subject=subject, stimulus_ids=tuple(ids), stimulus_texts=tuple(texts),
        groups=tuple(groups), rois=rois, simulated=simulated, provenance=provenance, sessions=tuple(sessions),
    )


def check_networks(networks: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Validate the ``networks`` config (ROI -> non-empty list of atlas names)."""
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


def network_columns(experiment: PereiraExperiment, networks: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """Output ROI -> sorted unique 0-based columns of the union of its atlases' ROIs.

    Raises
    ------
    DataError
        An atlas is not in the file, or a network's atlases list no columns.
    """
    columns: dict[str, np.ndarray] = {}
    for roi, atlases in networks.items():
        missing = [a for a in atlases if a not in experiment.atlases]
        if missing:
            raise DataError(
                f"Pereira file {experiment.path} has no atlas {missing} (needed for ROI {roi!r} in config key "
                f"'networks'); atlases present: {list(experiment.atlases)}."
            )
        union = np.unique(np.concatenate([experiment.atlas_columns(a) for a in atlases]))
        if union.size == 0:
            raise DataError(f"Pereira file {experiment.path}: atlases {atlases} of ROI {roi!r} list no voxel columns.")
        columns[roi] = union
    return columns


def check_same_voxels(
    reference: tuple[Path, int, dict[str, np.ndarray]], path: Path, n_voxels: int, columns: dict[str, np.ndarray]
) -> None:
    """Experiments of one subject must share its voxel columns (``reference``: path, voxels, columns)."""
    ref_path, ref_voxels, ref_columns = reference
    fix = "only files of the same subject can be concatenated"
    if n_voxels != ref_voxels:
        raise DataError(f"Pereira files {ref_path} ({ref_voxels} voxel columns) and {path} ({n_voxels}) differ; {fix}.")
    for roi, cols in columns.items():
        if not np.array_equal(cols, ref_columns[roi]):
            raise DataError(f"Pereira files {ref_path} and {path} give ROI {roi!r} different voxel columns; {fix}.")
