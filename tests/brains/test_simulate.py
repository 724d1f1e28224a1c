"""The simulator (determinism, planted signal, raw formats) and the shipped stimulus set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brainalign.brains.simulate import (
    DEFAULT_ROIS,
    RoiSimulation,
    content_words,
    hidden_features,
    simulate_responses,
    simulate_subject,
    write_pereira_627,
)
from brainalign.brains.stimuli import load_sentence_stimuli
from brainalign.errors import ConfigError, DataError
from brainalign.io import sha256_file

SEED = 7
REPO = Path(__file__).resolve().parents[2]
TSV = REPO / "resources" / "stimuli" / "sentences.tsv"


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("fmt", ["mat", "npy627"])
def test_same_seed_gives_byte_identical_files(tmp_path, stimuli, fmt):
    first = simulate_subject(tmp_path / "a", stimuli, "S01", seed=SEED, fmt=fmt)
    second = simulate_subject(tmp_path / "b", stimuli, "S01", seed=SEED, fmt=fmt)
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.parametrize("fmt", ["mat", "npy627"])
def test_different_seed_or_subject_gives_different_files(tmp_path, stimuli, fmt):
    base = simulate_subject(tmp_path / "a", stimuli, "S01", seed=SEED, fmt=fmt)[-1]
    other_seed = simulate_subject(tmp_path / "b", stimuli, "S01", seed=SEED + 1, fmt=fmt)[-1]
    other_subject = simulate_subject(tmp_path / "c", stimuli, "S02", seed=SEED, fmt=fmt)[-1]
    assert base.read_bytes() != other_seed.read_bytes()
    assert base.read_bytes() != other_subject.read_bytes()


def test_files_do_not_depend_on_python_hash_seed(tmp_path, mat_file, npy627_files):
    """Vectors are seeded by sha256, not the per-process salted hash(): a new process agrees."""
    code = (
        "import sys; from brainalign.brains.stimuli import load_sentence_stimuli;"
        "from brainalign.brains.simulate import simulate_subject;"
        "stimuli = load_sentence_stimuli(sys.argv[2]);"
        f"[simulate_subject(sys.argv[1], stimuli, 'S01', seed={SEED}, fmt=f) for f in ('mat', 'npy627')]"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", code, str(tmp_path), str(TSV)], check=True, env=env, cwd=REPO)
    assert sha256_file(tmp_path / "S01" / "examples_simulated.mat") == sha256_file(mat_file)
    assert sha256_file(tmp_path / "S01.npy") == sha256_file(npy627_files[2])


def test_hidden_features_are_shared_across_subjects_and_standardised(stimuli):
    h = hidden_features(stimuli, seed=SEED)
    assert h.shape == (128, 48)
    np.testing.assert_allclose(h.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(h.std(axis=0), 1, atol=1e-12)
    assert not np.allclose(h, hidden_features(stimuli, seed=SEED + 1))


# --------------------------------------------------------------------------- planted signal


def decoding_score(responses: np.ndarray, hidden: np.ndarray, train: np.ndarray) -> float:
    """Mean correlation of held-out hidden features with a ridge decoder fitted on ``train``."""
    mu, sd = responses[train].mean(axis=0), responses[train].std(axis=0)
    z = (responses - mu) / sd
    gram = z[train].T @ z[train] + z.shape[1] * np.eye(z.shape[1])
    coef = np.linalg.solve(gram, z[train].T @ hidden[train])
    predicted, actual = z[~train] @ coef, hidden[~train]
    return float(np.mean([np.corrcoef(predicted[:, j], actual[:, j])[0, 1] for j in range(hidden.shape[1])]))


@pytest.mark.parametrize("seed", [0, 1])
def test_language_carries_signal_and_visual_does_not(stimuli, seed):
    hidden = hidden_features(stimuli, seed=seed)
    responses = simulate_responses(stimuli, "S01", seed=seed, inject_bad_voxels=False)
    # Alternate passages: no passage straddles train and test, every topic is in both.
    train = np.array([int(p[1:]) % 2 == 1 for p in stimuli.passages])
    scores = {roi: decoding_score(y, hidden, train) for roi, y in responses.items()}
    assert scores["language"] > 0.5
    assert abs(scores["visual"]) < 0.1
    assert scores["language"] > scores["dmn"] > scores["task"] > scores["visual"] - 0.05


def test_bad_voxels_are_injected_in_first_roi_only(responses):
    language = responses["language"]
    assert (~np.isfinite(language).all(axis=0)).sum() == 3
    finite = language[:, np.isfinite(language).all(axis=0)]
    assert (np.ptp(finite, axis=0) == 0).sum() == 1
    for roi in ("task", "dmn", "visual"):
        assert np.isfinite(responses[roi]).all() and (np.ptp(responses[roi], axis=0) > 0).all()
        assert responses[roi].shape == (128, DEFAULT_ROIS[roi].n_voxels)


def test_content_words():
    assert content_words("The knight's move, in chess, is an L-shape!") == ["knight's", "move", "chess", "l-shape"]
    assert content_words("The of and.") == []


# --------------------------------------------------------------------------- config errors


def test_bad_simulation_settings(tmp_path, stimuli):
    with pytest.raises(ConfigError, match="'mat' or 'npy627'"):
        simulate_subject(tmp_path, stimuli, "S01", seed=1, fmt="csv")
    with pytest.raises(ConfigError, match="plain file name"):
        simulate_subject(tmp_path, stimuli, "../S01", seed=1, fmt="mat")
    with pytest.raises(ConfigError, match="seed must be an integer"):
        simulate_responses(stimuli, "S01", seed="1")
    with pytest.raises(ConfigError, match="n_voxels"):
        RoiSimulation(n_voxels=0, snr=1.0)
    with pytest.raises(ConfigError, match="snr"):
        RoiSimulation(n_voxels=10, snr=-1.0)
    with pytest.raises(ConfigError, match=r"need exactly \['dmn', 'language', 'task', 'visual'\]"):
        simulate_subject(tmp_path, stimuli, "S01", seed=1, fmt="mat", rois={"language": RoiSimulation(50, 1.0)})
    assert not any(tmp_path.rglob("*.mat"))


def test_writer_rejects_wrong_row_count(tmp_path, stimuli, responses):
    short = {roi: m[:-1] for roi, m in responses.items()}
    with pytest.raises(DataError, match=r"shape \(127, 400\)"):
        write_pereira_627(tmp_path / "stimuli.txt", tmp_path / "s.npy", stimuli, short)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- the shipped stimuli


def test_shipped_stimulus_set_is_well_formed(stimuli):
    assert len(stimuli) >= 128
    passages = stimuli.unique_passages
    assert len(passages) >= 32
    assert all(stimuli.passages.count(p) == 4 for p in passages)
    per_topic: dict[str, set[str]] = {}
    for passage, topic in zip(stimuli.passages, stimuli.topics, strict=True):
        per_topic.setdefault(topic, set()).add(passage)
    assert len(per_topic) == 8 and all(len(ps) == 4 for ps in per_topic.values())
    for sentence in stimuli.sentences:
        assert 8 <= len(sentence.split()) <= 18, sentence
        assert not set(sentence) & {"\t", '"', "'"}, sentence
        assert sentence.endswith(".")
    assert len(set(stimuli.sentences)) == len(stimuli)
    assert stimuli.stimulus_ids[:2] == ("s001", "s002") and passages[0] == "p01"


@pytest.mark.parametrize(
    "body, pattern",
    [
        ("id\tpassage\ttopic\tsentence\n", "must start with the tab-separated header"),
        ("stimulus_id\tpassage\ttopic\tsentence\ns1\tp1\tt\tA.\ns1\tp1\tt\tB.\n", r"repeats stimulus ids \['s1'\]"),
        ("stimulus_id\tpassage\ttopic\tsentence\ns1\tp1\tt\tA.\ns2\tp1\tu\tB.\n", "passage 'p1' is listed under"),
        ("stimulus_id\tpassage\ttopic\tsentence\ns1\tp1\tt\n", "line 2 has 3 tab-separated fields"),
        ("stimulus_id\tpassage\ttopic\tsentence\ns1\tp1\t \tA.\n", "line 2 has an empty field"),
        ("stimulus_id\tpassage\ttopic\tsentence\n", "no sentences"),
    ],
)
def test_bad_stimulus_files(tmp_path, body, pattern):
    path = tmp_path / "bad.tsv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=rf"bad\.tsv.*{pattern}|{pattern}.*bad\.tsv"):
        load_sentence_stimuli(path)


def test_missing_stimulus_file(tmp_path):
    with pytest.raises(DataError, match=r"gone\.tsv not found"):
        load_sentence_stimuli(tmp_path / "gone.tsv")
