"""Loaders for the official Pereira .mat files and the 627-sentence layout."""

from __future__ import annotations

import logging
import re

import h5py
import numpy as np
import pytest

from brainalign.brains.pereira import find_experiment_file, load_pereira_627, load_pereira_mat
from brainalign.brains.pereira_mat import read_experiment
from brainalign.brains.simulate import write_pereira_mat
from brainalign.brains.stimuli import SentenceStimuli
from brainalign.errors import ConfigError, DataError

ROIS = ["language", "task", "dmn", "visual"]


def expected_after_cleaning(matrix: np.ndarray) -> np.ndarray:
    """The simulator's matrix minus the voxels the loader must drop."""
    keep = np.isfinite(matrix).all(axis=0) & (np.ptp(matrix, axis=0) > 0)
    return matrix[:, keep].astype(np.float32)


# --------------------------------------------------------------------------- round trips


def test_mat_round_trip(mat_file, stimuli, responses, caplog):
    with caplog.at_level(logging.INFO, logger="brainalign"):
        loaded = load_pereira_mat([mat_file], subject="S01", simulated=True)
    assert list(loaded.rois) == ROIS
    for roi in ROIS:
        np.testing.assert_array_equal(loaded.rois[roi], expected_after_cleaning(responses[roi]), err_msg=roi)
    assert loaded.stimulus_ids == tuple(f"simulated_{i:03d}" for i in range(1, 129))
    assert loaded.stimulus_texts == stimuli.sentences
    # Groups come from 1-based passage numbers; they must partition stimuli exactly like the TSV.
    assert loaded.groups[0] == "simulated_p001" and loaded.groups[-1] == "simulated_p032"
    assert len(set(zip(loaded.groups, stimuli.passages))) == len(set(stimuli.passages)) == len(set(loaded.groups))
    assert loaded.simulated and loaded.subject == "S01" and loaded.dataset == "pereira"
    prov = loaded.provenance
    assert prov["dropped_voxels:language"] == "4"
    assert prov["dropped_nan_voxels:language"] == "3" and prov["dropped_constant_voxels:language"] == "1"
    assert prov["dropped_voxels:visual"] == "0"
    assert re.fullmatch(r"[0-9a-f]{64}", prov["source:examples_simulated.mat"])
    assert prov["network:language"] == "languageLH+languageRH"
    assert "roi language: dropped 3 NaN and 1 constant voxels of 400" in caplog.text


def test_627_round_trip_matches_mat(npy627_files, mat_file, stimuli, responses, caplog):
    stimuli_txt, passages_txt, subject_npy = npy627_files
    with caplog.at_level(logging.WARNING, logger="brainalign"):
        loaded = load_pereira_627(
            stimuli_txt, subject_npy, subject="S01", trust_pickled_subject_files=True, passages_path=passages_txt
        )
    assert "dropped 3 NaN and 1 constant voxels" in caplog.text
    from_mat = load_pereira_mat(mat_file, subject="S01")
    assert list(loaded.rois) == list(from_mat.rois) == ROIS
    for roi in ROIS:
        np.testing.assert_array_equal(loaded.rois[roi], expected_after_cleaning(responses[roi]))
        np.testing.assert_array_equal(loaded.rois[roi], from_mat.rois[roi])
    assert loaded.stimulus_ids == tuple(f"s{i:03d}" for i in range(1, 129))
    assert loaded.stimulus_texts == stimuli.sentences
    assert loaded.groups == stimuli.passages
    assert loaded.provenance["dropped_voxels:language"] == "4"


def test_627_with_explicit_block_size_uses_blocks_and_warns(npy627_files, caplog):
    stimuli_txt, _, subject_npy = npy627_files
    with caplog.at_level(logging.WARNING, logger="brainalign.brains.pereira_627"):
        loaded = load_pereira_627(
            stimuli_txt, subject_npy, subject="S01", trust_pickled_subject_files=True, passage_block_size=4
        )
    assert loaded.groups[:5] == ("p001", "p001", "p001", "p001", "p002")
    assert "no passage file" in caplog.text and loaded.provenance["passages"] == "consecutive blocks of 4"


