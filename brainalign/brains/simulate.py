"""Simulated Pereira subjects, written in the real raw formats so the demo runs the real loaders.

Generative model
----------------
Each stimulus s gets a hidden feature vector h_s (dimension k, default 48) built from its
content::

    h_s = a * t[topic(s)] + b * p[passage(s)] + c * mean_{w in content words of s} e[w]

t, p and e are fixed N(0, I_k / k) vectors, each drawn from a generator seeded with
sha256(seed, kind, string) -- never Python's salted ``hash()`` -- so the same word, passage or
topic gets the same vector in every run, subject and file. Content words are the lower-cased,
punctuation-stripped tokens minus a small stop-word list. The hidden features are
standardised per dimension across stimuli (H, shape (n, k)). ROI r of a subject responds as::

    Y_r = snr_r * H @ W_r + N_r,    W_r ~ N(0, 1/k), shape (k, v_r);  N_r ~ N(0, 1), shape (n, v_r)

so each voxel's signal has unit variance and ``snr_r`` is the ratio of signal to noise
standard deviation. W_r and N_r are seeded from (seed, subject, ROI). Defaults: language
carries clear signal, dmn some, task little, visual none (pure noise -> decoding at chance).

To exercise the loaders' cleaning path, :func:`simulate_responses` also damages the first ROI
(``language`` by default): 3 voxels get NaN (one entirely, two in a single stimulus) and one
voxel becomes constant. The loaders drop these 4 voxels and record the counts in provenance.

What the simulator can tell you: whether the pipeline runs end to end on files in the real
formats; whether decoding/encoding recovers a planted *linear* signal, ranks ROIs by their SNR
and returns chance for a no-signal ROI; whether grouped folds and the 2v2 metric behave.
What it cannot tell you: anything about brains or about which language model matches them.
The hidden features are a bag-of-words-plus-context construction, so a model whose
representation is close to averaged word identity will look "brain-like" here for reasons
that say nothing about cortex; there is no haemodynamics, no spatial structure, no
between-subject shared variance beyond the stimuli, and noise is white Gaussian.
Simulated results must always be labelled as simulated.

Determinism: identical inputs give byte-identical files. ``scipy.io.savemat`` writes the
creation time into the 116-byte MAT header text; we overwrite that text with a fixed one
(it is free-form: readers only use the version and byte-order bytes after it), and pickling
the 627-layout dict is deterministic for a given numpy/Python version.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.io

from brainalign.brains.stimuli import SentenceStimuli
from brainalign.errors import ConfigError, DataError
from brainalign.io import atomic_output

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoiSimulation:
    """Settings of one simulated ROI.

    Attributes
    ----------
    n_voxels : int
        Number of voxels (columns).
    snr : float
        Signal-to-noise ratio in standard-deviation units per voxel; 0 means pure noise.
    """

    n_voxels: int
    snr: float

    def __post_init__(self) -> None:
        if isinstance(self.n_voxels, bool) or not isinstance(self.n_voxels, (int, np.integer)) or self.n_voxels < 1:
            raise ConfigError(f"simulation ROI n_voxels must be a positive integer, got {self.n_voxels!r}.")
        if not np.isfinite(self.snr) or self.snr < 0:
            raise ConfigError(f"simulation ROI snr must be a finite number >= 0, got {self.snr!r}.")


DEFAULT_ROIS: dict[str, RoiSimulation] = {
    "language": RoiSimulation(n_voxels=400, snr=1.0),
    "task": RoiSimulation(n_voxels=300, snr=0.15),
    "dmn": RoiSimulation(n_voxels=300, snr=0.4),
    "visual": RoiSimulation(n_voxels=200, snr=0.0),
}

# Weights a, b, c of topic, passage and word content. A mean over ~7 content words has ~1/7
# the variance of one word vector, so c = 3 is needed for sentences of one passage to stay
# distinguishable: on the shipped stimuli about a quarter of H's variance is within passages.
TOPIC_WEIGHT, PASSAGE_WEIGHT, WORD_WEIGHT = 1.0, 1.0, 3.0
N_NAN_VOXELS, N_CONSTANT_VOXELS = 3, 1

STOP_WORDS = frozenset(
    "a an the and or but of to in on at by for with from as into over under than then that this these those is are "
    "was were be been being has have had do does did can could may might must will would should it its it's their "
    "them they he she his her we our you your i not no so such very also only each which who whom whose what when "
    "where while".split()
)

# Atlas layout of written .mat files: output ROI -> [(atlas name, ROI names within atlas)].
# Only the atlases the default networks need; published files hold more (aal, gordon, ...).
MAT_LAYOUT: dict[str, list[tuple[str, list[str]]]] = {
    "language": [
        ("languageLH", ["LH_IFGorb", "LH_IFG", "LH_MFG", "LH_AntTemp", "LH_PostTemp", "LH_AngG"]),
        ("languageRH", ["RH_IFGorb", "RH_IFG", "RH_MFG", "RH_AntTemp", "RH_PostTemp", "RH_AngG"]),
    ],
    "task": [("MD", ["LH_midFrontal", "RH_midFrontal", "LH_parietal", "RH_parietal"])],
    "dmn": [("DMN", ["LH_PCC", "RH_PCC", "LH_mPFC", "RH_mPFC"])],
    "visual": [("visual", ["LH_occipital", "RH_occipital"])],
}
N_UNASSIGNED_COLUMNS = 16  # whole-brain files also hold voxels outside every network
MAT_HEADER_TEXT = b"MATLAB 5.0 MAT-file, Platform: posix, Created by: brainalign.brains.simulate (fixed header)"
NPY627_KEYS: dict[str, str] = {"language": "language", "task": "task", "dmn": "dmn", "vision": "visual"}


# --------------------------------------------------------------------------- generative model


def content_words(sentence: str) -> list[str]:
    """Lower-cased tokens of ``sentence`` without punctuation and stop words."""
    tokens = re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*", sentence.lower())
    return [t for t in tokens if t not in STOP_WORDS]


def seeded_rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator seeded by sha256 of the seed and ``parts`` (stable across runs and machines)."""
    digest = hashlib.sha256("\x1f".join([str(int(seed)), *parts]).encode("utf-8")).digest()
    return np.random.default_rng(np.frombuffer(digest, dtype="<u4"))


