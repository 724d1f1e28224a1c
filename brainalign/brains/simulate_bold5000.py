"""Simulated BOLD5000 subjects, written in the ROI release's raw format with their images.

What is written (:func:`simulate_bold5000`), exactly as :mod:`brainalign.brains.bold5000` reads
the real release::

    {raw_dir}/{subject}/mat/{subject}_ROIs_TR{1,2,3,4,5,34}.mat   MATLAB v5, keys {LH,RH}{ROI}
    {raw_dir}/stim_lists/CSI0{N}_stim_lists.txt                  one image name per trial
    {image_dir}/{COCO,ImageNet,Scene}/{name}                     JPEG images (quality 95, 4:4:4)

Stimulus images
---------------
``n_images`` compositions drawn with :mod:`brainalign.tasks.shapes`, named and composed after
BOLD5000's three sources: 40 % "COCO" (``COCO_train2014_<12 digits>.jpg``: two or three
medium objects, half of them in front of a horizon), 40 % "ImageNet"
(``n0900000<c>_<k>.JPEG``: one large object of class c on a textured background) and 20 %
"Scene" (``<layout><k>.jpg``: a horizon with an open / corridor / room / street layout and at
most one small object). Image names are real-format but made up; the pictures are synthetic.

Generative model
----------------
Three groups of stimulus features, each standardised per column across images:

- ``low``: pixel statistics -- mean R, G, B and mean gradient energy in each cell of a 4 x 4 grid (64);
- ``object``: area-weighted presence of each of the 10 shape classes (10);
- ``scene``: one-hot layout (none + 4), horizon height and horizon presence (7).

Each group g is mapped to k = ``n_hidden`` dimensions by a fixed random projection P_g
(seeded by the seed and g only, so shared by subjects) and standardised: Z_g (n, k). ROI r
mixes them with the weights of :data:`ROI_MIX` (EarlyVis: low-level; LOC: objects; OPA and
PPA: scene layout with some object content; RSC: scene layout) into H_r, standardised again.
A subject's voxel v of ROI r at trial t (showing image s) and TR j responds as::

    y[t, v, j] = hrf[j] * snr_r * (H_r[s] @ W_r[:, v]) + e[t, v, j]
    W_r ~ N(0, 1/k);  e ~ N(0, 1) independently per trial, voxel and TR;  TR34 = (TR3 + TR4) / 2

with hrf = :data:`HRF` (peaks at TR3-TR4) and snr_r from the config (default: EarlyVis and
LOC 0.8, PPA 0.6, OPA 0.5, RSC 0.15, the low-SNR ROI). The first half of each ROI's voxels
(rounded down) is the left hemisphere. Every subject sees every image in its own random order;
``repeated_images`` images (the same for all subjects) are shown ``1 + n_repeats`` times, the
later presentations prefixed ``rep_`` as in the release.

What it can tell you: whether the loaders, repeat/TR averaging and grouped folds work on files
in the real format, and whether decoding/encoding recovers a planted linear signal and ranks
ROIs by SNR and by the kind of feature (low-level vs object vs layout) a representation
carries. The object classes are ``shapes10``'s (:data:`brainalign.tasks.shapes.SHAPE_CLASSES`),
so a model tuned on ``shapes10`` is favoured in LOC *by construction* -- a check that tuning
effects are visible through the pipeline, not a result. What it cannot tell you: anything
about visual cortex or which model is more brain-like; there
is no spatial structure, no shared variance between subjects beyond the stimuli, and white
Gaussian noise. Every table row from it is labelled simulated.

Determinism: same seed and settings give byte-identical files (fixed MAT header text, see
:func:`brainalign.brains.simulate.write_mat_v5`; JPEG encoding by the pinned Pillow).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainalign.brains.bold5000 import HEMISPHERES, REPEAT_PREFIX, ROIS, image_source, roi_mat_path, subject_number
from brainalign.brains.simulate import RoiSimulation, seeded_rng, write_mat_v5
from brainalign.errors import ConfigError
from brainalign.io import atomic_output
from brainalign.tasks.shapes import SCENE_LAYOUTS, SHAPE_CLASSES, random_background, random_object, render

logger = logging.getLogger(__name__)

DEFAULT_ROIS: dict[str, RoiSimulation] = {
    "EarlyVis": RoiSimulation(n_voxels=200, snr=0.8),
    "LOC": RoiSimulation(n_voxels=160, snr=0.8),
    "OPA": RoiSimulation(n_voxels=120, snr=0.5),
    "PPA": RoiSimulation(n_voxels=140, snr=0.6),
    "RSC": RoiSimulation(n_voxels=80, snr=0.15),
}
ROI_MIX: dict[str, dict[str, float]] = {
    "EarlyVis": {"low": 1.0},
    "LOC": {"object": 1.0, "low": 0.3},
    "OPA": {"scene": 0.8, "object": 0.5},
    "PPA": {"scene": 1.0, "object": 0.3},
    "RSC": {"scene": 1.0},
}
"""ROI -> weights of the feature groups its hidden features mix (see the module docstring)."""
HRF: dict[str, float] = {"1": 0.05, "2": 0.4, "3": 0.9, "4": 1.0, "5": 0.6}
"""Relative response amplitude at each TR after stimulus onset (TR34 averages 3 and 4)."""
SOURCE_FRACTIONS: dict[str, float] = {"COCO": 0.4, "ImageNet": 0.4, "Scene": 0.2}


@dataclass(frozen=True)
class Bold5000Simulation:
    """Settings of a simulated BOLD5000 data set (config ``datasets.bold5000.simulate``)."""

    n_images: int = 120
    image_size: int = 32
    repeated_images: int = 12
    n_repeats: int = 3
    n_hidden: int = 32
    rois: Mapping[str, RoiSimulation] = field(default_factory=lambda: dict(DEFAULT_ROIS))

    def __post_init__(self) -> None:
        for name, low in (("n_images", 6), ("image_size", 16), ("repeated_images", 0), ("n_repeats", 1), ("n_hidden", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"config key datasets.bold5000.simulate.{name} must be an integer >= {low}, got {value!r}.")
        if self.repeated_images > self.n_images:
            raise ConfigError("config key datasets.bold5000.simulate.repeated_images exceeds n_images.")
        unknown = [roi for roi in self.rois if roi not in ROIS]
        if unknown or set(self.rois) != set(ROIS):
            raise ConfigError(
                f"config key datasets.bold5000.simulate.rois must list exactly {list(ROIS)} (the release's ROIs), "
                f"got {list(self.rois)}."
            )
        if any(spec.n_voxels < 2 for spec in self.rois.values()):
            raise ConfigError("config key datasets.bold5000.simulate.rois: every ROI needs >= 2 voxels (one per hemisphere).")


@dataclass(frozen=True, eq=False)
class StimulusSet:
    """The simulated stimulus images and their latent content.

    Attributes
    ----------
    names : tuple of str, length n
        BOLD5000-style file names (the source follows from the name).
    images : ndarray, shape (n, size, size, 3), uint8
    objects : ndarray, shape (n, 10)
        Area-weighted presence of each shape class.
    scene : ndarray, shape (n, 7)
        One-hot layout (none, open, corridor, room, street), horizon height, horizon presence.
    """

    names: tuple[str, ...]
    images: np.ndarray
    objects: np.ndarray
    scene: np.ndarray


def make_stimulus_set(n_images: int, image_size: int, seed: int) -> StimulusSet:
    """Draw the stimulus images (see the module docstring); deterministic in ``seed``."""
    rng = seeded_rng(seed, "bold5000-stimuli")
    counts = {source: int(round(fraction * n_images)) for source, fraction in SOURCE_FRACTIONS.items()}
    counts["COCO"] = n_images - counts["ImageNet"] - counts["Scene"]
    sources = rng.permutation([s for s, c in counts.items() for _ in range(c)])
    coco_ids = iter(rng.choice(np.arange(1, 600_000), size=n_images, replace=False))
    names, images, objects, scene = [], [], np.zeros((n_images, len(SHAPE_CLASSES))), np.zeros((n_images, 7))
    per_name: dict[str, int] = {}
    for i, source in enumerate(sources):
        if source == "ImageNet":
            shape = int(rng.integers(len(SHAPE_CLASSES)))
            drawn = [random_object(rng, shape, radius=(0.5, 0.75), spread=0.4)]
            background = random_background(rng)
            stem = f"n{9_000_000 + shape:08d}"
            per_name[stem] = per_name.get(stem, 0) + 1
            name = f"{stem}_{per_name[stem]}.JPEG"
        elif source == "COCO":
            shapes = rng.integers(len(SHAPE_CLASSES), size=int(rng.integers(2, 4)))
            drawn = [random_object(rng, s, radius=(0.25, 0.4)) for s in shapes]
            horizon = float(rng.uniform(-0.3, 0.4)) if rng.uniform() < 0.5 else None
            background = random_background(rng, horizon=horizon, layout="open" if horizon is not None else None)
            name = f"COCO_train2014_{int(next(coco_ids)):012d}.jpg"
        else:
            layout = SCENE_LAYOUTS[int(rng.integers(len(SCENE_LAYOUTS)))]
            background = random_background(rng, horizon=float(rng.uniform(-0.3, 0.4)), layout=layout)
            drawn = [random_object(rng, int(rng.integers(len(SHAPE_CLASSES))), radius=(0.15, 0.25))] if rng.uniform() < 0.3 else []
            per_name[layout] = per_name.get(layout, 0) + 1
            name = f"{layout}{per_name[layout]}.jpg"
        images.append(render(background, drawn, image_size))
        names.append(name)
        for obj in drawn:
            objects[i, obj.shape] += obj.radius**2
        layout_index = 0 if background.layout is None else 1 + SCENE_LAYOUTS.index(background.layout)
        scene[i, layout_index] = 1.0
        if background.horizon is not None:
            scene[i, 5:] = (background.horizon, 1.0)
    return StimulusSet(tuple(names), np.stack(images), objects, scene)


def _standardise(matrix: np.ndarray) -> np.ndarray:
    std = matrix.std(axis=0)
    return (matrix - matrix.mean(axis=0)) / np.where(std > 0, std, 1.0)


def low_level_features(images: np.ndarray, grid: int = 4) -> np.ndarray:
    """Mean R, G, B and gradient energy per cell of a ``grid x grid`` partition.

    Parameters
    ----------
    images : ndarray, shape (n, H, W, 3), uint8

    Returns
    -------
    ndarray, shape (n, 4 * grid * grid), float64
    """
    pixels = images.astype(np.float64) / 255.0
    gray = pixels.mean(axis=-1)
    energy = np.zeros_like(gray)
    energy[:, 1:, :] += np.diff(gray, axis=1) ** 2
    energy[:, :, 1:] += np.diff(gray, axis=2) ** 2
    maps = np.concatenate([pixels, energy[..., None]], axis=-1)  # (n, H, W, 4)
    rows = np.array_split(np.arange(images.shape[1]), grid)
    cols = np.array_split(np.arange(images.shape[2]), grid)
    cells = [maps[:, r][:, :, c].mean(axis=(1, 2)) for r in rows for c in cols]  # each (n, 4)
    return np.concatenate(cells, axis=1)


def feature_groups(stimuli: StimulusSet) -> dict[str, np.ndarray]:
    """The standardised ``low``, ``object`` and ``scene`` feature groups, each (n, d_g)."""
    return {
        "low": _standardise(low_level_features(stimuli.images)),
        "object": _standardise(stimuli.objects),
        "scene": _standardise(stimuli.scene),
    }


def roi_hidden_features(groups: Mapping[str, np.ndarray], *, seed: int, n_hidden: int) -> dict[str, np.ndarray]:
    """H_r for every ROI of :data:`ROI_MIX`: (n, n_hidden), standardised per column."""
    projected = {}
    for name, group in groups.items():
        projection = seeded_rng(seed, "projection", name).standard_normal((group.shape[1], n_hidden))
        projected[name] = _standardise(group @ projection / np.sqrt(group.shape[1]))
    return {roi: _standardise(sum(w * projected[g] for g, w in mix.items())) for roi, mix in ROI_MIX.items()}


def trial_order(names: Sequence[str], subject: str, *, seed: int, repeated: int, n_repeats: int) -> list[str]:
    """One subject's trials: every image once plus the repeated ones, shuffled, repeats ``rep_``-prefixed."""
    chosen = seeded_rng(seed, "repeated-images").choice(len(names), size=repeated, replace=False)
    trials = list(range(len(names))) + [int(i) for i in chosen for _ in range(n_repeats)]
    order = seeded_rng(seed, "trial-order", subject).permutation(len(trials))
    seen: set[int] = set()
    out = []
    for index in (trials[j] for j in order):
        out.append(names[index] if index not in seen else REPEAT_PREFIX + names[index])
        seen.add(index)
    return out