def test_627_refuses_to_guess_passages(npy627_files):
    stimuli_txt, _, subject_npy = npy627_files
    with pytest.raises(ConfigError, match=r"stimuli\.txt \(128 sentences\) has no passage labels.*passages_file.*"
                       r"passage_block_size"):
        load_pereira_627(stimuli_txt, subject_npy, subject="S01", trust_pickled_subject_files=True)


def test_two_experiments_are_concatenated(tmp_path, stimuli, responses):
    halves = {}
    for name, rows in (("384sentences", slice(0, 64)), ("243sentences", slice(64, 128))):
        part = SentenceStimuli(
            stimuli.stimulus_ids[rows], stimuli.passages[rows], stimuli.topics[rows], stimuli.sentences[rows]
        )
        halves[name] = tmp_path / f"examples_{name}.mat"
        write_pereira_mat(halves[name], part, {roi: m[rows] for roi, m in responses.items()})
    loaded = load_pereira_mat([halves["384sentences"], halves["243sentences"]], subject="P01")
    assert loaded.stimulus_ids[63:65] == ("384sentences_064", "243sentences_001")
    assert loaded.groups[0] == "384sentences_p001" and loaded.groups[64] == "243sentences_p001"
    assert loaded.sessions == ("384sentences",) * 64 + ("243sentences",) * 64  # scanned apart: one session each
    assert loaded.stimulus_texts == stimuli.sentences
    np.testing.assert_array_equal(loaded.rois["dmn"], expected_after_cleaning(responses["dmn"]))
    assert {"source:examples_384sentences.mat", "source:examples_243sentences.mat"} <= set(loaded.provenance)


@pytest.mark.parametrize("orientation", ["row", "column"])
def test_both_cell_orientations_and_column_union(tmp_path, small_mat, atlases, orientation):
    examples = np.arange(6 * 12, dtype=float).reshape(6, 12) ** 1.5
    path = tmp_path / f"examples_{orientation}.mat"
    small_mat(path, examples=examples, atlases=atlases, orientation=orientation)
    # ROI columns out of order and overlapping: the union is sorted and unique.
    loaded = load_pereira_mat(path, subject="M02", networks={"lang": ["languageRH", "languageLH"], "md": ["MD", "MD"]})
    np.testing.assert_array_equal(loaded.rois["lang"], examples[:, [0, 1, 2, 3, 4]].astype(np.float32))
    np.testing.assert_array_equal(loaded.rois["md"], examples[:, [5, 6]].astype(np.float32))
    assert loaded.groups == tuple(f"{orientation}_p{i // 2 + 1:03d}" for i in range(6))


# --------------------------------------------------------------------------- bad inputs


def test_missing_mat_file(tmp_path):
    with pytest.raises(DataError, match=r"examples_384sentences\.mat not found"):
        load_pereira_mat([tmp_path / "examples_384sentences.mat"], subject="P01")


@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_truncated_mat_file(tmp_path, mat_file, keep):
    path = tmp_path / "examples_384sentences.mat"
    data = mat_file.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DataError, match=r"examples_384sentences\.mat.*truncated or corrupt"):
        load_pereira_mat([path], subject="P01")


@pytest.mark.parametrize("variable", ["meta", "keySentences", "labelsPassageForEachSentence"])
def test_mat_without_required_variable(tmp_path, small_mat, atlases, variable):
    path = small_mat(tmp_path / "examples_x.mat", examples=np.random.rand(4, 12), atlases=atlases, drop=(variable,))
    with pytest.raises(DataError, match=rf"examples_x\.mat has no variable '{variable}'"):
        load_pereira_mat(path, subject="P01")


