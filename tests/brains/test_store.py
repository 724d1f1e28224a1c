"""The per-subject HDF5 store and voxel cleaning."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest

from brainalign.brains import store
from brainalign.brains.store import SubjectResponses, clean_voxels, read_subject_store, write_subject_store
from brainalign.errors import DataError


def make_responses(**overrides) -> SubjectResponses:
    rng = np.random.default_rng(0)
    fields = dict(
        dataset="pereira",
        subject="P01",
        stimulus_ids=("384sentences_001", "384sentences_002", "384sentences_003", "243sentences_001"),
        stimulus_texts=("Bees make honey.", "Glaciers carve valleys – slowly.", "Café au lait, naïve.", "Chess."),
        groups=("384sentences_p001", "384sentences_p001", "384sentences_p002", "243sentences_p001"),
        rois={"language": rng.normal(size=(4, 5)), "visual": rng.normal(size=(4, 3))},
        simulated=True,
        provenance={"source:examples_384sentences.mat": "ab" * 32, "loader": "test", "dropped_voxels:language": "3"},
    )
    fields.update(overrides)
    return SubjectResponses(**fields)


def test_round_trip_keeps_every_field(tmp_path):
    original = make_responses()
    path = tmp_path / "out" / "P01.h5"
    write_subject_store(path, original)
    loaded = read_subject_store(path)
    for name in ("dataset", "subject", "stimulus_ids", "stimulus_texts", "groups", "sessions", "simulated", "provenance"):
        assert getattr(loaded, name) == getattr(original, name), name
    assert list(loaded.rois) == ["language", "visual"]  # insertion order survives
    for roi, matrix in original.rois.items():
        assert loaded.rois[roi].dtype == np.float32
        np.testing.assert_array_equal(loaded.rois[roi], matrix)
    assert [p.name for p in path.parent.iterdir()] == ["P01.h5"]  # no temporary left behind


def test_sessions_default_to_one_block_and_round_trip(tmp_path):
    assert make_responses().sessions == (store.SINGLE_SESSION,) * 4
    two = make_responses(sessions=("384sentences",) * 3 + ("243sentences",))
    assert two.n_sessions == 2
    write_subject_store(tmp_path / "s.h5", two)
    assert read_subject_store(tmp_path / "s.h5").sessions == two.sessions
    with pytest.raises(DataError, match="sessions"):
        make_responses(sessions=("a", "b"))


def test_round_trip_of_simulated_false(tmp_path):
    write_subject_store(tmp_path / "s.h5", make_responses(simulated=False, provenance={}))
    loaded = read_subject_store(tmp_path / "s.h5")
    assert loaded.simulated is False and loaded.provenance == {}


@pytest.mark.parametrize("keep_fraction", [0.5, 0.9, 0.02])
def test_truncated_store_raises_data_error_naming_file(tmp_path, keep_fraction):
    path = tmp_path / "P01.h5"
    write_subject_store(path, make_responses(rois={"language": np.random.default_rng(1).normal(size=(4, 2000))}))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    with pytest.raises(DataError, match="P01.h5"):
        read_subject_store(path)


def test_missing_store_raises_data_error(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.h5.*not found"):
        read_subject_store(tmp_path / "nothere.h5")


def test_store_without_rois_group_raises_data_error(tmp_path):
    path = tmp_path / "bad.h5"
    write_subject_store(path, make_responses())
    with h5py.File(path, "a") as h5:
        del h5["rois"]
    with pytest.raises(DataError, match=r"bad\.h5.*lacks"):
        read_subject_store(path)


def test_duplicate_ids_raise_data_error_naming_them():
    with pytest.raises(DataError, match=r"duplicate stimulus ids \['a'\]"):
        make_responses(stimulus_ids=("a", "b", "a", "c"))


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        ({"groups": ("g", "g", "h")}, "one entry per stimulus"),
        ({"rois": {"language": np.zeros((3, 2))}}, r"shape \(3, 2\)"),
        ({"rois": {"language": np.zeros((4, 0))}}, "no voxels"),
        ({"rois": {"language": np.full((4, 2), np.nan)}}, "NaN"),
        ({"rois": {}}, "no ROIs"),
        ({"subject": ""}, "subject"),
    ],
)
def test_invalid_responses_are_rejected(overrides, pattern):
    with pytest.raises(DataError, match=pattern):
        make_responses(**overrides)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "P01.h5"

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.h5py.Group, "create_group", boom)
    with pytest.raises(RuntimeError):
        write_subject_store(path, make_responses())
    assert list(tmp_path.iterdir()) == []


def test_clean_voxels_drops_and_counts(caplog):
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(6, 10))
    matrix[:, 2] = np.nan
    matrix[3, 5] = np.inf
    matrix[1, 7] = 1e300  # finite in float64, inf in float32
    matrix[:, 8] = 4.0
    with caplog.at_level(logging.INFO, logger="brainalign.brains.store"):
        cleaned, counts = clean_voxels(matrix, "language", "subj.mat")
    assert counts == {"total": 10, "nan": 3, "constant": 1, "kept": 6}
    assert cleaned.dtype == np.float32
    np.testing.assert_array_equal(cleaned, matrix[:, [0, 1, 3, 4, 6, 9]].astype(np.float32))
    assert "roi language: dropped 3 NaN and 1 constant voxels of 10 (file subj.mat)" in caplog.text
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_clean_voxels_all_nan_raises_naming_roi_and_file():
    with pytest.raises(DataError, match=r"ROI 'dmn' in subj\.mat has no usable voxels"):
        clean_voxels(np.full((5, 4), np.nan), "dmn", "subj.mat")


def test_clean_voxels_constant_only_raises():
    matrix = np.tile(np.arange(4.0), (5, 1))  # every column constant across stimuli
    with pytest.raises(DataError, match=r"ROI 'task' in subj\.mat has no usable voxels.*4 constant"):
        clean_voxels(matrix, "task", "subj.mat")