def simulate_subject_trials(
    stimuli: StimulusSet, hidden: Mapping[str, np.ndarray], subject: str, *, seed: int, settings: Bold5000Simulation
) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """One subject's trial list and ROI matrices per TR.

    Returns
    -------
    trials : list of str, length T
        Image names in acquisition order (repeats prefixed ``rep_``).
    per_tr : dict
        TR (``"1"`` .. ``"5"``, ``"34"``) -> ``{"LHEarlyVis": (T, v_LH), "RHEarlyVis": ..., ...}``.
    """
    trials = trial_order(stimuli.names, subject, seed=seed, repeated=settings.repeated_images, n_repeats=settings.n_repeats)
    index = {name: i for i, name in enumerate(stimuli.names)}
    shown = np.array([index[t.removeprefix(REPEAT_PREFIX)] for t in trials])
    per_tr: dict[str, dict[str, np.ndarray]] = {tr: {} for tr in (*HRF, "34")}
    for roi in ROIS:
        spec = settings.rois[roi]
        k = hidden[roi].shape[1]
        weights = seeded_rng(seed, "weights", subject, roi).standard_normal((k, spec.n_voxels)) / np.sqrt(k)
        signal = spec.snr * (hidden[roi] @ weights)[shown]
        split = spec.n_voxels // 2
        for tr, amplitude in HRF.items():
            noise = seeded_rng(seed, "noise", subject, roi, tr).standard_normal(signal.shape)
            response = amplitude * signal + noise
            per_tr[tr].update({f"LH{roi}": response[:, :split], f"RH{roi}": response[:, split:]})
        for h in HEMISPHERES:
            per_tr["34"][f"{h}{roi}"] = (per_tr["3"][f"{h}{roi}"] + per_tr["4"][f"{h}{roi}"]) / 2
    return trials, per_tr


