"""Per-subject decoding/encoding: a planted signal is found, noise stays at chance, ids align."""

import numpy as np
import pytest

from brainalign.alignment import RidgeSettings, align_features, score_subject
from brainalign.brains.store import SubjectResponses
from brainalign.errors import ConfigError, DataError
from brainalign.features import FeatureStore

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


def test_align_features_follows_the_subjects_stimulus_order():
    responses, features = _subject()
    aligned = align_features(responses, features)[3]
    for row, stimulus in enumerate(responses.stimulus_ids):
        assert np.array_equal(aligned[row], features.layers[3][features.stimulus_ids.index(stimulus)])


def test_planted_signal_is_decoded_and_encoded_and_noise_is_at_chance():
    responses, features = _subject()
    scores = score_subject(responses, features, settings=SETTINGS, model="m", task="none", method="base")
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
