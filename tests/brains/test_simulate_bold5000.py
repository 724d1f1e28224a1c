"""Simulated BOLD5000: raw format, determinism, and that the planted signal is where it was put."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from brainalign.brains.bold5000 import ROIS, image_source, load_bold5000, mat_files, stim_list_path
from brainalign.brains.simulate import RoiSimulation
from brainalign.brains.simulate_bold5000 import (
    Bold5000Simulation,
    feature_groups,
    make_stimulus_set,
    simulate_bold5000,
)
from brainalign.errors import ConfigError
from brainalign.ridge import cross_val_predict_ridge, grouped_folds

SETTINGS = Bold5000Simulation(n_images=60, image_size=16, repeated_images=6, n_repeats=2)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bold5000")
    simulate_bold5000(out / "ROIs", out / "images", ["CSI1", "CSI2"], seed=3, settings=SETTINGS)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_release_layout_trials_and_tr34(simulated):
    mats = {tr: scipy.io.loadmat(simulated / "ROIs" / "CSI1" / "mat" / f"CSI1_ROIs_TR{tr}.mat") for tr in ("1", "3", "4", "34")}
    keys = {f"{h}{roi}" for h in ("LH", "RH") for roi in ROIS}
    assert keys <= set(mats["1"])
    trials = (simulated / "ROIs" / "stim_lists" / "CSI01_stim_lists.txt").read_text().splitlines()
    assert len(trials) == 60 + 6 * 2 == mats["1"]["LHLOC"].shape[0]
    repeats = [t for t in trials if t.startswith("rep_")]
    assert len(repeats) == 12
    for rep in repeats:  # a repeat always follows the image's first, unprefixed presentation
        assert trials.index(rep.removeprefix("rep_")) < trials.index(rep)
    np.testing.assert_allclose(mats["34"]["RHPPA"], (mats["3"]["RHPPA"] + mats["4"]["RHPPA"]) / 2)
    images = sorted(p.name for p in (simulated / "images").rglob("*.*"))
    assert len(images) == 60 and {image_source(n) for n in images} == {"COCO", "ImageNet", "Scene"}
    for name in images:
        assert (simulated / "images" / image_source(name) / name).is_file()


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(simulated, tmp_path):
    simulate_bold5000(tmp_path / "ROIs", tmp_path / "images", ["CSI1", "CSI2"], seed=3, settings=SETTINGS)
    assert _files(tmp_path) == _files(simulated)
    simulate_bold5000(tmp_path / "other" / "ROIs", tmp_path / "other" / "images", ["CSI1"], seed=4, settings=SETTINGS)
    assert _files(tmp_path / "other")["ROIs/CSI1/mat/CSI1_ROIs_TR34.mat"] != _files(simulated)["ROIs/CSI1/mat/CSI1_ROIs_TR34.mat"]


def test_subjects_see_the_same_images_in_different_orders(simulated):
    lists = [(simulated / "ROIs" / "stim_lists" / f"CSI0{n}_stim_lists.txt").read_text().splitlines() for n in (1, 2)]
    assert lists[0] != lists[1] and sorted(lists[0]) == sorted(lists[1])


def _encoding_r(features: np.ndarray, voxels: np.ndarray, groups) -> float:
    folds = grouped_folds(np.asarray(groups), 5, seed=0)
    predicted = cross_val_predict_ridge(features, voxels, [1.0, 10.0, 100.0, 1000.0], folds)
    p = (predicted - predicted.mean(0)) / predicted.std(0)
    a = (voxels - voxels.mean(0)) / voxels.std(0)
    return float((p * a).mean())


def test_planted_signal_sits_in_the_documented_rois(tmp_path):
    """Known answer: each ROI is best predicted by the feature group ROI_MIX gives it; RSC is weakest."""
    settings = Bold5000Simulation(n_images=200, image_size=16, repeated_images=0)
    simulate_bold5000(tmp_path / "ROIs", tmp_path / "images", ["CSI1"], seed=0, settings=settings)
    store = load_bold5000(
        mat_files(tmp_path / "ROIs", "CSI1", ["34"]), stim_list_path(tmp_path / "ROIs", "CSI1"), tmp_path / "images",
        subject="CSI1",
    )
    stimuli = make_stimulus_set(200, 16, seed=0)
    order = [stimuli.names.index(s) for s in store.stimulus_ids]
    groups = {name: matrix[order] for name, matrix in feature_groups(stimuli).items()}
    r = {roi: {g: _encoding_r(groups[g], store.rois[roi], store.groups) for g in groups} for roi in ROIS}
    assert r["EarlyVis"]["low"] > max(r["EarlyVis"]["object"], r["EarlyVis"]["scene"])
    assert r["LOC"]["object"] > max(r["LOC"]["low"], r["LOC"]["scene"])
    assert r["PPA"]["scene"] > max(r["PPA"]["low"], r["PPA"]["object"])
    assert r["RSC"]["scene"] < r["PPA"]["scene"] / 2
    assert r["EarlyVis"]["low"] > 0.2


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="repeated_images"):
        Bold5000Simulation(n_images=10, repeated_images=11)
    with pytest.raises(ConfigError, match="must list exactly"):
        Bold5000Simulation(rois={"LOC": RoiSimulation(10, 1.0)})
    with pytest.raises(ConfigError, match="CSI<N>"):
        simulate_bold5000("/nonexistent", "/nonexistent", ["S01"], seed=0, settings=SETTINGS)
