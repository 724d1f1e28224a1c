"""Paired contrasts of model variants: which contrasts, their signs, p- and q-values."""

import numpy as np
import pytest

from brainalign.comparisons import compare_pair_stores, compare_variants, contrasts_for
from brainalign.errors import DataError
from brainalign.metrics import half_margins, pair_outcomes, similarity_matrix
from brainalign.pairs import PairStore
from brainalign.stats import StatisticsSettings, benjamini_hochberg

N = 40
STATISTICS = StatisticsSettings(n_bootstrap=200, n_permutations=199)


def _store(rng, actual, subject, task, method, noise):
    similarity = similarity_matrix(actual + noise * rng.standard_normal(actual.shape), actual)
    key = ("decoding", "language", 2)
    return PairStore(
        {"dataset": "pereira", "subject": subject, "model": "m", "task": task, "method": method, "simulated": True},
        tuple(f"s{i}" for i in range(N)),
        {key: pair_outcomes(similarity)},
        {key: half_margins(similarity).astype(np.float32)},
    )


def _stores(seed=0):
    rng = np.random.default_rng(seed)
    stores = []
    for subject in ("S01", "S02"):
        actual = rng.standard_normal((N, 4))
        stores += [
            _store(rng, actual, subject, "none", "base", 3.0),
            _store(rng, actual, subject, "qa", "prompt", 0.3),  # planted: prompt >> finetune ~ base
            _store(rng, actual, subject, "qa", "finetune", 3.0),
        ]
    return stores


def test_contrasts_cover_method_pairs_and_base_for_any_tasks():
    text = contrasts_for([("none", "base"), ("qa", "finetune"), ("qa", "prompt")])
    assert text == [
        ("qa", ("qa", "prompt"), ("qa", "finetune")),
        ("qa", ("qa", "prompt"), ("none", "base")),
        ("qa", ("qa", "finetune"), ("none", "base")),
    ]
    vision = contrasts_for([("mnist", "prompt"), ("mnist", "finetune"), ("cifar10", "finetune")])
    assert vision == [("mnist", ("mnist", "prompt"), ("mnist", "finetune"))]
    extended = contrasts_for([("none", "base"), ("none", "random"), ("qa", "lora"), ("qa", "finetune"), ("qa", "prompt")])
    assert extended == [
        ("none", ("none", "base"), ("none", "random")),  # what pre-training adds to the architecture
        ("qa", ("qa", "prompt"), ("qa", "finetune")),
        ("qa", ("qa", "prompt"), ("qa", "lora")),
        ("qa", ("qa", "finetune"), ("qa", "lora")),
        ("qa", ("qa", "prompt"), ("none", "base")),
        ("qa", ("qa", "finetune"), ("none", "base")),
        ("qa", ("qa", "lora"), ("none", "base")),
    ]
    # Without the base model, the untrained one is compared with nothing (a floor only).
    assert contrasts_for([("none", "random"), ("qa", "prompt")]) == []


def test_planted_difference_is_found_per_subject_and_tested_over_subjects():
    table = compare_variants(_stores(), statistics=STATISTICS, seed=0)
    assert len(table) == 3 * 3  # contrasts x (2 subjects + all)
    assert set(table["contrast"]) == {"prompt-finetune", "prompt-base", "finetune-base"}
    rows = table.set_index(["contrast", "subject"])
    for subject in ("S01", "S02"):
        row = rows.loc[("prompt-finetune", subject)]
        assert row["diff"] == pytest.approx(row["score_a"] - row["score_b"]) and row["diff"] > 0.2
        assert row["ci_low"] > 0 and row["p"] == pytest.approx(1 / 200)
    everyone = rows.loc[("prompt-finetune", "all")]
    assert everyone["n_subjects"] == 2 and everyone["p"] == pytest.approx(0.5)  # exact: 2 subjects
    assert everyone["diff"] == pytest.approx(rows.loc[[("prompt-finetune", "S01"), ("prompt-finetune", "S02")], "diff"].mean())
    assert everyone["ci_low"] < everyone["diff"] < everyone["ci_high"]
    assert abs(rows.loc[("finetune-base", "S01"), "diff"]) < 0.2
    np.testing.assert_allclose(table["q"], benjamini_hochberg(table["p"]))
    again = compare_variants(list(reversed(_stores())), statistics=STATISTICS, seed=0)
    assert again.equals(table)


def test_variants_scored_on_other_stimuli_are_refused():
    stores = _stores()
    moved = stores[2]
    stores[2] = PairStore(moved.identity, tuple(reversed(moved.stimulus_ids)), moved.outcomes, moved.half_margins)
    with pytest.raises(DataError, match="different stimuli"):
        compare_variants(stores, statistics=STATISTICS, seed=0)
    with pytest.raises(DataError, match="no pair stores"):
        compare_pair_stores([], statistics=STATISTICS, seed=0)


def test_main_contrast_is_between_tuned_methods_when_there_is_one():
    import pandas as pd

    from brainalign.comparisons import main_contrast

    rows = pd.DataFrame({"contrast": ["base-random", "prompt-base", "prompt-finetune"],
                         "method_a": ["base", "prompt", "prompt"], "method_b": ["random", "base", "finetune"]})
    assert main_contrast(rows) == "prompt-finetune"
    assert main_contrast(rows.iloc[:2]) == "base-random"
    assert main_contrast(rows.iloc[:0]) is None
