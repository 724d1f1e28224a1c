"""Fixtures for the brains tests: the shipped stimuli, simulated raw files, a small .mat builder."""

from __future__ import annotations

from pathlib import Path

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
) -> Path:
    """Write a hand-made official-layout file; ``atlases`` maps atlas -> ROI -> 1-based columns.

    ``orientation`` flips every cell vector, so both loadmat orientations get exercised;
    ``drop`` leaves out top-level variables.
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
        "examples": examples,
        "meta": meta,
        "keySentences": cell(sentences, "column"),
        "labelsPassageForEachSentence": np.asarray(passages, dtype=float).reshape(-1, 1),
    }
    for key in drop:
        contents.pop(key)
    scipy.io.savemat(path, contents)
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
def atlases() -> dict[str, dict[str, list[int]]]:
    """Atlas -> ROI -> 1-based columns for a 12-column examples matrix."""
    return {atlas: {roi: list(cols) for roi, cols in rois.items()} for atlas, rois in STANDARD_ATLASES.items()}
