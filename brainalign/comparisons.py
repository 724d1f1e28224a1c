"""Paired comparisons of model variants: prompt vs finetune, each tuned method vs base, and
base vs its untrained twin.

The paper's claim is a difference between two model variants on the same brain data. For
every dataset x model x subject x direction x ROI x layer and task, each contrast ``A-B``
(every pair of tuned methods of the task, e.g. ``prompt-finetune``, and every tuned method
against the untuned model, e.g. ``prompt-base``; and ``base-random``, what pre-training
adds over the architecture alone, when the ``random`` baseline is configured) gets:

- per subject: the 2v2 difference on the same stimulus pairs, a paired bootstrap CI over
  stimuli and a paired permutation p-value (predictions swapped stimulus by stimulus), from
  the pair stores the ridge rule writes (:mod:`brainalign.pairs`);
- over subjects (``subject = all``): the mean difference, a t-interval over subjects and a
  sign-flip p-value over subjects (exact when few subjects: with 2 subjects p >= 0.5);
- a Benjamini-Hochberg q-value across all comparisons of the same table (direction).

Nothing here is specific to language or vision: contrasts are built from whatever
(task, method) variants exist per dataset and model.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from brainalign.errors import DataError
from brainalign.pairs import PairStore, read_pair_store
from brainalign.tables import UNTUNED_METHODS, UNTUNED_TASK, ordered_methods
from brainalign.stats import (
    StatisticsSettings,
    benjamini_hochberg,
    paired_bootstrap_two_vs_two,
    paired_permutation_two_vs_two,
    rng_for,
    sign_flip_test,
    t_interval,
)

BASE_METHOD = "base"
RANDOM_METHOD = "random"

ALL_SUBJECTS = "all"
COMPARISON_COLUMNS: tuple[str, ...] = (
    "direction",
    "dataset",
    "simulated",
    "model",
    "task",
    "contrast",
    "method_a",
    "method_b",
    "subject",
    "roi",
    "layer",
    "metric",
    "n_subjects",
    "n_stimuli",
    "score_a",
    "score_b",
    "diff",
    "ci_low",
    "ci_high",
    "p",
    "q",
)
KEY_COLUMNS: tuple[str, ...] = ("direction", "dataset", "model", "task", "contrast", "subject", "roi", "layer", "metric")


def contrasts_for(variants: Iterable[tuple[str, str]]) -> list[tuple[str, tuple[str, str], tuple[str, str]]]:
    """Contrasts among the (task, method) variants of one dataset x model.

    Parameters
    ----------
    variants : iterable of (task, method)
        ``(none, base)`` is the untuned model, ``(none, random)`` its untrained twin.

    Returns
    -------
    list of (task, variant_a, variant_b)
        ``base-random`` (task ``none``) when both exist; then per task, every pair of its
        tuned methods in :data:`~brainalign.tables.METHOD_ORDER` order, then each tuned
        method against the base model (when present). Sorted by task.
    """
    variants = set(variants)
    base, random = (UNTUNED_TASK, BASE_METHOD), (UNTUNED_TASK, RANDOM_METHOD)
    has_base = base in variants
    by_task: dict[str, list[str]] = defaultdict(list)
    for task, method in variants:
        if method not in UNTUNED_METHODS:
            by_task[task].append(method)
    contrasts = [(UNTUNED_TASK, base, random)] if has_base and random in variants else []
    for task in sorted(by_task):
        methods = ordered_methods(by_task[task])
        for a, b in itertools.combinations(methods, 2):
            contrasts.append((task, (task, a), (task, b)))
        if has_base:
            contrasts += [(task, (task, method), (UNTUNED_TASK, BASE_METHOD)) for method in methods]
    return contrasts


def main_contrast(comparisons: pd.DataFrame) -> str | None:
    """The contrast figures and the summary lead with: the first between two tuned methods
    (e.g. ``prompt-finetune``), else the first one; None without comparisons."""
    if comparisons.empty:
        return None
    tuned = comparisons[~comparisons["method_a"].isin(UNTUNED_METHODS) & ~comparisons["method_b"].isin(UNTUNED_METHODS)]
    return str((tuned if not tuned.empty else comparisons)["contrast"].iloc[0])


def _subject_row(
    store_a: PairStore, store_b: PairStore, key: tuple[str, str, int], *, statistics: StatisticsSettings, seed: int,
    identity: tuple,
) -> dict:
    if store_a.stimulus_ids != store_b.stimulus_ids:
        raise DataError(
            f"cannot pair {identity}: the two model variants were scored on different stimuli or in a different "
            "order; rerun the ridge rule for both"
        )
    outcomes_a, outcomes_b = store_a.outcomes[key], store_b.outcomes[key]
    n = outcomes_a.shape[0]
    score_a = np.count_nonzero(outcomes_a) / (n * (n - 1))
    score_b = np.count_nonzero(outcomes_b) / (n * (n - 1))
    low, high = paired_bootstrap_two_vs_two(
        outcomes_a, outcomes_b, n_resamples=statistics.n_bootstrap, level=statistics.ci_level,
        rng=rng_for(seed, *identity, "bootstrap"),
    )
    _, p = paired_permutation_two_vs_two(
        store_a.half_margins[key], store_b.half_margins[key], n_permutations=statistics.n_permutations,
        rng=rng_for(seed, *identity, "permutation"), observed=score_a - score_b,
    )
    return {"n_subjects": 1, "n_stimuli": n, "score_a": score_a, "score_b": score_b, "diff": score_a - score_b,
            "ci_low": low, "ci_high": high, "p": p}


def _group_row(rows: pd.DataFrame, *, statistics: StatisticsSettings, seed: int, identity: tuple) -> dict:
    diffs = rows["diff"].to_numpy()
    low, high = t_interval(diffs, statistics.ci_level)
    return {
        "subject": ALL_SUBJECTS,
        "n_subjects": len(rows),
        "n_stimuli": int(rows["n_stimuli"].min()),
        "score_a": rows["score_a"].mean(),
        "score_b": rows["score_b"].mean(),
        "diff": diffs.mean(),
        "ci_low": low,
        "ci_high": high,
        "p": sign_flip_test(diffs, n_permutations=statistics.n_permutations, rng=rng_for(seed, *identity, "sign-flip")),
    }


def compare_variants(stores: Sequence[PairStore], *, statistics: StatisticsSettings, seed: int) -> pd.DataFrame:
    """Every paired contrast of model variants, per subject and over subjects, with q-values.

    Parameters
    ----------
    stores : sequence of PairStore
        One per subject x model variant (any datasets and models).
    statistics : StatisticsSettings
    seed : int
        Config seed; each row's resampling seed derives from it and the row's identity.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARISON_COLUMNS`, metric ``2v2``, sorted by :data:`KEY_COLUMNS`;
        ``q`` is the Benjamini-Hochberg q-value over all rows of the same direction.
    """
    by_unit: dict[tuple[str, str, str], dict[tuple[str, str], PairStore]] = defaultdict(dict)
    simulated: dict[str, bool] = {}
    for store in stores:
        ident = store.identity
        variants = by_unit[(ident["dataset"], ident["model"], ident["subject"])]
        if (ident["task"], ident["method"]) in variants:
            raise DataError(f"two pair stores for the same variant {ident}")
        variants[(ident["task"], ident["method"])] = store
        simulated[ident["dataset"]] = simulated.get(ident["dataset"], False) or ident["simulated"]
    rows = []
    for (dataset, model, subject), variants in sorted(by_unit.items()):
        for task, variant_a, variant_b in contrasts_for(variants):
            store_a, store_b = variants[variant_a], variants[variant_b]
            contrast = f"{variant_a[1]}-{variant_b[1]}"
            for key in sorted(set(store_a.outcomes) & set(store_b.outcomes)):
                direction, roi, layer = key
                identity = ("comparison", direction, dataset, subject, roi, model, task, layer, contrast)
                rows.append(
                    {
                        "direction": direction, "dataset": dataset, "simulated": simulated[dataset], "model": model,
                        "task": task, "contrast": contrast, "method_a": variant_a[1], "method_b": variant_b[1],
                        "subject": subject, "roi": roi, "layer": layer, "metric": "2v2",
                        **_subject_row(store_a, store_b, key, statistics=statistics, seed=seed, identity=identity),
                    }
                )
    if not rows:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    per_subject = pd.DataFrame(rows)
    groups = [column for column in KEY_COLUMNS if column != "subject"]
    group_rows = []
    for values, frame in per_subject.groupby(groups, sort=True):
        labels = dict(zip(groups, values))
        identity = ("comparison", *values, ALL_SUBJECTS)
        group_rows.append(
            {**labels, "simulated": frame["simulated"].iloc[0], "method_a": frame["method_a"].iloc[0],
             "method_b": frame["method_b"].iloc[0],
             **_group_row(frame, statistics=statistics, seed=seed, identity=identity)}
        )
    table = pd.concat([per_subject, pd.DataFrame(group_rows)], ignore_index=True)
    table["q"] = np.nan
    for _, index in table.groupby("direction").groups.items():
        table.loc[index, "q"] = benjamini_hochberg(table.loc[index, "p"].to_numpy(dtype=np.float64))
    table = table.loc[:, list(COMPARISON_COLUMNS)]
    return table.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)


def compare_pair_stores(
    paths: Sequence[str | os.PathLike], *, statistics: StatisticsSettings, seed: int
) -> pd.DataFrame:
    """:func:`compare_variants` of the pair stores at ``paths``."""
    if not paths:
        raise DataError("no pair stores to compare; check the config's subjects and models")
    return compare_variants([read_pair_store(path) for path in paths], statistics=statistics, seed=seed)


def read_comparisons(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``comparisons.csv`` (subject, roi and task as strings)."""
    try:
        return pd.read_csv(path, dtype={"subject": str, "roi": str, "task": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"cannot read comparisons table {path}: {error}; delete it and rerun") from error
