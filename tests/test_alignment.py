"""Per-subject decoding/encoding: a planted signal is found, noise stays at chance, ids align."""

import dataclasses

import numpy as np
import pytest

from brainalign.alignment import (
    RidgeSettings,
    align_features,
    fit_subject,
    score_subject,
    standardise_by_training_folds,
)
from brainalign.brains.store import SubjectResponses
from brainalign.errors import ConfigError, DataError
from brainalign.features import FeatureStore
from brainalign.metrics import two_vs_two
from brainalign.ridge import cross_val_predict_ridge, grouped_folds
from brainalign.stats import StatisticsSettings

N_STIMULI, N_DIMS = 120, 16


def _subject(seed=0):
    rng = np.random.default_rng(seed)
    representation = rng.standard_normal((N_STIMULI, N_DIMS)).astype(np.float32)
    signal = representation @ rng.standard_normal((N_DIMS, 60))
    rois = {
        "signal": (signal + 0.5 * rng.standard_normal(signal.shape)).astype(np.float32),
        "noise": rng.standard_normal((N_STIMULI, 60)).astype(np.float32),
    }
    ids = tuple(f"s{i:03d}" for i in range(N_STIMULI))
    responses = SubjectResponses(
        dataset="pereira",
        subject="S01",
        stimulus_ids=ids,
        stimulus_texts=tuple(f"sentence {i}" for i in range(N_STIMULI)),
        groups=tuple(f"p{i // 4:02d}" for i in range(N_STIMULI)),
        rois=rois,
        simulated=True,
        provenance={},
    )
    # the feature store lists the stimuli in another order than the subject
    order = rng.permutation(N_STIMULI)
    features = FeatureStore(
        stimulus_ids=tuple(ids[i] for i in order), layers={3: representation[order]}, identity={"model": "test"}
    )
    return responses, features


SETTINGS = RidgeSettings(alphas=(0.1, 1.0, 10.0, 100.0, 1000.0), n_folds=5)
NO_STATISTICS = StatisticsSettings(n_bootstrap=0, n_permutations=0)  # for tests of the scores alone


def test_align_features_follows_the_subjects_stimulus_order():
    responses, features = _subject()
    aligned = align_features(responses, features)[3]
    for row, stimulus in enumerate(responses.stimulus_ids):
        assert np.array_equal(aligned[row], features.layers[3][features.stimulus_ids.index(stimulus)])


def test_planted_signal_is_decoded_and_encoded_and_noise_is_at_chance():
    responses, features = _subject()
    scores = score_subject(responses, features, settings=SETTINGS, statistics=NO_STATISTICS, model="m", task="none", method="base")
    score = scores.set_index(["direction", "roi", "metric"])["score"]
    assert score[("decoding", "signal", "2v2")] > 0.95
    assert score[("encoding", "signal", "2v2")] > 0.95
    assert score[("encoding", "signal", "pearson_r")] > 0.5
    assert abs(score[("decoding", "noise", "2v2")] - 0.5) < 0.1
    assert abs(score[("encoding", "noise", "pearson_r")]) < 0.1
    assert set(scores["layer"]) == {3} and set(scores["n_stimuli"]) == {N_STIMULI}


def test_missing_stimuli_in_the_feature_store_are_an_error():
    responses, features = _subject()
    partial = FeatureStore(
        stimulus_ids=features.stimulus_ids[1:], layers={3: features.layers[3][1:]}, identity=features.identity
    )
    with pytest.raises(DataError, match="no representation"):
        align_features(responses, partial)


def test_fewer_passages_than_folds_is_an_error():
    responses, features = _subject()
    with pytest.raises(DataError):
        score_subject(responses, features, settings=RidgeSettings(alphas=(1.0,), n_folds=31), model="m", task="none", method="base")


def test_unknown_direction_is_a_config_error():
    with pytest.raises(ConfigError, match="ridge.directions"):
        RidgeSettings(alphas=(1.0,), directions=("decoding", "sideways"))


