"""Loader for the BOLD5000 ROI release (Chang et al. 2019) and its stimulus images.

Raw layout (as in ``BOLD5000_ROIs.zip``; the simulator writes the same)::

    {raw_dir}/{subject}/mat/{subject}_ROIs_TR{k}.mat    k in 1, 2, 3, 4, 5, 34
    {raw_dir}/stim_lists/CSI0{N}_stim_lists.txt        (CSI{N}_stim_lists.txt also accepted)
    {image_dir}/{name} or {image_dir}/{COCO,ImageNet,Scene}/{name}   (Presented_Stimuli layout)

Each ``.mat`` file holds ``{LH,RH}{EarlyVis,LOC,OPA,PPA,RSC}``, one (trials x voxels) matrix
per hemisphere and ROI, trials in acquisition order; ``TR34`` is the average of TR3 and TR4.
The published files are MATLAB v5 files (every public reader uses ``scipy.io.loadmat``); a
MATLAB v7.3 (HDF5) file is read too, with h5py, its matrices transposed back to trials x voxels.
The stimulus list has one image file name per trial; repeated presentations carry a ``rep_``
prefix (``rep_COCO_train2014_...jpg``), which is stripped to find the image.

Store contract (:func:`load_bold5000` -> :class:`~brainalign.brains.store.SubjectResponses`,
written to ``results/brains/bold5000/{subject}.h5`` like Pereira):

- one stimulus per distinct image, in order of first presentation; the response to an image
  is the mean over its presentations (repeats averaged) and over the configured TRs;
- ``repeats`` keeps the individual presentations of the repeated images (TR-averaged, the same
  voxels), in acquisition order, for the split-half noise ceiling
  (:mod:`brainalign.ceilings`); the averaged matrix stays the analysis input. A voxel is kept
  when it is finite and non-constant over the averaged rows and the presentations together;
- ``stimulus_ids`` and ``stimulus_texts`` are the image file names (without ``rep_``);
- ``groups`` (the cross-validation grouping label) is the image itself by default
  (``cv_groups: image``): after averaging, every image is one stimulus, so no image straddles
  training and test folds. ``cv_groups: source`` groups by the image's source instead
  (:func:`image_source`: COCO / ImageNet / Scene; three groups, so it needs ``n_folds <= 3``
  and asks a different, cross-source question);
- ROIs ``EarlyVis``, ``LOC``, ``OPA``, ``PPA``, ``RSC`` with both hemispheres' voxels
  side by side (``hemispheres: combined``), or ``LHLOC``, ``RHLOC``, ... (``separate``).

:func:`read_stimulus_images` returns the images of a stimulus table for feature extraction.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from brainalign.brains.store import RepeatedPresentations, SubjectResponses, clean_voxels
from brainalign.errors import ConfigError, DataError
from brainalign.io import sha256_file

logger = logging.getLogger(__name__)

ROIS: tuple[str, ...] = ("EarlyVis", "LOC", "OPA", "PPA", "RSC")
HEMISPHERES: tuple[str, ...] = ("LH", "RH")
TRS: tuple[str, ...] = ("1", "2", "3", "4", "5", "34")
SOURCES: tuple[str, ...] = ("COCO", "ImageNet", "Scene")
REPEAT_PREFIX = "rep_"
CV_GROUPS: tuple[str, ...] = ("image", "source")
_IMAGENET = re.compile(r"^n\d{8}_\d+\.[A-Za-z]+$")
_SUBJECT = re.compile(r"^CSI(\d+)$")


def image_source(name: str) -> str:
    """The BOLD5000 source of an image, from its file name.

    ``COCO_train2014_000000012345.jpg`` -> ``COCO``; ``n01440764_10110.JPEG`` (a WordNet
    synset id) -> ``ImageNet``; anything else (``airplanecabin1.jpg``) -> ``Scene``.
    """
    name = Path(name).name.removeprefix(REPEAT_PREFIX)
    if name.startswith("COCO_"):
        return "COCO"
    if _IMAGENET.match(name):
        return "ImageNet"
    return "Scene"


def subject_number(subject: str) -> int:
    """``"CSI3"`` -> 3; raises ConfigError for names not of the form CSI<N>."""
    match = _SUBJECT.match(subject)
    if not match:
        raise ConfigError(f"BOLD5000 subject {subject!r} must be named CSI<N> (e.g. CSI1), as in the release.")
    return int(match.group(1))


def roi_mat_path(raw_dir: str | os.PathLike, subject: str, tr: str | int) -> Path:
    """``{raw_dir}/{subject}/mat/{subject}_ROIs_TR{tr}.mat``."""
    tr = str(tr)
    if tr not in TRS:
        raise ConfigError(f"BOLD5000 TR {tr!r} is not one of {list(TRS)}.")
    return Path(raw_dir) / subject / "mat" / f"{subject}_ROIs_TR{tr}.mat"


def stim_list_path(raw_dir: str | os.PathLike, subject: str) -> Path:
    """The stimulus list of ``subject``: ``stim_lists/CSI0{N}_stim_lists.txt`` unless only
    ``CSI{N}_stim_lists.txt`` exists."""
    number = subject_number(subject)
    folder = Path(raw_dir) / "stim_lists"
    padded = folder / f"CSI{number:02d}_stim_lists.txt"
    plain = folder / f"CSI{number}_stim_lists.txt"
    return plain if plain.is_file() and not padded.is_file() else padded


def read_stim_list(path: str | os.PathLike) -> list[str]:
    """Trial names of a stimulus list, in acquisition order (``rep_`` prefixes kept).

    Raises
    ------
    DataError
        Missing or unreadable file, no trials, or a blank line between trials.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read BOLD5000 stimulus list {path} ({exc}); check raw_dir.") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    names = [line.strip() for line in lines]
    if not names:
        raise DataError(f"BOLD5000 stimulus list {path} has no trials.")
    blank = [i for i, name in enumerate(names, start=1) if not name]
    if blank:
        raise DataError(f"BOLD5000 stimulus list {path} has blank lines {blank[:5]}; one image name per trial.")
    return names