def test_unknown_atlas_lists_present_atlases(tmp_path, small_mat, atlases):
    path = small_mat(tmp_path / "examples_x.mat", examples=np.random.rand(4, 12), atlases=atlases)
    with pytest.raises(DataError, match=r"examples_x\.mat has no atlas \['languageLH_typo'\].*'visual'"):
        load_pereira_mat(path, subject="P01", networks={"language": ["languageLH_typo"]})


@pytest.mark.parametrize("bad_column", [13, 0])
def test_column_index_out_of_range(tmp_path, small_mat, atlases, bad_column):
    atlases["MD"]["MD_A"].append(bad_column)
    path = small_mat(tmp_path / "examples_x.mat", examples=np.random.rand(4, 12), atlases=atlases)
    with pytest.raises(DataError, match=rf"examples_x\.mat: ROI 'MD_A' of atlas 'MD' has column index {bad_column}"):
        load_pereira_mat(path, subject="P01")


def test_all_nan_roi(tmp_path, small_mat, atlases):
    examples = np.random.rand(4, 12)
    examples[:, 7:9] = np.nan  # every DMN column
    path = small_mat(tmp_path / "examples_x.mat", examples=examples, atlases=atlases)
    with pytest.raises(DataError, match=r"ROI 'dmn' in .*examples_x\.mat has no usable voxels"):
        load_pereira_mat(path, subject="P01")


def test_constant_only_roi(tmp_path, small_mat, atlases):
    examples = np.random.rand(4, 12)
    examples[:, 9:12] = 2.5  # every visual column constant
    path = small_mat(tmp_path / "examples_x.mat", examples=examples, atlases=atlases)
    with pytest.raises(DataError, match=r"ROI 'visual' in .*examples_x\.mat has no usable voxels"):
        load_pereira_mat(path, subject="P01")


def test_sentence_count_differs_from_rows(tmp_path, small_mat, atlases):
    path = small_mat(
        tmp_path / "examples_x.mat", examples=np.random.rand(4, 12), atlases=atlases, sentences=["A.", "B.", "C."]
    )
    with pytest.raises(DataError, match=r"examples_x\.mat: examples has 4 rows, keySentences 3 entries"):
        load_pereira_mat(path, subject="P01")


def test_experiments_with_different_voxel_counts(tmp_path, small_mat, atlases):
    a = small_mat(tmp_path / "examples_a.mat", examples=np.random.rand(4, 12), atlases=atlases)
    b = small_mat(tmp_path / "examples_b.mat", examples=np.random.rand(4, 13), atlases=atlases)
    with pytest.raises(DataError, match=r"examples_a\.mat \(12 voxel columns\) and .*examples_b\.mat \(13\)"):
        load_pereira_mat([a, b], subject="P01")


def test_bad_networks_config(tmp_path, small_mat, atlases):
    path = small_mat(tmp_path / "examples_x.mat", examples=np.random.rand(4, 12), atlases=atlases)
    with pytest.raises(ConfigError, match=r"networks\.language"):
        load_pereira_mat(path, subject="P01", networks={"language": "languageLH"})


def test_untrusted_pickle_is_refused(npy627_files):
    stimuli_txt, _, subject_npy = npy627_files
    with pytest.raises(ConfigError, match=r"S01\.npy.*trust_pickled_subject_files: true"):
        load_pereira_627(stimuli_txt, subject_npy, subject="S01", trust_pickled_subject_files=False)


