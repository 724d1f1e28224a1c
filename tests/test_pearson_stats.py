"""Bootstrap CI and permutation p of the mean Pearson r (encoding)."""

import numpy as np
import pytest

from brainalign.metrics import pearson_per_column
from brainalign.pearson_stats import bootstrap_mean_pearson, permutation_mean_pearson
from brainalign.stats import rng_for


def test_mean_pearson_permutation_and_bootstrap():
    rng = np.random.default_rng(5)
    actual = rng.standard_normal((50, 20))
    predicted = actual + 2.0 * rng.standard_normal((50, 20))
    predicted[:, 0] = 1.0  # a constant column counts as r = 0
    observed, p = permutation_mean_pearson(predicted, actual, n_permutations=199, rng=rng_for(0))
    assert observed == pytest.approx(pearson_per_column(predicted, actual).mean())
    assert p == pytest.approx(1 / 200)
    low, high = bootstrap_mean_pearson(predicted, actual, n_resamples=300, level=0.95, rng=rng_for(1))
    assert low < observed < high and high - low < 0.3
    null = [permutation_mean_pearson(rng.standard_normal((20, 3)), rng.standard_normal((20, 3)),
                                     n_permutations=99, rng=rng_for(0, run))[1] for run in range(150)]
    assert 0.03 <= np.mean(np.array(null) <= 0.1) <= 0.18
