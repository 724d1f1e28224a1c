"""BOLD5000 ROI-release loader and stimulus images: known answers on hand-made files, bad inputs."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from brainalign.brains.bold5000 import (
    ROIS,
    find_image,
    image_source,
    load_bold5000,
    read_roi_mat,
    read_stimulus_images,
    roi_mat_path,
    stim_list_path,
    subject_number,
)
from brainalign.brains.store import read_subject_store, write_subject_store
from brainalign.errors import ConfigError, DataError

NAMES = ["COCO_train2014_000000000042.jpg", "n01440764_10110.JPEG", "airplanecabin1.jpg"]
TRIALS = [NAMES[0], NAMES[1], "rep_" + NAMES[0], NAMES[2], "rep_" + NAMES[0]]


def _write_images(image_dir: Path, names=NAMES, size=(40, 30), flat=False) -> None:
    for i, name in enumerate(names):
        path = image_dir / name if flat else image_dir / image_source(name) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.full((size[1], size[0], 3), 40 * i, dtype=np.uint8)
        Image.fromarray(pixels).save(path, format="JPEG", quality=95)


def _mats(n_trials: int, offset: float = 0.0, voxels: int = 3) -> dict[str, np.ndarray]:
    """Trial t of voxel v of each ROI key holds offset + 10 t + v (+100 for RH)."""
    out = {}
    for roi in ROIS:
        for h, base in (("LH", 0.0), ("RH", 100.0)):
            t = np.arange(n_trials)[:, None] * 10.0
            out[f"{h}{roi}"] = offset + base + t + np.arange(voxels)[None, :]
    return out


@pytest.fixture
def release(tmp_path: Path) -> dict[str, Path]:
    raw, images = tmp_path / "ROIs", tmp_path / "Presented_Stimuli"
    for tr, offset in (("3", 0.0), ("4", 2.0)):
        path = roi_mat_path(raw, "CSI1", tr)
        path.parent.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(path, _mats(len(TRIALS), offset))
    stim = raw / "stim_lists" / "CSI01_stim_lists.txt"
    stim.parent.mkdir()
    stim.write_text("\n".join(TRIALS) + "\n")
    _write_images(images)
    return {"raw": raw, "images": images, "stim": stim, "tr3": roi_mat_path(raw, "CSI1", 3), "tr4": roi_mat_path(raw, "CSI1", 4)}


def test_image_source_from_the_file_name():
    assert [image_source(n) for n in NAMES] == ["COCO", "ImageNet", "Scene"]
    assert image_source("rep_n01440764_10110.JPEG") == "ImageNet"


def test_repeats_and_trs_are_averaged_and_hemispheres_combined(release):
    responses = load_bold5000([release["tr3"], release["tr4"]], release["stim"], release["images"], subject="CSI1")
    assert responses.stimulus_ids == tuple(NAMES) and responses.stimulus_texts == tuple(NAMES)
    assert responses.groups == tuple(NAMES)  # cv_groups: image
    assert list(responses.rois) == list(ROIS)
    loc = responses.rois["LOC"]
    assert loc.shape == (3, 6)
    # Image 0 shown at trials 0, 2, 4 -> mean 10*t = 20; TR3/TR4 offsets 0 and 2 -> +1.
    np.testing.assert_allclose(loc[:, 0], [21.0, 11.0, 31.0])
    np.testing.assert_allclose(loc[0, 3:], [121.0, 122.0, 123.0])  # RH voxels after LH
    assert responses.provenance["trs"] == "3,4" and responses.provenance["n_repeated_images"] == "1"


def test_separate_hemispheres_source_groups_and_roi_subset(release):
    responses = load_bold5000(
        [release["tr3"]], release["stim"], release["images"], subject="CSI1",
        rois=["LOC", "OPA"], hemispheres="separate", cv_groups="source",
    )
    assert list(responses.rois) == ["LHLOC", "RHLOC", "LHOPA", "RHOPA"]
    assert responses.groups == ("COCO", "ImageNet", "Scene")


def test_store_round_trip(release, tmp_path):
    responses = load_bold5000([release["tr3"]], release["stim"], release["images"], subject="CSI1", simulated=True)
    write_subject_store(tmp_path / "CSI1.h5", responses)
    back = read_subject_store(tmp_path / "CSI1.h5")
    assert back.stimulus_ids == responses.stimulus_ids and back.simulated
    np.testing.assert_array_equal(back.rois["PPA"], responses.rois["PPA"])


def test_matlab_v73_hdf5_files_are_read_transposed(release, tmp_path):
    path = tmp_path / "CSI1_ROIs_TR34.mat"
    with h5py.File(path, "w") as h5:
        for key, matrix in _mats(len(TRIALS)).items():
            h5.create_dataset(key, data=matrix.T)  # MATLAB stores column-major
    contents = read_roi_mat(path)
    np.testing.assert_array_equal(contents["LHLOC"], _mats(len(TRIALS))["LHLOC"])
    v5 = load_bold5000([release["tr3"]], release["stim"], release["images"], subject="CSI1")
    v73 = load_bold5000([path], release["stim"], release["images"], subject="CSI1")
    np.testing.assert_array_equal(v5.rois["RSC"], v73.rois["RSC"])


def test_trial_count_mismatch_names_both_files(release):
    release["stim"].write_text("\n".join(TRIALS[:4]) + "\n")
    with pytest.raises(DataError, match=r"CSI1_ROIs_TR3\.mat.*CSI01_stim_lists\.txt.*4 trials"):
        load_bold5000([release["tr3"]], release["stim"], release["images"], subject="CSI1")


def test_unknown_roi_names_are_rejected(release):
    with pytest.raises(ConfigError, match="unknown ROI names \\['FFA'\\]"):
        load_bold5000([release["tr3"]], release["stim"], release["images"], subject="CSI1", rois=["LOC", "FFA"])
    contents = _mats(len(TRIALS))
    del contents["RHOPA"]
    scipy.io.savemat(release["tr3"], contents)
    with pytest.raises(DataError, match="CSI1_ROIs_TR3.mat has no matrix 'RHOPA'"):
        load_bold5000([release["tr3"]], release["stim"], release["images"], subject="CSI1")


def test_missing_images_and_files_are_named(release):
    (release["images"] / "Scene" / NAMES[2]).unlink()
    with pytest.raises(DataError, match=r"1 images of stimulus list .*CSI01_stim_lists.txt.*airplanecabin1\.jpg"):
        load_bold5000([release["tr3"]], release["stim"], release["images"], subject="CSI1")
    with pytest.raises(DataError, match="CSI1_ROIs_TR5.mat not found"):
        read_roi_mat(roi_mat_path(release["raw"], "CSI1", 5))
    release["tr4"].write_bytes(release["tr4"].read_bytes()[:200])
    with pytest.raises(DataError, match="CSI1_ROIs_TR4.mat"):
        read_roi_mat(release["tr4"])


def test_stim_list_and_subject_names(tmp_path):
    assert subject_number("CSI4") == 4
    with pytest.raises(ConfigError, match="CSI<N>"):
        subject_number("S01")
    assert stim_list_path(tmp_path, "CSI2").name == "CSI02_stim_lists.txt"
    (tmp_path / "stim_lists").mkdir()
    (tmp_path / "stim_lists" / "CSI2_stim_lists.txt").write_text("a.jpg\n")
    assert stim_list_path(tmp_path, "CSI2").name == "CSI2_stim_lists.txt"
    with pytest.raises(ConfigError, match="TR"):
        roi_mat_path(tmp_path, "CSI1", 6)


def test_read_stimulus_images_crops_resizes_and_finds_flat_or_source_folders(tmp_path):
    _write_images(tmp_path / "sub")
    _write_images(tmp_path / "flat", flat=True)
    assert find_image(tmp_path / "sub", NAMES[1]) == tmp_path / "sub" / "ImageNet" / NAMES[1]
    for folder in ("sub", "flat"):
        images = read_stimulus_images(tmp_path / folder, NAMES, 16)
        assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
        np.testing.assert_allclose(images[:, 8, 8, 0], [0, 40, 80], atol=3)
    with pytest.raises(DataError, match="'missing.jpg' not found"):
        read_stimulus_images(tmp_path / "flat", ["missing.jpg"], 16)
    (tmp_path / "flat" / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="cannot decode stimulus image .*bad.jpg"):
        read_stimulus_images(tmp_path / "flat", ["bad.jpg"], 16)