def test_627_wrong_line_count(tmp_path, npy627_files):
    stimuli_txt, _, subject_npy = npy627_files
    short = tmp_path / "stimuli.txt"
    short.write_text("".join(stimuli_txt.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(DataError, match=r"S01\.npy: 'language' has shape \(128, 400\).*stimuli\.txt has 127 lines"):
        load_pereira_627(short, subject_npy, subject="S01", trust_pickled_subject_files=True, passage_block_size=4)


def test_627_passage_file_wrong_line_count(tmp_path, npy627_files):
    stimuli_txt, _, subject_npy = npy627_files
    passages = tmp_path / "passages.txt"
    passages.write_text("p01\np02\n")
    with pytest.raises(DataError, match=r"passages\.txt has 2 lines"):
        load_pereira_627(
            stimuli_txt, subject_npy, subject="S01", trust_pickled_subject_files=True, passages_path=passages
        )


def test_627_missing_key(tmp_path, npy627_files):
    stimuli_txt = npy627_files[0]
    subject_npy = tmp_path / "subj1.npy"
    np.save(subject_npy, {"language": np.zeros((128, 3)), "task": np.zeros((128, 3))}, allow_pickle=True)
    with pytest.raises(DataError, match=r"subj1\.npy lacks keys \['dmn', 'vision'\]"):
        load_pereira_627(stimuli_txt, subject_npy, subject="S01", trust_pickled_subject_files=True, passage_block_size=4)


@pytest.mark.parametrize("content", [b"", b"\x93NUMPY garbage", b"not a pickle at all"])
def test_627_corrupt_subject_file(tmp_path, npy627_files, content):
    subject_npy = tmp_path / "subj1.npy"
    subject_npy.write_bytes(content)
    with pytest.raises(DataError, match=r"subj1\.npy"):
        load_pereira_627(npy627_files[0], subject_npy, subject="S01", trust_pickled_subject_files=True, passage_block_size=4)


def test_627_missing_files(tmp_path, npy627_files):
    with pytest.raises(DataError, match=r"nope\.txt not found"):
        load_pereira_627(tmp_path / "nope.txt", npy627_files[2], subject="S01", trust_pickled_subject_files=True, passage_block_size=4)
    with pytest.raises(DataError, match=r"nope\.npy not found"):
        load_pereira_627(npy627_files[0], tmp_path / "nope.npy", subject="S01", trust_pickled_subject_files=True, passage_block_size=4)


def test_627_layout_sessions_are_the_two_experiments():
    from brainalign.brains.pereira import sessions_627

    labels = sessions_627(627)
    assert labels[:384] == ("384sentences",) * 384 and labels[384:] == ("243sentences",) * 243
    assert sessions_627(128) is None  # not the 627 layout: one session


# --------------------------------------------------------------------------- both distributions


def _content(n: int = 8, v: int = 12) -> dict:
    rng = np.random.default_rng(3)
    return {
        "examples": rng.standard_normal((n, v)),
        "sentences": [f"Sentence {i} of the stand-in." for i in range(n)],
        "passages": [1, 1, 1, 2, 2, 2, 2, 3][:n],  # passages of 3-4 sentences, as in experiment 3
    }


def test_both_distributions_and_v73_give_identical_responses(tmp_path, small_mat, small_mat_v73, atlases):
    content = _content()
    old = small_mat(tmp_path / "old" / "examples_243sentences.mat", atlases=atlases, **content)
    new = small_mat(
        tmp_path / "new" / "data_243sentences.mat", atlases=atlases, matrix_variable="examples_passagesentences",
        **content,
    )
    hdf5 = small_mat_v73(tmp_path / "v73" / "data_243sentences.mat", atlases=atlases, **content)
    assert h5py.is_hdf5(hdf5) and hdf5.read_bytes()[:10] == b"MATLAB 7.3"
    loaded = [load_pereira_mat(path, subject="M02") for path in (old, new, hdf5)]
    for other in loaded[1:]:
        for name in ("stimulus_ids", "stimulus_texts", "groups", "sessions"):
            assert getattr(other, name) == getattr(loaded[0], name), name
        assert list(other.rois) == list(loaded[0].rois)
        for roi, matrix in loaded[0].rois.items():
            np.testing.assert_array_equal(other.rois[roi], matrix, err_msg=roi)
    assert loaded[0].stimulus_ids[0] == "243sentences_001" and loaded[0].groups[3] == "243sentences_p002"
    np.testing.assert_array_equal(loaded[0].rois["language"], content["examples"][:, :5].astype(np.float32))
    assert loaded[1].provenance["matrix:data_243sentences.mat"] == "examples_passagesentences"
    assert loaded[0].provenance["matrix:examples_243sentences.mat"] == "examples"


def test_metadata_only_read_matches_full_read(tmp_path, small_mat, small_mat_v73, atlases):
    content = _content()
    for path in (
        small_mat(tmp_path / "data_x.mat", atlases=atlases, matrix_variable="examples_passagesentences", **content),
        small_mat_v73(tmp_path / "v73" / "data_x.mat", atlases=atlases, **content),
    ):
        full, meta_only = read_experiment(path), read_experiment(path, matrix=False)
        assert meta_only.examples is None and full.examples.shape == (8, 12)
        assert (meta_only.n_voxels, meta_only.sentences, meta_only.passages) == (12, full.sentences, full.passages)
        assert meta_only.variable == "examples_passagesentences" and meta_only.experiment == "x"
        np.testing.assert_array_equal(meta_only.atlas_columns("languageLH"), [0, 1, 2])
        assert list(meta_only.atlases["visual"]) == ["V_A"]


def test_both_distributions_for_one_experiment_is_an_error(tmp_path, small_mat, atlases):
    content = _content()
    subject_dir = tmp_path / "P01"
    old = small_mat(subject_dir / "examples_384sentences.mat", atlases=atlases, **content)
    new = small_mat(
        subject_dir / "data_384sentences.mat", atlases=atlases, matrix_variable="examples_passagesentences", **content
    )
    both = rf"{re.escape(str(new))} and {re.escape(str(old))}"
    with pytest.raises(DataError, match=rf"experiment '384sentences' has two files, {both}.*keep one"):
        find_experiment_file(subject_dir, "384sentences")
    with pytest.raises(DataError, match=r"'384sentences' is given twice .*data_384sentences.*examples_384sentences"):
        load_pereira_mat([new, old], subject="P01")


def test_find_experiment_file_in_either_distribution(tmp_path, small_mat, atlases):
    content = _content()
    subject_dir = tmp_path / "P01"
    new = small_mat(subject_dir / "data_243sentences.mat", atlases=atlases, **content)
    old = small_mat(subject_dir / "examples_384sentences.mat", atlases=atlases, **content)
    assert find_experiment_file(subject_dir, "243sentences") == new
    assert find_experiment_file(subject_dir, "384sentences") == old
    with pytest.raises(DataError, match=r"neither .*data_999\.mat nor .*examples_999\.mat exists"):
        find_experiment_file(subject_dir, "999")
    assert find_experiment_file(subject_dir, "999", missing_ok=True) == subject_dir / "data_999.mat"


def test_no_accepted_matrix_lists_variables_and_layouts(tmp_path, small_mat, atlases):
    path = small_mat(tmp_path / "data_x.mat", atlases=atlases, matrix_variable="responses", **_content())
    expected = (
        r"data_x\.mat has no sentence matrix \(variables found: \['keySentences', 'labelsPassageForEachSentence', "
        r"'meta', 'responses'\]\); the accepted layouts are data_\{experiment\}\.mat with 'examples_passagesentences' "
        r"or examples_\{experiment\}\.mat with 'examples'"
    )
    with pytest.raises(DataError, match=expected):
        load_pereira_mat(path, subject="P01")


def test_damaged_v73_file_names_the_format_and_the_fix(tmp_path, small_mat_v73, atlases):
    path = small_mat_v73(tmp_path / "data_x.mat", atlases=atlases, **_content())
    with h5py.File(path, "r+") as h5:
        del h5["meta"]["roiColumns"]
    with pytest.raises(DataError, match=r"data_x\.mat: meta has no field 'roiColumns'"):
        load_pereira_mat(path, subject="P01")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"data_x\.mat.*(MATLAB v7\.3 \(HDF5\)|truncated).*(-v7|download it again)"):
        load_pereira_mat(path, subject="P01")
