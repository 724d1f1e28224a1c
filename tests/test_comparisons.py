"""Paired contrasts of model variants: which contrasts, their signs, p- and q-values."""

import numpy as np
import pytest

from brainalign.comparisons import compare_pair_stores, compare_variants, contrasts_for
from brainalign.errors import DataError
from brainalign.metrics import half_margins, pair_outcomes, similarity_matrix
from brainalign.pairs import PairStore
from brainalign.families import benjamini_hochberg
from brainalign.stats import StatisticsSettings

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


def test_planted_difference_is_found_per_subject_and_tested_over_stimuli_and_subjects():
    table = compare_variants(_stores(), statistics=STATISTICS, seed=0)
    assert len(table) == 3 * 4  # contrasts x (2 subjects + all over stimuli + all over subjects)
    assert set(table["contrast"]) == {"prompt-finetune", "prompt-base", "finetune-base"}
    rows = table.set_index(["contrast", "subject", "generalises_over"])
    for subject in ("S01", "S02"):
        row = rows.loc[("prompt-finetune", subject, "stimuli")]
        assert row["diff"] == pytest.approx(row["score_a"] - row["score_b"]) and row["diff"] > 0.2
        assert row["ci_low"] > 0 and row["p"] == pytest.approx(1 / 200) and row["min_p"] == pytest.approx(1 / 200)
    per_subject = rows.loc[[("prompt-finetune", "S01", "stimuli"), ("prompt-finetune", "S02", "stimuli")], "diff"]
    over_subjects = rows.loc[("prompt-finetune", "all", "subjects")]
    assert over_subjects["n_subjects"] == 2 and over_subjects["p"] == pytest.approx(0.5)  # exact: 2 subjects
    assert over_subjects["min_p"] == pytest.approx(0.5)
    assert over_subjects["diff"] == pytest.approx(per_subject.mean())
    assert over_subjects["ci_low"] < over_subjects["diff"] < over_subjects["ci_high"]
    # Over stimuli (one swap pattern for both subjects) the same 2 subjects reach the floor 1/200.
    over_stimuli = rows.loc[("prompt-finetune", "all", "stimuli")]
    assert over_stimuli["diff"] == pytest.approx(per_subject.mean()) and over_stimuli["ci_low"] > 0
    assert over_stimuli["p"] == pytest.approx(1 / 200) and over_stimuli["q"] < 0.05
    assert over_stimuli["effect"] == "significant" and bool(over_stimuli["primary"])
    assert not rows.loc[("prompt-base", "all", "stimuli"), "primary"]
    assert abs(rows.loc[("finetune-base", "S01", "stimuli"), "diff"]) < 0.2
    # BH within each family: direction x contrast x level
    level = np.where(table["subject"] == "all", "group over " + table["generalises_over"], "per subject")
    assert len(table.groupby(["contrast", level])) == 3 * 3
    for _, family in table.groupby(["contrast", level]):
        np.testing.assert_allclose(family["q"], benjamini_hochberg(family["p"]))
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


def _subset(store, keep, groups):
    ids = tuple(store.stimulus_ids[i] for i in keep)
    index = np.ix_(keep, keep)
    return PairStore(store.identity, ids, {k: v[index] for k, v in store.outcomes.items()},
                     {k: v[index] for k, v in store.half_margins.items()}, groups=tuple(groups[i] for i in keep))


def test_the_test_over_stimuli_uses_the_shared_stimuli_and_needs_the_same_groups():
    groups = tuple(f"p{i // 4}" for i in range(N))
    stores = _stores()
    keep = np.arange(N)
    subset = np.arange(8, N)  # S02 saw 32 of the 40 stimuli
    stores = [_subset(store, subset if store.identity["subject"] == "S02" else keep, groups) for store in stores]
    table = compare_variants(stores, statistics=STATISTICS, seed=0)
    row = table[(table["subject"] == "all") & (table["generalises_over"] == "stimuli")
                & (table["contrast"] == "prompt-finetune")].iloc[0]
    assert row["n_stimuli"] == N - 8 and row["n_subjects"] == 2
    regrouped = [PairStore(s.identity, s.stimulus_ids, s.outcomes, s.half_margins,
                           groups=tuple(f"q{i // 2}" for i in range(len(s.stimulus_ids))))
                 if s.identity["subject"] == "S02" else s for s in stores]
    with pytest.raises(DataError, match="group the shared stimuli differently"):
        compare_variants(regrouped, statistics=STATISTICS, seed=0)
