"""Noise ceilings (brainalign.ceilings): known answers on the simulators, which plant known SNRs.

- Pereira (cross-subject): ceilings rank the ROIs by planted SNR; the pure-noise ROI's ceiling
  CI includes chance and its normalised score is NaN; with high SNR the generative features
  reach a normalised 2v2 near 1.
- BOLD5000 (split-half, through the real loader): ceilings rank the ROIs by SNR; the generative
  features reach a normalised Pearson r of 1 within the CIs (the split-half estimate is
  unbiased, unlike the cross-subject one, which is a lower bound); the repeats carry the same
  per-voxel noise as the singles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainalign.alignment import RidgeSettings, fit_subject
from brainalign.brains.bold5000 import load_bold5000, mat_files, stim_list_path
from brainalign.brains.simulate import RoiSimulation, hidden_features, simulate_responses
from brainalign.brains.simulate_bold5000 import (
    Bold5000Simulation,
    feature_groups,
    make_stimulus_set,
    roi_hidden_features,
    simulate_bold5000,
)
from brainalign.brains.stimuli import load_sentence_stimuli
from brainalign.brains.store import SubjectResponses, read_subject_store, write_subject_store
from brainalign.ceilings import (
    CEILING_COLUMNS,
    compute_ceilings,
    normalise_scores,
    normalising_ceilings,
    read_ceilings,
    write_ceilings,
)
from brainalign.errors import ConfigError, DataError
from brainalign.features import FeatureStore
from brainalign.stats import StatisticsSettings

REPO = Path(__file__).resolve().parents[1]
SEED = 3
SETTINGS = RidgeSettings(alphas=(0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5), n_folds=5)
STATISTICS = StatisticsSettings(n_bootstrap=300, n_permutations=0)
PEREIRA_ROIS = {  # SNR order: language > dmn > task > visual (pure noise)
    "language": RoiSimulation(n_voxels=80, snr=1.0),
    "dmn": RoiSimulation(n_voxels=60, snr=0.5),
    "task": RoiSimulation(n_voxels=60, snr=0.25),
    "visual": RoiSimulation(n_voxels=60, snr=0.0),
}
BOLD_ROIS = {  # SNR order: EarlyVis > LOC > OPA > PPA > RSC (pure noise)
    "EarlyVis": RoiSimulation(n_voxels=60, snr=0.8),
    "LOC": RoiSimulation(n_voxels=60, snr=0.6),
    "OPA": RoiSimulation(n_voxels=60, snr=0.4),
    "PPA": RoiSimulation(n_voxels=60, snr=0.25),
    "RSC": RoiSimulation(n_voxels=60, snr=0.0),
}
BOLD_SIMULATION = Bold5000Simulation(n_images=240, image_size=16, repeated_images=60, n_repeats=3, n_hidden=16,
                                     rois=BOLD_ROIS)


@pytest.fixture(scope="module")
def sentences():
    return load_sentence_stimuli(REPO / "resources" / "stimuli" / "sentences.tsv")


@pytest.fixture(scope="module")
def pereira_subjects(sentences) -> list[SubjectResponses]:
    return [
        SubjectResponses(
            dataset="pereira", subject=subject, stimulus_ids=sentences.stimulus_ids, stimulus_texts=sentences.sentences,
            groups=sentences.passages, rois=simulate_responses(sentences, subject, seed=SEED, rois=PEREIRA_ROIS,
                                                               inject_bad_voxels=False),
            simulated=True, provenance={},
        )
        for subject in ("S01", "S02")
    ]


@pytest.fixture(scope="module")
def pereira_ceilings(pereira_subjects) -> pd.DataFrame:
    return compute_ceilings({"pereira": pereira_subjects}, methods={"pereira": ["cross-subject"]}, settings=SETTINGS,
                            statistics=STATISTICS)


@pytest.fixture(scope="module")
def bold_subject(tmp_path_factory) -> SubjectResponses:
    folder = tmp_path_factory.mktemp("bold5000")
    simulate_bold5000(folder / "raw", folder / "images", ["CSI1"], seed=SEED, settings=BOLD_SIMULATION)
    return load_bold5000(mat_files(folder / "raw", "CSI1", ["34"]), stim_list_path(folder / "raw", "CSI1"),
                         folder / "images", subject="CSI1", simulated=True)


@pytest.fixture(scope="module")
def bold_ceilings(bold_subject) -> pd.DataFrame:
    return compute_ceilings({"bold5000": [bold_subject]}, methods={"bold5000": ["split-half"]}, settings=SETTINGS,
                            statistics=STATISTICS)


def _ceiling(ceilings: pd.DataFrame, **equal) -> pd.Series:
    mask = np.ones(len(ceilings), dtype=bool)
    for column, value in equal.items():
        mask &= (ceilings[column] == value).to_numpy()
    return ceilings[mask]


# --------------------------------------------------------------------------- building blocks


def test_normalise_scores_formula_preference_and_unreliable_ceiling():
    ceilings = pd.DataFrame([
        {"dataset": "d", "simulated": True, "subject": "s", "roi": "a", "direction": "encoding", "metric": "2v2",
         "ceiling": 0.8, "ci_low": 0.7, "ci_high": 0.9, "method": "split-half", "n_stimuli": 10},
        {"dataset": "d", "simulated": True, "subject": "s", "roi": "a", "direction": "encoding", "metric": "2v2",
         "ceiling": 0.9, "ci_low": 0.85, "ci_high": 0.95, "method": "cross-subject", "n_stimuli": 10},
        {"dataset": "d", "simulated": True, "subject": "s", "roi": "b", "direction": "encoding", "metric": "pearson_r",
         "ceiling": 0.1, "ci_low": -0.01, "ci_high": 0.2, "method": "split-half", "n_stimuli": 10},
    ])
    scores = pd.DataFrame([
        {"dataset": "d", "subject": "s", "roi": "a", "direction": "encoding", "metric": "2v2", "score": 0.65},
        {"dataset": "d", "subject": "s", "roi": "b", "direction": "encoding", "metric": "pearson_r", "score": 0.05},
        {"dataset": "d", "subject": "s", "roi": "c", "direction": "encoding", "metric": "2v2", "score": 0.6},
    ])
    out, reasons = normalise_scores(scores, ceilings, {"d": ["split-half", "cross-subject"]})
    assert out["ceiling"].tolist()[:2] == pytest.approx([0.8, 0.1])
    assert out["normalised_score"].iloc[0] == pytest.approx((0.65 - 0.5) / (0.8 - 0.5))
    assert out["normalised_score"].iloc[1:].isna().all()
    assert len(reasons) == 2 and "includes or lies below chance" in reasons[0] and "no ceiling" in reasons[1]
    preferred, _ = normalise_scores(scores.iloc[:1], ceilings, {"d": ["cross-subject", "split-half"]})
    assert preferred["normalised_score"].iloc[0] == pytest.approx((0.65 - 0.5) / (0.9 - 0.5))


def test_unknown_method_is_a_config_error(pereira_subjects):
    with pytest.raises(ConfigError, match="ceilings.methods.pereira"):
        compute_ceilings({"pereira": pereira_subjects}, methods={"pereira": ["bootstrap"]}, settings=SETTINGS,
                         statistics=STATISTICS)


def test_split_half_without_presentations_names_the_fix(pereira_subjects):
    with pytest.raises(DataError, match="individual presentations.*ceilings.methods.pereira"):
        compute_ceilings({"pereira": pereira_subjects}, methods={"pereira": ["split-half"]}, settings=SETTINGS,
                         statistics=STATISTICS)


def test_store_without_presentations_reads_back_without_them(tmp_path, pereira_subjects):
    write_subject_store(tmp_path / "S01.h5", pereira_subjects[0])
    assert read_subject_store(tmp_path / "S01.h5").repeats is None


def test_by_roi_figure_draws_a_ceiling_band_per_roi_and_summary_lists_them(pereira_ceilings):
    from brainalign.plots import plot_scores_by_roi
    from brainalign.report import summary_blocks, to_markdown

    ceilings = normalising_ceilings(pereira_ceilings, {"pereira": ["cross-subject"]})
    scores = ceilings.assign(model="m", task="qa", method="prompt", layer=2, score=0.6, p_value=0.01, n_voxels=10,
                             ci_low=0.55, ci_high=0.65).drop(columns="ceiling")
    figure = plot_scores_by_roi(scores, dataset="pereira", model="m", direction="encoding", layer=2, ceilings=ceilings)
    ax = figure.get_axes()[0]
    rois = [t.get_text() for t in ax.get_xticklabels()]
    labels = ax.get_legend_handles_labels()[1]
    assert "ceiling (cross-subject)" in labels
    bands = [line for line in ax.get_lines() if len(line.get_xdata()) == 2 and line.get_xdata()[1] - line.get_xdata()[0] == pytest.approx(0.9)]
    assert len(bands) == len(rois) == 4
    expected = ceilings[(ceilings["direction"] == "encoding") & (ceilings["metric"] == "2v2")].groupby("roi")["ceiling"].mean()
    assert [band.get_ydata()[0] for band in bands] == pytest.approx(expected.loc[rois].tolist())
    text = to_markdown(summary_blocks({"encoding": scores}, pd.DataFrame(), ceilings=ceilings))
    assert "## Noise ceilings" in text and "pereira / language / encoding pearson_r: ceiling" in text
    from brainalign.report import methods_blocks

    config = {"ceilings": {"enabled": True, "methods": {"pereira": ["cross-subject"]}}}
    assert any("Noise ceilings (pereira: cross-subject" in str(block.content) for block in methods_blocks(config))
    assert not any("Noise ceilings" in str(block.content) for block in methods_blocks({}))


def test_ceilings_table_round_trip(tmp_path, pereira_ceilings):
    write_ceilings(pereira_ceilings, tmp_path / "ceilings.csv")
    back = read_ceilings(tmp_path / "ceilings.csv")
    assert list(back.columns) == list(CEILING_COLUMNS)
    assert np.allclose(back["ceiling"], pereira_ceilings["ceiling"], atol=1e-6)


# --------------------------------------------------------------------------- Pereira, cross-subject


def test_cross_subject_ceiling_ranks_rois_by_snr(pereira_ceilings):
    by_snr = list(PEREIRA_ROIS)
    for subject in ("S01", "S02"):
        for direction, metric in (("decoding", "2v2"), ("encoding", "2v2"), ("encoding", "pearson_r")):
            rows = _ceiling(pereira_ceilings, subject=subject, direction=direction, metric=metric).set_index("roi")
            values = rows.loc[by_snr, "ceiling"].to_numpy()
            assert np.all(np.diff(values) < 0), (subject, direction, metric, values)
    assert (pereira_ceilings["n_stimuli"] == 128).all()
    assert set(pereira_ceilings["method"]) == {"cross-subject"}


def test_pure_noise_roi_has_a_ceiling_at_chance_and_no_normalised_score(pereira_subjects, pereira_ceilings, sentences):
    noise = _ceiling(pereira_ceilings, roi="visual")
    chance = noise["metric"].map({"2v2": 0.5, "pearson_r": 0.0})
    assert ((noise["ci_low"] <= chance) & (chance <= noise["ci_high"])).all(), noise
    hidden = hidden_features(sentences, seed=SEED)
    features = FeatureStore(sentences.stimulus_ids, {0: hidden.astype(np.float32)}, {"variant": "generative"})
    scores = fit_subject(pereira_subjects[0], features, settings=SETTINGS, model="m", task="none", method="hidden",
                         statistics=STATISTICS).scores
    out, reasons = normalise_scores(scores, pereira_ceilings, {"pereira": ["cross-subject"]})
    assert out.loc[out["roi"] == "visual", "normalised_score"].isna().all()
    assert out.loc[out["roi"].isin(["language", "dmn"]), "normalised_score"].notna().all()
    assert sum("/ visual /" in reason for reason in reasons) == 3
    # A ratio exactly where the ceiling's CI excludes chance (the weak task ROI may lack one).
    bounds = normalising_ceilings(pereira_ceilings, {"pereira": ["cross-subject"]})
    joined = out.merge(bounds[["subject", "roi", "direction", "metric", "ci_low"]], on=["subject", "roi", "direction", "metric"],
                       suffixes=("", "_ceiling"))
    assert (joined["normalised_score"].notna() == (joined["ci_low_ceiling"] > joined["metric"].map({"2v2": 0.5, "pearson_r": 0.0}))).all()
    # High SNR: the generative features reach the 2v2 ceiling (normalised near 1). At lower SNR
    # the cross-subject ceiling is a lower bound (the other subject's noise enters as input), so
    # the true features score above it: normalised > 1 (docs/ceilings.md).
    language = out[(out["roi"] == "language") & (out["metric"] == "2v2")]
    assert language["normalised_score"].between(0.95, 1.15).all(), language
    dmn = out[(out["roi"] == "dmn") & (out["metric"] == "pearson_r")]
    assert (dmn["normalised_score"] > 1.2).all(), dmn


# --------------------------------------------------------------------------- BOLD5000, split-half


def test_bold5000_store_keeps_the_repeated_presentations(tmp_path, bold_subject):
    repeats = bold_subject.repeats
    assert repeats is not None and repeats.n_presentations == 60 * 4
    assert np.bincount(repeats.stimulus_index).max() == 4
    for roi, matrix in bold_subject.rois.items():  # the analysis matrix is their mean
        stimulus = repeats.stimulus_index[0]
        mean = repeats.rois[roi][repeats.stimulus_index == stimulus].mean(axis=0)
        assert np.allclose(matrix[stimulus], mean, atol=1e-5)
    write_subject_store(tmp_path / "CSI1.h5", bold_subject)
    back = read_subject_store(tmp_path / "CSI1.h5")
    assert np.array_equal(back.repeats.stimulus_index, repeats.stimulus_index)
    assert all(np.array_equal(back.repeats.rois[roi], repeats.rois[roi]) for roi in repeats.rois)


def test_split_half_ceiling_ranks_rois_by_snr_and_noise_is_at_chance(bold_ceilings):
    by_snr = list(BOLD_ROIS)
    for metric in ("2v2", "pearson_r"):
        rows = _ceiling(bold_ceilings, metric=metric).set_index("roi").loc[by_snr]
        assert np.all(np.diff(rows["ceiling"].to_numpy()) < 0), rows
        chance = 0.5 if metric == "2v2" else 0.0
        assert rows.loc["RSC", "ci_low"] <= chance <= rows.loc["RSC", "ci_high"]
    assert set(bold_ceilings["direction"]) == {"encoding"} and (bold_ceilings["n_stimuli"] == 60).all()



def test_ceilings_are_deterministic(bold_subject, bold_ceilings):
    again = compute_ceilings({"bold5000": [bold_subject]}, methods={"bold5000": ["split-half"]}, settings=SETTINGS,
                             statistics=STATISTICS)
    pd.testing.assert_frame_equal(again, bold_ceilings)


def test_generative_features_reach_the_split_half_ceiling(bold_subject, bold_ceilings):
    stimuli = make_stimulus_set(BOLD_SIMULATION.n_images, BOLD_SIMULATION.image_size, SEED)
    hidden = roi_hidden_features(feature_groups(stimuli), seed=SEED, n_hidden=BOLD_SIMULATION.n_hidden)
    order = [stimuli.names.index(stimulus) for stimulus in bold_subject.stimulus_ids]
    ceiling = normalising_ceilings(bold_ceilings, {"bold5000": ["split-half"]}).set_index(["roi", "metric"])
    for roi in ("EarlyVis", "LOC", "OPA", "PPA"):
        one_roi = SubjectResponses(**{**bold_subject.__dict__, "rois": {roi: bold_subject.rois[roi]}, "repeats": None})
        features = FeatureStore(bold_subject.stimulus_ids, {0: hidden[roi][order].astype(np.float32)}, {"variant": roi})
        scores = fit_subject(one_roi, features, settings=SETTINGS, model="m", task="none", method="hidden",
                             statistics=STATISTICS).scores
        out, _ = normalise_scores(scores, bold_ceilings, {"bold5000": ["split-half"]})
        r = out[(out["direction"] == "encoding") & (out["metric"] == "pearson_r")].iloc[0]
        bound = ceiling.loc[(roi, "pearson_r")]
        assert 0.8 < r["normalised_score"] < 1.15, (roi, r["normalised_score"])
        # 1 lies within the ratio's range allowed by the score's and the ceiling's CIs.
        assert r["ci_low"] / bound["ci_high"] <= 1.0 <= r["ci_high"] / bound["ci_low"], (roi, r, bound)


def test_simulated_repeats_carry_the_noise_level_of_the_singles(bold_subject):
    """Presentations of repeated images and single presentations have the same per-voxel
    variance (signal + noise), and two presentations of one image differ by the planted TR34
    noise alone: var(p1 - p2) / 2 = (1 + 1) / 4 = 0.5."""
    repeats = bold_subject.repeats
    singles = np.setdiff1d(np.arange(bold_subject.n_stimuli), repeats.stimulus_index)
    first = np.array([np.flatnonzero(repeats.stimulus_index == s)[0] for s in np.unique(repeats.stimulus_index)])
    second = np.array([np.flatnonzero(repeats.stimulus_index == s)[1] for s in np.unique(repeats.stimulus_index)])
    for roi, analysis in bold_subject.rois.items():
        single_variance = analysis[singles].var(axis=0, ddof=1).mean()
        repeat_variance = repeats.rois[roi].var(axis=0, ddof=1).mean()
        assert repeat_variance / single_variance == pytest.approx(1.0, abs=0.12), roi
        noise = (repeats.rois[roi][first] - repeats.rois[roi][second]).var(axis=0, ddof=1).mean() / 2
        assert noise == pytest.approx(0.5, rel=0.1), roi