def read_roi_mat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All matrices of a ROI ``.mat`` file (v5 via scipy, v7.3/HDF5 via h5py), trials x voxels.

    Raises
    ------
    DataError
        Missing, truncated or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"BOLD5000 ROI file {path} not found; check raw_dir and trs in the config.")
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as h5:
                return {k: np.asarray(v[()]).T for k, v in h5.items() if isinstance(v, h5py.Dataset)}
        contents = scipy.io.loadmat(path)
    except (OSError, ValueError, TypeError, NotImplementedError) as exc:
        raise DataError(f"cannot read BOLD5000 ROI file {path} ({exc}); it is truncated or corrupt.") from exc
    return {k: v for k, v in contents.items() if not k.startswith("__")}


def _check_choices(rois: Sequence[str], hemispheres: str, cv_groups: str) -> None:
    unknown = [roi for roi in rois if roi not in ROIS]
    if unknown or not rois:
        raise ConfigError(f"config key datasets.bold5000.rois: unknown ROI names {unknown}; choose from {list(ROIS)}.")
    if hemispheres not in ("combined", "separate"):
        raise ConfigError("config key datasets.bold5000.hemispheres must be 'combined' or 'separate'.")
    if cv_groups not in CV_GROUPS:
        raise ConfigError(f"config key datasets.bold5000.cv_groups must be one of {list(CV_GROUPS)}.")