def test_noise_decodes_at_chance_on_average():
    # One pooled 2v2 on noise varies by about +-0.05 (its pairs are not independent), so
    # average over 40 subjects: the standard error is then about 0.008.
    settings = RidgeSettings(alphas=(1.0, 1000.0), n_folds=5, directions=("decoding",))
    scores = []
    for seed in range(40):
        responses, features = _subject(100 + seed)
        rows = score_subject(
            responses, features, settings=settings, statistics=NO_STATISTICS, model="m", task="none", method="base"
        )
        scores.append(rows.set_index(["roi", "metric"])["score"][("noise", "2v2")])
    assert abs(np.mean(scores) - 0.5) < 0.03


def test_without_training_fold_standardisation_pooled_noise_is_biased_below_chance():
    responses, features = _subject()
    representation = align_features(responses, features)[3]
    folds = grouped_folds(np.asarray(responses.groups), 5, seed=0)
    predicted = cross_val_predict_ridge(responses.rois["noise"], representation, SETTINGS.alphas, folds)
    assert two_vs_two(predicted, representation) < 0.42  # about 0.36 on average over seeds


def test_training_fold_standardisation_ignores_the_held_out_targets():
    rng = np.random.default_rng(1)
    actual, predicted = rng.standard_normal((40, 5)), rng.standard_normal((40, 5))
    folds = grouped_folds(np.repeat(np.arange(10), 4), 4, seed=0)
    changed = actual.copy()
    train, test = folds[0]
    changed[test] = 1e6
    before, _ = standardise_by_training_folds(predicted, actual, folds)
    after, _ = standardise_by_training_folds(predicted, changed, folds)
    assert np.array_equal(before[test], after[test])


