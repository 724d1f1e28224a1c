"""Fixtures for the brains tests: the shipped stimuli, simulated raw files, a small .mat builder."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from brainalign.brains.simulate import simulate_responses, simulate_subject
from brainalign.brains.stimuli import SentenceStimuli, load_sentence_stimuli

REPO = Path(__file__).resolve().parents[2]
SENTENCES_TSV = REPO / "resources" / "stimuli" / "sentences.tsv"
SEED = 7


@pytest.fixture(scope="session")
def stimuli() -> SentenceStimuli:
    return load_sentence_stimuli(SENTENCES_TSV)


@pytest.fixture(scope="session")
def responses(stimuli) -> dict[str, np.ndarray]:
    """What the simulator writes for subject S01 (NaN/constant voxels included)."""
    return simulate_responses(stimuli, "S01", seed=SEED)


@pytest.fixture(scope="session")
def mat_file(stimuli, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim_mat")
    [path] = simulate_subject(out, stimuli, "S01", seed=SEED, fmt="mat")
    return path


@pytest.fixture(scope="session")
def npy627_files(stimuli, tmp_path_factory) -> list[Path]:
    """[stimuli.txt, passages.txt, S01.npy]."""
    out = tmp_path_factory.mktemp("sim_627")
    return simulate_subject(out, stimuli, "S01", seed=SEED, fmt="npy627")


def cell(items: list, orientation: str) -> np.ndarray:
    """A MATLAB cell vector as loadmat returns it: (1, k) for "row", (k, 1) for "column"."""
    shape = (1, len(items)) if orientation == "row" else (len(items), 1)
    out = np.empty(shape, dtype=object)
    for i, item in enumerate(items):
        out.flat[i] = item
    return out


def write_small_mat(
    path: Path,
    *,
    examples: np.ndarray,
    atlases: dict[str, dict[str, list[int]]],
    sentences: list[str] | None = None,
    passages: list[int] | None = None,
    orientation: str = "row",
    drop: tuple[str, ...] = (),
    matrix_variable: str = "examples",
) -> Path:
    """Write a hand-made official-layout file; ``atlases`` maps atlas -> ROI -> 1-based columns.

    ``orientation`` flips every cell vector, so both loadmat orientations get exercised;
    ``drop`` leaves out top-level variables. ``matrix_variable="examples_passagesentences"``
    writes today's ``data_*.mat`` layout (with the passage-level ``examples_passages`` too).
    """
    n = examples.shape[0]
    sentences = sentences if sentences is not None else [f"Sentence number {i} about things." for i in range(n)]
    passages = passages if passages is not None else [i // 2 + 1 for i in range(n)]
    other = "column" if orientation == "row" else "row"
    meta = {
        "atlases": cell(list(atlases), orientation),
        "rois": cell([cell(list(rois), other) for rois in atlases.values()], orientation),
        "roiColumns": cell(
            [
                cell([np.asarray(c, dtype=float).reshape(-1, 1) for c in rois.values()], other)
                for rois in atlases.values()
            ],
            orientation,
        ),
    }
    contents = {
        matrix_variable: examples,
        "meta": meta,
        "keySentences": cell(sentences, "column"),
        "labelsPassageForEachSentence": np.asarray(passages, dtype=float).reshape(-1, 1),
    }
    if matrix_variable == "examples_passagesentences":
        contents["examples_passages"] = passage_means(examples, passages)
    for key in drop:
        contents.pop(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, contents)
    return path


def passage_means(examples: np.ndarray, passages: list[int]) -> np.ndarray:
    """The passage-level matrix of a ``data_*.mat`` file: mean of each passage's sentences."""
    labels = np.asarray(passages)
    return np.stack([examples[labels == p].mean(axis=0) for p in np.unique(labels)])


def write_small_mat_v73(
    path: Path,
    *,
    examples: np.ndarray,
    atlases: dict[str, dict[str, list[int]]],
    sentences: list[str],
    passages: list[int],
) -> Path:
    """The same content as :func:`write_small_mat` in today's ``data_*.mat`` layout, saved as
    MATLAB v7.3 does: HDF5 behind a 512-byte header, arrays transposed (column-major), cells
    as object references into ``#refs#``, text as uint16 codes, structs as groups."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as h5:
        refs = h5.create_group("#refs#")

        def tag(node, cls):
            node.attrs["MATLAB_class"] = np.bytes_(cls)
            return node

        def stored(value, name=None, where=None):
            if isinstance(value, str):
                data, cls = np.array([[ord(c) for c in value]], np.uint16).T, "char"
            elif isinstance(value, list):  # a cell vector, MATLAB shape (len, 1): its items first
                data, cls = np.array([[stored(item).ref for item in value]], dtype=h5py.ref_dtype), "cell"
            else:
                data, cls = np.asarray(value, dtype=np.float64).T, "double"
            where = where if where is not None else (refs if name is None else h5)
            return tag(where.create_dataset(name or f"r{len(refs)}", data=data), cls)

        stored(examples, "examples_passagesentences")
        stored(passage_means(examples, passages), "examples_passages")
        stored(sentences, "keySentences")
        stored(np.asarray(passages, dtype=float).reshape(-1, 1), "labelsPassageForEachSentence")
        meta = tag(h5.create_group("meta"), "struct")
        stored_in_meta = {
            "atlases": list(atlases),
            "rois": [list(rois) for rois in atlases.values()],
            "roiColumns": [[np.asarray(c, dtype=float).reshape(-1, 1) for c in rois.values()] for rois in atlases.values()],
        }
        for name, value in stored_in_meta.items():
            stored(value, name, meta)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."
    with open(path, "r+b") as handle:
        handle.write(header.ljust(124, b" ") + b"\x00\x02IM")
    return path


STANDARD_ATLASES = {
    "languageLH": {"LH_A": [1, 2], "LH_B": [3]},
    "languageRH": {"RH_A": [4, 5]},
    "MD": {"MD_A": [6, 7]},
    "DMN": {"DMN_A": [8, 9]},
    "visual": {"V_A": [10, 11, 12]},
}


@pytest.fixture
def small_mat():
    """The :func:`write_small_mat` builder (importlib mode cannot import conftest directly)."""
    return write_small_mat


@pytest.fixture
def small_mat_v73():
    """The :func:`write_small_mat_v73` builder."""
    return write_small_mat_v73


@pytest.fixture
def atlases() -> dict[str, dict[str, list[int]]]:
    """Atlas -> ROI -> 1-based columns for a 12-column examples matrix."""
    return {atlas: {roi: list(cols) for roi, cols in rois.items()} for atlas, rois in STANDARD_ATLASES.items()}
