"""Split-half building blocks (brainalign.split_half): Spearman-Brown and the alternating halves."""

import numpy as np
import pytest

from brainalign.split_half import spearman_brown, split_half_roi, split_halves


def test_spearman_brown_known_values():
    assert spearman_brown(np.array([0.5]), 2.0)[0] == pytest.approx(2 / 3)
    assert spearman_brown(np.array([0.5]), 0.5)[0] == pytest.approx(1 / 3)
    assert spearman_brown(np.array([0.0, 1.0]), 3.0).tolist() == pytest.approx([0.0, 1.0])


def test_split_halves_alternate_presentations_in_acquisition_order():
    index = np.array([4, 1, 4, 1, 4, 1, 4])  # stimulus 4 four times, stimulus 1 three times
    stimuli, half_a, half_b = split_halves(index)
    assert stimuli.tolist() == [1, 4]
    responses = np.arange(7, dtype=float)[:, None]
    assert (half_a @ responses).ravel().tolist() == pytest.approx([(1 + 5) / 2, (0 + 4) / 2])
    assert (half_b @ responses).ravel().tolist() == pytest.approx([3.0, (2 + 6) / 2])


def test_split_half_roi_recovers_a_planted_reliability():
    """Voxels with signal variance 1 and noise variance 1 per presentation, every stimulus shown
    twice: the analysed mean of 2 presentations has reliability 1 / (1 + 1/2) = 2/3, so the r
    ceiling is sqrt(2/3); pure-noise voxels give a ceiling near 0 (signed root, not clipped)."""
    rng = np.random.default_rng(0)
    n, voxels = 400, 50
    signal = rng.standard_normal((n, voxels))
    index = np.repeat(np.arange(n), 2)
    presentations = signal[index] + rng.standard_normal((2 * n, voxels))
    analysis = np.zeros((n, voxels))
    np.add.at(analysis, index, presentations / 2)
    values = split_half_roi(presentations, index, analysis, distance="correlation", n_bootstrap=200, level=0.95, rng=rng)
    ceiling, low, high = values["pearson_r"]
    assert ceiling == pytest.approx(np.sqrt(2 / 3), abs=0.02) and low < np.sqrt(2 / 3) < high
    noise = rng.standard_normal((2 * n, voxels))
    noise_analysis = np.zeros((n, voxels))
    np.add.at(noise_analysis, index, noise / 2)
    values = split_half_roi(noise, index, noise_analysis, distance="correlation", n_bootstrap=200, level=0.95, rng=rng)
    assert values["pearson_r"][1] < 0 < values["pearson_r"][2]
    assert values["2v2"][1] < 0.5 < values["2v2"][2]