def test_the_ridge_stage_does_not_import_torch():
    # Ridge jobs are many and small; importing torch would cost seconds each.
    import subprocess
    import sys

    code = (
        "import sys, brainalign.alignment, brainalign.tables, brainalign.brains.store\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_every_score_carries_a_ci_and_a_p_value_and_the_pair_data_match_it():
    from brainalign.alignment import fit_subject

    responses, features = _subject()
    statistics = StatisticsSettings(n_bootstrap=200, n_permutations=199)
    fitted = fit_subject(responses, features, settings=SETTINGS, statistics=statistics, model="m", task="none", method="base")
    scores = fitted.scores.set_index(["direction", "roi", "metric"])
    assert (scores["ci_low"] <= scores["score"]).all() and (scores["score"] <= scores["ci_high"]).all()
    for direction in ("decoding", "encoding"):
        assert scores.loc[(direction, "signal", "2v2"), "p_value"] == pytest.approx(1 / 200)
        assert scores.loc[(direction, "noise", "2v2"), "p_value"] > 0.01
        assert scores.loc[(direction, "noise", "2v2"), "ci_low"] < 0.5 < scores.loc[(direction, "signal", "2v2"), "ci_low"]
        outcomes = fitted.outcomes[(direction, "signal", 3)]
        assert outcomes.sum() / (N_STIMULI * (N_STIMULI - 1)) == scores.loc[(direction, "signal", "2v2"), "score"]
        assert fitted.half_margins[(direction, "signal", 3)].dtype == np.float32
    assert scores.loc[("encoding", "signal", "pearson_r"), "p_value"] == pytest.approx(1 / 200)
    again = fit_subject(responses, features, settings=SETTINGS, statistics=statistics, model="m", task="none", method="base")
    assert again.scores.equals(fitted.scores)  # seeds derive from the config seed and the row


def test_permutation_p_is_calibrated_on_noise_through_cross_validated_ridge():
    # Pure-noise voxels, passage-grouped folds, training-fold standardisation: the whole
    # decoding path. Uniform p: P(p <= 0.1) = 0.1 (sd 0.047 over 40 runs), P(p <= 0.5) = 0.5.
    from brainalign.alignment import fit_subject

    responses, features = _subject()
    statistics = StatisticsSettings(n_bootstrap=0, n_permutations=99)
    settings = RidgeSettings(alphas=(1.0, 100.0, 10000.0), n_folds=4, directions=("decoding",))
    p_values = []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        noise = SubjectResponses(**{**responses.__dict__, "rois": {"noise": rng.standard_normal((N_STIMULI, 40)).astype(np.float32)}})
        scores = fit_subject(noise, features, settings=RidgeSettings(**{**settings.__dict__, "seed": seed}),
                             statistics=statistics, model="m", task="none", method="base").scores
        p_values.append(scores["p_value"].iloc[0])
    p_values = np.array(p_values)
    assert np.mean(p_values <= 0.1) <= 0.25 and 0.25 <= np.mean(p_values <= 0.5) <= 0.75


def test_the_torch_backend_gives_the_same_scores_as_numpy():
    responses, features = _subject()
    statistics = StatisticsSettings(n_bootstrap=50, n_permutations=49)
    torch_settings = RidgeSettings(**{**SETTINGS.__dict__, "backend": "torch", "device": "cpu"})
    scores = [
        score_subject(responses, features, settings=settings, statistics=statistics, model="m", task="none", method="base")
        for settings in (SETTINGS, torch_settings)
    ]
    numeric = ["score", "ci_low", "ci_high", "p_value"]
    assert scores[0].drop(columns=numeric).equals(scores[1].drop(columns=numeric))
    # Predictions agree to ~1e-15, so the 2v2 pair outcomes, and with them every score,
    # CI and p-value, are the same up to float round-off.
    np.testing.assert_allclose(scores[1][numeric].to_numpy(), scores[0][numeric].to_numpy(), rtol=1e-9, atol=1e-12)


def test_subjects_with_two_sessions_get_within_and_cross_session_rows():
    responses, features = _subject()
    statistics = StatisticsSettings(n_bootstrap=50, n_permutations=49)
    one = fit_subject(responses, features, settings=SETTINGS, statistics=statistics, model="m", task="none", method="base")
    assert set(one.scores["pairs"]) == {"all"}
    sessions = tuple("exp2" if i < N_STIMULI // 2 else "exp3" for i in range(N_STIMULI))
    two = fit_subject(
        dataclasses.replace(responses, sessions=sessions), features, settings=SETTINGS, statistics=statistics,
        model="m", task="none", method="base",
    )
    assert two.sessions == sessions and two.groups == responses.groups
    table = two.scores.set_index(["direction", "roi", "metric", "pairs"]).sort_index()
    assert set(two.scores.loc[two.scores["metric"] == "pearson_r", "pairs"]) == {"all"}
    for direction, roi in (("decoding", "signal"), ("encoding", "noise")):
        rows = table.loc[(direction, roi, "2v2")]
        assert set(rows.index) == {"all", "within_session", "cross_session"}
        outcomes = two.outcomes[(direction, roi, 3)]
        same = np.equal.outer(np.array(sessions), np.array(sessions))
        np.fill_diagonal(same, False)
        cross = ~np.equal.outer(np.array(sessions), np.array(sessions))
        assert rows.loc["within_session", "score"] == pytest.approx(outcomes[same].mean())
        assert rows.loc["cross_session", "score"] == pytest.approx(outcomes[cross].mean())
        every = ~np.eye(len(sessions), dtype=bool)  # (the fit itself differs: sessions are centred apart)
        assert rows.loc["all", "score"] == pytest.approx(outcomes[every].mean())
        assert (rows["ci_low"] <= rows["score"]).all() and (rows["score"] <= rows["ci_high"]).all()
    assert table.loc[("decoding", "signal", "2v2", "cross_session"), "p_value"] == pytest.approx(1 / 50)


def test_ridge_inputs_refuse_features_made_with_the_other_token_prefix(tmp_path):
    from brainalign.alignment import read_ridge_inputs
    from brainalign.features import read_feature_store, write_feature_store

    from tests.test_bad_inputs import good_stores

    responses, features = good_stores(tmp_path)
    job = {"subject": "S01", "model": "m", "task": "none", "method": "base"}
    read_ridge_inputs(responses, features, **job)  # no requirement: a store without the item is read
    with pytest.raises(DataError, match=r"prefix=<absent>.*prefix=true"):  # made before features.prefix
        read_ridge_inputs(responses, features, **job, require={"prefix": "true"})
    store = read_feature_store(features)
    write_feature_store(features, store.stimulus_ids, store.layers, identity={**store.identity, "prefix": "false"})
    with pytest.raises(DataError, match=r"prefix=false.*prefix=true"):
        read_ridge_inputs(responses, features, **job, require={"prefix": "true"})
    _, read = read_ridge_inputs(responses, features, **job, require={"prefix": "false"})
    assert read.identity["prefix"] == "false"


def test_scores_carry_the_alpha_chosen_in_each_outer_fold():
    responses, features = _subject()
    scores = score_subject(responses, features, settings=SETTINGS, statistics=NO_STATISTICS, model="m", task="none", method="base")
    for label in scores["alphas"]:
        per_fold = [float(alpha) for alpha in label.split(";")]
        assert len(per_fold) == SETTINGS.n_folds and set(per_fold) <= set(SETTINGS.alphas)
    # Decoding and encoding of the same ROI choose differently sized penalties: not a constant.
    assert scores["alphas"].nunique() > 1


def test_an_alpha_at_the_edge_of_the_grid_is_logged(caplog):
    responses, features = _subject()
    settings = RidgeSettings(alphas=(1e6, 1e7), n_folds=5, directions=("decoding",))  # far too strong: the edge
    with caplog.at_level("WARNING", logger="brainalign.alignment"):
        score_subject(responses, features, settings=settings, statistics=NO_STATISTICS, model="m", task="none", method="base")
    messages = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert any("subject S01, ROI signal, layer 3" in message and "edge" in message for message in messages)
    caplog.clear()
    with caplog.at_level("WARNING", logger="brainalign.alignment"):
        score_subject(responses, features, settings=RidgeSettings(alphas=(1e-3, 1.0, 1e6), n_folds=5,
                      directions=("decoding",)), statistics=NO_STATISTICS, model="m", task="none", method="base")
    assert not any("ROI signal" in record.getMessage() for record in caplog.records)


def test_every_fit_logs_its_score_and_its_place_in_the_job(caplog):
    responses, features = _subject()
    with caplog.at_level("INFO", logger="brainalign.alignment"):
        scores = score_subject(responses, features, settings=SETTINGS, statistics=NO_STATISTICS, model="m",
                               task="none", method="base")
    messages = [record.getMessage() for record in caplog.records if record.levelname == "INFO"]
    # 2 ROIs x 1 layer x 2 directions, in the order they ran, each with its all-pairs 2v2.
    assert [message.split(": 2v2")[0] for message in messages] == [
        f"{direction} pereira S01 {roi} layer 3 (m/none/base)" for roi in ("signal", "noise")
        for direction in ("decoding", "encoding")
    ]
    assert [message.split("(fit ")[1].split(",")[0] for message in messages] == ["1 of 4", "2 of 4", "3 of 4", "4 of 4"]
    score = scores.set_index(["direction", "roi", "metric", "pairs"])["score"]
    assert f"2v2 {score[('decoding', 'signal', '2v2', 'all')]:.3f}" in messages[0]


def test_a_planted_session_offset_scores_at_chance_through_fit_subject(planted_session_offset):
    settings = RidgeSettings(alphas=tuple(np.logspace(-1, 5, 7)), n_folds=5, directions=("decoding",))
    with_sessions, without_sessions = [], []
    for seed in range(8):
        voxels, representation, groups, sessions = planted_session_offset(seed)
        ids = tuple(f"s{i:03d}" for i in range(groups.size))
        responses = SubjectResponses(
            dataset="pereira", subject="S01", stimulus_ids=ids, stimulus_texts=ids,
            groups=tuple(f"p{group:02d}" for group in groups), rois={"language": voxels.astype(np.float32)},
            simulated=True, provenance={}, sessions=tuple(sessions),
        )
        features = FeatureStore(stimulus_ids=ids, layers={3: representation}, identity={"model": "test"})
        for store, scores in ((responses, with_sessions), (SubjectResponses(**{**responses.__dict__, "sessions": None}), without_sessions)):
            rows = score_subject(store, features, settings=RidgeSettings(**{**settings.__dict__, "seed": seed}),
                                 statistics=NO_STATISTICS, model="m", task="none", method="base")
            scores.append(rows["score"].iloc[0])
    assert np.mean(with_sessions) == pytest.approx(0.5, abs=0.02)
    assert np.mean(without_sessions) > 0.6  # the same data with one session: the offset wins pairs
