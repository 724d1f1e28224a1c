"""Declared BH families and effect labels against the smallest effect of interest."""

import numpy as np
import pandas as pd
import pytest

from brainalign.errors import ConfigError
from brainalign.families import benjamini_hochberg, effect_labels, family_q_values
from brainalign.stats import StatisticsSettings


def test_q_values_are_computed_within_each_family_only():
    table = pd.DataFrame({"contrast": ["a", "a", "b", "b", "b"], "p": [0.01, 0.04, 0.01, 0.02, 0.9]})
    q = family_q_values(table, ["contrast"])
    np.testing.assert_allclose(q[:2], benjamini_hochberg([0.01, 0.04]))
    np.testing.assert_allclose(q[2:], benjamini_hochberg([0.01, 0.02, 0.9]))
    assert q[0] == pytest.approx(0.02)  # pooled with family b it would be 0.025


def test_effect_labels_separate_equivalence_from_significance():
    labels = effect_labels(
        diff=[0.002, 0.004, 0.05, 0.05, 0.0],
        ci_low=[-0.004, 0.001, 0.03, -0.02, -0.2],
        ci_high=[0.008, 0.012, 0.07, 0.12, 0.2],
        q=[0.03, 0.01, 0.001, 0.3, 0.9],
        smallest_effect=0.01, fdr_alpha=0.05,
    )
    # significant but the CI lies inside +-0.01: negligible; significant and smaller: significant_small
    assert list(labels) == ["negligible", "significant_small", "significant", "inconclusive", "inconclusive"]


def test_statistics_settings_fill_and_check_the_declared_keys():
    settings = StatisticsSettings(smallest_effect={"pearson": 0.02})
    assert settings.smallest_effect_for("2v2") == 0.01 and settings.smallest_effect_for("pearson_r") == 0.02
    assert settings.primary_contrast == "prompt-finetune"
    with pytest.raises(ConfigError, match="smallest_effect"):
        StatisticsSettings(smallest_effect={"accuracy": 0.1})
    with pytest.raises(ConfigError, match="primary_contrast"):
        StatisticsSettings(primary_contrast="prompt")