def load_bold5000(
    mat_paths: Sequence[str | os.PathLike],
    stim_list: str | os.PathLike,
    image_dir: str | os.PathLike,
    *,
    subject: str,
    rois: Sequence[str] = ROIS,
    hemispheres: str = "combined",
    cv_groups: str = "image",
    simulated: bool = False,
    dataset: str = "bold5000",
) -> SubjectResponses:
    """Load one subject's ROI files into a response store (see the module docstring).

    Parameters
    ----------
    mat_paths : sequence of path-like
        The subject's ``{subject}_ROIs_TR{k}.mat`` files to use; several are averaged
        trial by trial (e.g. TR3 and TR4).
    stim_list : path-like
        The subject's stimulus list (one image name per trial).
    image_dir : path-like
        Folder of the presented images; every listed image must be there (flat or in a
        ``COCO`` / ``ImageNet`` / ``Scene`` subfolder).
    subject, dataset : str
    rois : sequence of str
        Subset of :data:`ROIS`.
    hemispheres : {"combined", "separate"}
    cv_groups : {"image", "source"}
    simulated : bool
        Mark the store as simulated (files from :mod:`brainalign.brains.simulate_bold5000`).

    Returns
    -------
    SubjectResponses
        n = distinct images; ROI matrices (n, voxels) float32 after :func:`clean_voxels`.

    Raises
    ------
    ConfigError
        Unknown ROI, hemispheres or cv_groups value; no ``.mat`` file.
    DataError
        A file is missing or corrupt; a ROI key is missing from a file; the number of trials
        of a matrix differs from the stimulus list's; the TR files disagree in shape; an
        image is missing from ``image_dir``. Messages name the file.
    """
    _check_choices(rois, hemispheres, cv_groups)
    mat_paths = [Path(p) for p in mat_paths]
    if not mat_paths:
        raise ConfigError(f"subject {subject}: no BOLD5000 ROI files given; set datasets.bold5000.trs.")
    stim_list = Path(stim_list)
    trials = read_stim_list(stim_list)
    images = [name.removeprefix(REPEAT_PREFIX) for name in trials]
    image_ids = list(dict.fromkeys(images))
    missing = [name for name in image_ids if find_image(image_dir, name) is None]
    if missing:
        raise DataError(
            f"{len(missing)} images of stimulus list {stim_list} are missing from the image folder {image_dir}, "
            f"e.g. {missing[:3]}; set datasets.bold5000.image_dir to the Presented_Stimuli folder."
        )
    index = {name: i for i, name in enumerate(image_ids)}
    which = np.array([index[name] for name in images])
    counts = np.bincount(which, minlength=len(image_ids)).astype(np.float64)

    keys = [(f"{h}{roi}", roi if hemispheres == "combined" else f"{h}{roi}") for roi in rois for h in HEMISPHERES]
    summed: dict[str, np.ndarray] = {}
    for path in mat_paths:
        contents = read_roi_mat(path)
        for key, _ in keys:
            if key not in contents:
                raise DataError(
                    f"BOLD5000 ROI file {path} has no matrix {key!r} (found {sorted(contents)}); "
                    f"the release holds {{LH,RH}}{{{','.join(ROIS)}}}."
                )
            matrix = np.asarray(contents[key], dtype=np.float64)
            if matrix.ndim != 2 or matrix.shape[0] != len(trials):
                raise DataError(
                    f"BOLD5000 ROI file {path}: {key} has shape {matrix.shape} but stimulus list {stim_list} lists "
                    f"{len(trials)} trials; the files must belong to the same subject (trials x voxels)."
                )
            if key in summed and summed[key].shape != matrix.shape:
                raise DataError(
                    f"BOLD5000 ROI file {path}: {key} has shape {matrix.shape}, other TR files {summed[key].shape}."
                )
            summed[key] = summed[key] + matrix if key in summed else matrix

    repeated_trials = np.flatnonzero(counts[which] > 1)  # presentations of repeated images, in order
    blocks: dict[str, list[np.ndarray]] = {}
    for key, out in keys:
        per_trial = summed[key] / len(mat_paths)
        per_image = np.zeros((len(image_ids), per_trial.shape[1]))
        np.add.at(per_image, which, per_trial)
        # Averaged rows first, then the individual presentations: cleaned together (same voxels).
        blocks.setdefault(out, []).append(np.vstack([per_image / counts[:, None], per_trial[repeated_trials]]))
    provenance = {
        "loader": "brainalign.brains.bold5000.load_bold5000",
        "trs": ",".join(p.stem.rsplit("_TR", 1)[-1] for p in mat_paths),
        "hemispheres": hemispheres,
        "cv_groups": cv_groups,
        "n_trials": str(len(trials)),
        "n_repeated_images": str(int((counts > 1).sum())),
        f"source:{stim_list.name}": sha256_file(stim_list),
        **{f"source:{p.name}": sha256_file(p) for p in mat_paths},
    }
    sources = ", ".join(map(str, mat_paths))
    cleaned, presentations = {}, {}
    for out, parts in blocks.items():
        stacked, counts_out = clean_voxels(np.hstack(parts), out, sources)
        cleaned[out], presentations[out] = stacked[: len(image_ids)], stacked[len(image_ids) :]
        provenance[f"voxels:{out}"] = f"{counts_out['kept']} kept of {counts_out['total']}"
    logger.info(
        "subject %s: %d trials -> %d images (%d repeated); TR files %s",
        subject, len(trials), len(image_ids), int((counts > 1).sum()), provenance["trs"],
    )
    groups = image_ids if cv_groups == "image" else [image_source(name) for name in image_ids]
    return SubjectResponses(
        dataset=dataset,
        subject=subject,
        stimulus_ids=tuple(image_ids),
        stimulus_texts=tuple(image_ids),
        groups=tuple(groups),
        rois=cleaned,
        simulated=simulated,
        provenance=provenance,
        repeats=RepeatedPresentations(which[repeated_trials], presentations) if repeated_trials.size else None,
    )