def write_stimulus_images(image_dir: str | os.PathLike, stimuli: StimulusSet) -> list[Path]:
    """Write every image as ``{image_dir}/{source}/{name}`` (JPEG, quality 95, no chroma subsampling)."""
    from PIL import Image

    paths = []
    for name, pixels in zip(stimuli.names, stimuli.images, strict=True):
        path = Path(image_dir) / image_source(name) / name
        with atomic_output(path) as tmp:
            Image.fromarray(pixels).save(tmp, format="JPEG", quality=95, subsampling=0)
        paths.append(path)
    return paths


def simulate_bold5000(
    raw_dir: str | os.PathLike,
    image_dir: str | os.PathLike,
    subjects: Sequence[str],
    *,
    seed: int,
    settings: Bold5000Simulation | None = None,
) -> list[Path]:
    """Write the stimulus images and every subject's raw files (layout in the module docstring).

    Parameters
    ----------
    raw_dir : path-like
        Root of the ROI release layout.
    image_dir : path-like
        Folder for the images (``COCO`` / ``ImageNet`` / ``Scene`` subfolders).
    subjects : sequence of str
        ``CSI<N>`` names.
    seed : int
    settings : Bold5000Simulation, optional

    Returns
    -------
    list of Path
        Every ``.mat`` and stimulus list written (images not included).
    """
    settings = settings or Bold5000Simulation()
    for subject in subjects:
        subject_number(subject)
    stimuli = make_stimulus_set(settings.n_images, settings.image_size, seed)
    write_stimulus_images(image_dir, stimuli)
    hidden = roi_hidden_features(feature_groups(stimuli), seed=seed, n_hidden=settings.n_hidden)
    written = []
    for subject in subjects:
        trials, per_tr = simulate_subject_trials(stimuli, hidden, subject, seed=seed, settings=settings)
        for tr, matrices in per_tr.items():
            path = roi_mat_path(raw_dir, subject, tr)
            write_mat_v5(path, matrices)
            written.append(path)
        stim_list = Path(raw_dir) / "stim_lists" / f"CSI{subject_number(subject):02d}_stim_lists.txt"
        with atomic_output(stim_list) as tmp:
            tmp.write_text("".join(f"{t}\n" for t in trials), encoding="utf-8", newline="\n")
        written.append(stim_list)
        logger.info("subject %s: %d trials of %d images -> %s", subject, len(trials), len(stimuli.names), raw_dir)
    return written