def _vector(seed: int, kind: str, key: str, n_hidden: int) -> np.ndarray:
    return seeded_rng(seed, kind, key).standard_normal(n_hidden) / np.sqrt(n_hidden)


def hidden_features(stimuli: SentenceStimuli, *, seed: int, n_hidden: int = 48) -> np.ndarray:
    """Standardised hidden features H of the stimuli (see the module docstring).

    Parameters
    ----------
    stimuli : SentenceStimuli
        n sentences with passages and topics.
    seed : int
        Seed of the topic, passage and word vectors.
    n_hidden : int
        Dimension k.

    Returns
    -------
    ndarray, shape (n, k), float64
        Each column has mean 0 and standard deviation 1 across stimuli (a constant column,
        possible only for n = 1, is left at 0).
    """
    for name, value, low in (("seed", seed, None), ("n_hidden", n_hidden, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (low is not None and value < low):
            raise ConfigError(f"simulation {name} must be an integer{' >= 1' if low else ''}, got {value!r}.")
    rows = []
    for passage, topic, sentence in zip(stimuli.passages, stimuli.topics, stimuli.sentences, strict=True):
        vectors = [_vector(seed, "word", w, n_hidden) for w in content_words(sentence)]
        word_term = np.mean(vectors, axis=0) if vectors else np.zeros(n_hidden)
        rows.append(
            TOPIC_WEIGHT * _vector(seed, "topic", topic, n_hidden)
            + PASSAGE_WEIGHT * _vector(seed, "passage", passage, n_hidden)
            + WORD_WEIGHT * word_term
        )
    hidden = np.asarray(rows)
    std = hidden.std(axis=0)
    return (hidden - hidden.mean(axis=0)) / np.where(std > 0, std, 1.0)


def simulate_responses(
    stimuli: SentenceStimuli,
    subject: str,
    *,
    seed: int,
    rois: Mapping[str, RoiSimulation] = DEFAULT_ROIS,
    n_hidden: int = 48,
    inject_bad_voxels: bool = True,
) -> dict[str, np.ndarray]:
    """Simulate one subject's responses per ROI.

    Parameters
    ----------
    stimuli : SentenceStimuli
        n sentences.
    subject : str
        Subject name; seeds W_r and noise together with the master ``seed``.
    seed : int
    rois : mapping of str to RoiSimulation
        ROI name -> voxel count and SNR.
    n_hidden : int
        Dimension k of the hidden features.
    inject_bad_voxels : bool
        Damage the first ROI with 3 NaN voxels and 1 constant voxel (see module docstring).

    Returns
    -------
    dict of str to ndarray
        ROI name -> (n, v_r) float64 responses, in the order of ``rois``.
    """
    _check_subject(subject)
    if not isinstance(rois, Mapping) or not rois or not all(isinstance(r, RoiSimulation) for r in rois.values()):
        raise ConfigError(f"simulation 'rois' must map ROI names to RoiSimulation settings, got {rois!r}.")
    hidden = hidden_features(stimuli, seed=seed, n_hidden=n_hidden)
    n, k = hidden.shape
    responses: dict[str, np.ndarray] = {}
    for roi, spec in rois.items():
        weights = seeded_rng(seed, "weights", subject, roi).standard_normal((k, spec.n_voxels)) / np.sqrt(k)
        noise = seeded_rng(seed, "noise", subject, roi).standard_normal((n, spec.n_voxels))
        responses[roi] = spec.snr * hidden @ weights + noise
    if inject_bad_voxels:
        roi = next(iter(rois))
        _inject_bad_voxels(responses[roi], seeded_rng(seed, "bad-voxels", subject, roi), roi)
    return responses


def _inject_bad_voxels(matrix: np.ndarray, rng: np.random.Generator, roi: str) -> None:
    """In place: N_NAN_VOXELS columns get NaN, N_CONSTANT_VOXELS columns become constant."""
    n, v = matrix.shape
    needed = N_NAN_VOXELS + N_CONSTANT_VOXELS
    if v <= needed:
        raise ConfigError(f"simulation ROI {roi!r} needs more than {needed} voxels to inject bad voxels, has {v}.")
    columns = rng.choice(v, size=needed, replace=False)
    nan_cols, constant_cols = columns[:N_NAN_VOXELS], columns[N_NAN_VOXELS:]
    matrix[:, nan_cols[0]] = np.nan
    for col in nan_cols[1:]:
        matrix[rng.integers(n), col] = np.nan
    matrix[:, constant_cols] = 1.0


# --------------------------------------------------------------------------- raw-format writers


def write_pereira_mat(path: str | os.PathLike, stimuli: SentenceStimuli, responses: Mapping[str, np.ndarray]) -> None:
    """Write responses as an official-format ``examples_*.mat`` file (MATLAB v5).

    Parameters
    ----------
    path : path-like
        Destination file (written atomically).
    stimuli : SentenceStimuli
        n sentences; passages and topics become keyPassages / keyPassageCategory.
    responses : mapping
        ``language``, ``task``, ``dmn``, ``visual`` -> (n, v_r) arrays.

    Notes
    -----
    ``examples`` holds all networks' columns interleaved (plus a few unassigned columns), with
    each network's voxels at increasing column indices, so the loader's sorted column union
    returns the voxels in their original order. Cell arrays use the published orientations.
    """
    _check_responses(stimuli, responses, set(MAT_LAYOUT))
    n = len(stimuli)
    sizes = {roi: responses[roi].shape[1] for roi in MAT_LAYOUT}
    for roi, atlases in MAT_LAYOUT.items():
        n_rois = sum(len(names) for _, names in atlases)
        if sizes[roi] < n_rois:
            raise ConfigError(f"simulation ROI {roi!r} needs >= {n_rois} voxels for the .mat layout, has {sizes[roi]}.")

    # Interleave networks with a fixed permutation: the layout is the same for every file.
    labels = np.concatenate([np.full(sizes[r], i) for i, r in enumerate(MAT_LAYOUT)])
    labels = np.concatenate([labels, np.full(N_UNASSIGNED_COLUMNS, -1)])
    labels = labels[np.random.default_rng(0).permutation(labels.size)]
    examples = np.random.default_rng(1).standard_normal((n, labels.size))
    atlas_names, roi_cells, column_cells = [], [], []
    for i, (roi, atlases) in enumerate(MAT_LAYOUT.items()):
        positions = np.flatnonzero(labels == i)
        examples[:, positions] = responses[roi]
        for (atlas, names), atlas_cols in zip(atlases, np.array_split(positions, len(atlases)), strict=True):
            atlas_names.append(atlas)
            roi_cells.append(_cell([[name] for name in names]))
            column_cells.append(
                _cell([[(c + 1).astype(np.float64).reshape(-1, 1)] for c in np.array_split(atlas_cols, len(names))])
            )

    passages = list(stimuli.unique_passages)
    topics = list(stimuli.unique_topics)
    topic_of = dict(zip(stimuli.passages, stimuli.topics, strict=True))
    contents = {
        "examples": examples,
        "meta": {"atlases": _cell([atlas_names]), "rois": _cell([roi_cells]), "roiColumns": _cell([column_cells])},
        "keySentences": _cell([[s] for s in stimuli.sentences]),
        "labelsSentences": np.arange(1, n + 1, dtype=np.float64).reshape(-1, 1),
        "labelsPassageForEachSentence": np.array([[passages.index(p) + 1] for p in stimuli.passages], dtype=np.float64),
        "keyPassages": _cell([[p] for p in passages]),
        "labelsPassageCategory": np.array([[topics.index(topic_of[p]) + 1] for p in passages], dtype=np.float64),
        "keyPassageCategory": _cell([topics]),
    }
    write_mat_v5(path, contents)
    logger.info("wrote simulated Pereira .mat %s (%d sentences x %d columns)", path, n, labels.size)


def write_pereira_627(
    stimuli_path: str | os.PathLike,
    subject_path: str | os.PathLike,
    stimuli: SentenceStimuli,
    responses: Mapping[str, np.ndarray],
    passages_path: str | os.PathLike | None = None,
) -> None:
    """Write responses in the 627-sentence layout: stimuli.txt + pickled subject .npy dict.

    Parameters
    ----------
    stimuli_path : path-like
        One sentence per line.
    subject_path : path-like
        ``.npy`` with a pickled dict ``{language, vision, task, dmn}`` of (n, v) arrays.
    stimuli : SentenceStimuli
        n sentences.
    responses : mapping
        ``language``, ``task``, ``dmn``, ``visual`` -> (n, v_r) arrays (``visual`` is stored as ``vision``).
    passages_path : path-like, optional
        Also write one passage label per line.
    """
    _check_responses(stimuli, responses, set(NPY627_KEYS.values()))
    if any("\n" in s or "\r" in s for s in stimuli.sentences):
        raise DataError("a sentence contains a line break; stimuli.txt needs one sentence per line.")
    _write_text(stimuli_path, stimuli.sentences)
    if passages_path is not None:
        _write_text(passages_path, stimuli.passages)
    payload = {key: np.asarray(responses[roi]) for key, roi in NPY627_KEYS.items()}
    with atomic_output(subject_path) as tmp:
        # Through a handle: np.save(path) would append ".npy" to the temporary name.
        with open(tmp, "wb") as handle:
            np.save(handle, payload, allow_pickle=True)
    logger.info("wrote simulated 627-layout subject %s and %s", subject_path, stimuli_path)


def simulate_subject(
    out_dir: str | os.PathLike,
    stimuli: SentenceStimuli,
    subject: str,
    *,
    seed: int,
    fmt: Literal["mat", "npy627"],
    rois: Mapping[str, RoiSimulation] = DEFAULT_ROIS,
    n_hidden: int = 48,
    experiment: str = "simulated",
) -> list[Path]:
    """Simulate one subject and write its raw files.

    Parameters
    ----------
    out_dir : path-like
        Folder for the raw files.
    stimuli : SentenceStimuli
        n sentences.
    subject : str
        Subject name (also a file/folder name).
    seed : int
        Master seed; the same seed gives byte-identical files.
    fmt : {"mat", "npy627"}
        ``"mat"``: ``out_dir/{subject}/examples_{experiment}.mat``. ``"npy627"``:
        ``out_dir/stimuli.txt``, ``out_dir/passages.txt`` and ``out_dir/{subject}.npy``.
    rois : mapping of str to RoiSimulation
        Must hold ``language``, ``task``, ``dmn`` and ``visual``.
    n_hidden : int
        Dimension k of the hidden stimulus features.
    experiment : str
        Experiment name in the .mat file name.

    Returns
    -------
    list of Path
        The files written.
    """
    _check_subject(subject)
    if fmt not in ("mat", "npy627"):
        raise ConfigError(f"simulation format must be 'mat' or 'npy627', got {fmt!r}.")
    if not experiment or not re.fullmatch(r"[A-Za-z0-9_.-]+", experiment):
        raise ConfigError(f"simulation experiment name must be a plain file-name part, got {experiment!r}.")
    responses = simulate_responses(stimuli, subject, seed=seed, rois=rois, n_hidden=n_hidden)
    out_dir = Path(out_dir)
    if fmt == "mat":
        path = out_dir / subject / f"examples_{experiment}.mat"
        write_pereira_mat(path, stimuli, responses)
        return [path]
    paths = [out_dir / "stimuli.txt", out_dir / "passages.txt", out_dir / f"{subject}.npy"]
    write_pereira_627(paths[0], paths[2], stimuli, responses, passages_path=paths[1])
    return paths


# --------------------------------------------------------------------------- helpers


def write_mat_v5(path: str | os.PathLike, contents: Mapping[str, object]) -> None:
    """Write a MATLAB v5 file atomically and byte-reproducibly (fixed header text, see module docstring)."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, dict(contents), format="5", oned_as="column")
    data = bytearray(buffer.getvalue())
    data[:116] = MAT_HEADER_TEXT.ljust(116, b" ")  # replace the timestamped description
    with atomic_output(path) as tmp:
        tmp.write_bytes(bytes(data))


def _cell(rows: list[list[object]]) -> np.ndarray:
    """A 2-D object array (MATLAB cell) from nested lists, without numpy broadcasting arrays."""
    shape = (len(rows), len(rows[0]) if rows else 0)
    cell = np.empty(shape, dtype=object)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            cell[i, j] = value
    return cell


def _write_text(path: str | os.PathLike, lines: tuple[str, ...]) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8", newline="\n")


def _check_responses(stimuli: SentenceStimuli, responses: Mapping[str, np.ndarray], expected: set[str]) -> None:
    if set(responses) != expected:
        raise ConfigError(
            f"simulated responses have ROIs {sorted(responses)}, the raw formats need exactly {sorted(expected)}; "
            "set the simulation 'rois' accordingly."
        )
    for roi, matrix in responses.items():
        shape = np.shape(matrix)
        if len(shape) != 2 or shape[0] != len(stimuli) or shape[1] < 1:
            raise DataError(f"simulated ROI {roi!r} has shape {shape}, expected ({len(stimuli)}, n_voxels).")


def _check_subject(subject: str) -> None:
    if not isinstance(subject, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", subject) or subject in {".", ".."}:
        raise ConfigError(f"simulated subject name must be a plain file name (letters, digits, _.-), got {subject!r}.")