def find_image(image_dir: str | os.PathLike, name: str) -> Path | None:
    """``image_dir/name`` or ``image_dir/<source>/name``, whichever exists, else None."""
    image_dir = Path(image_dir)
    for candidate in (image_dir / name, image_dir / image_source(name) / name):
        if candidate.is_file():
            return candidate
    return None


def read_stimulus_images(image_dir: str | os.PathLike, stimulus_ids: Sequence[str], image_size: int) -> np.ndarray:
    """The stimulus images as a model sees them: RGB, centre-cropped to a square, resized.

    Parameters
    ----------
    image_dir : path-like
        Folder of the presented images (flat or with source subfolders, see :func:`find_image`).
    stimulus_ids : sequence of str, length n
        Image file names (the store's stimulus ids; a ``rep_`` prefix is ignored).
    image_size : int
        Output width and height (bicubic resampling with Pillow).

    Returns
    -------
    ndarray, shape (n, image_size, image_size, 3), uint8

    Raises
    ------
    DataError
        An image is missing or cannot be decoded (the message names it).
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(image_size, bool) or int(image_size) < 1:
        raise ConfigError(f"image_size must be a positive integer, got {image_size!r}.")
    out = np.empty((len(stimulus_ids), image_size, image_size, 3), dtype=np.uint8)
    for i, stimulus in enumerate(stimulus_ids):
        name = stimulus.removeprefix(REPEAT_PREFIX)
        path = find_image(image_dir, name)
        if path is None:
            raise DataError(
                f"stimulus image {name!r} not found in {image_dir} (nor in its {'/'.join(SOURCES)} subfolders); "
                "check datasets.bold5000.image_dir."
            )
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        except (OSError, UnidentifiedImageError) as exc:
            raise DataError(f"cannot decode stimulus image {path} ({exc}); replace the file.") from exc
        side = min(rgb.size)
        left, top = (rgb.size[0] - side) // 2, (rgb.size[1] - side) // 2
        rgb = rgb.crop((left, top, left + side, top + side))
        if rgb.size != (image_size, image_size):
            rgb = rgb.resize((image_size, image_size), Image.Resampling.BICUBIC)
        out[i] = np.asarray(rgb, dtype=np.uint8)
    return out


def mat_files(raw_dir: str | os.PathLike, subject: str, trs: Sequence[str | int]) -> list[Path]:
    """The ROI files a subject's configured TRs need (one per TR)."""
    return [roi_mat_path(raw_dir, subject, tr) for tr in trs]

