"""Paired comparisons of model variants: prompt vs finetune, each tuned method vs base, and
base vs its untrained twin.

The paper's claim is a difference between two model variants on the same brain data. For
every dataset x model x subject x direction x ROI x layer and task, each contrast ``A-B``
(every pair of tuned methods of the task, e.g. ``prompt-finetune``, and every tuned method
against the untuned model, e.g. ``prompt-base``; and ``base-random``, what pre-training
adds over the architecture alone, when the ``random`` baseline is configured) gets:

- per subject (``generalises_over = stimuli``): the 2v2 difference on the same stimulus
  pairs, a paired bootstrap CI over CV groups and a paired permutation p-value (predictions
  swapped group by group), from the pair stores the ridge rule writes (:mod:`brainalign.pairs`);
- group level over stimuli (``subject = all``, ``generalises_over = stimuli``): the mean over
  subjects of the difference on the stimuli all subjects share, with stimulus groups as the
  random factor: one group-swap pattern (permutation p) or one draw of groups (bootstrap CI)
  is applied to every subject at once. It says whether the difference would hold for new
  passages/images in these subjects, and can reach p = 1 / (1 + n_permutations);
- group level over subjects (``subject = all``, ``generalises_over = subjects``): the mean
  difference, a t-interval over subjects and a sign-flip p-value over subjects, exact when
  few subjects; ``min_p`` states its floor (0.5 with 2 subjects, 0.0625 with 5);
- ``q``: Benjamini-Hochberg within each declared family, direction x contrast x level (per
  subject; group over stimuli; group over subjects), see :data:`FAMILY_COLUMNS`;
- ``effect``: the contrast against the smallest effect of interest
  (:func:`brainalign.families.effect_labels`); ``primary``: the row belongs to the primary
  contrast (config ``statistics.primary_contrast``).

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
from brainalign.alignment import PairKey
from brainalign.pairs import PairStore, read_pair_store
from brainalign.tables import UNTUNED_METHODS, UNTUNED_TASK, ordered_methods
from brainalign.families import effect_labels, family_q_values
from brainalign.paired_stats import paired_bootstrap_two_vs_two, paired_swap_terms, swap_permutation_test
from brainalign.stats import StatisticsSettings, bootstrap_two_vs_two, rng_for
from brainalign.subject_tests import sign_flip_floor, sign_flip_test, t_interval

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
    "generalises_over",
    "n_subjects",
    "n_stimuli",
    "score_a",
    "score_b",
    "diff",
    "ci_low",
    "ci_high",
    "p",
    "q",
    "min_p",
    "effect",
    "primary",
)
KEY_COLUMNS: tuple[str, ...] = (
    "direction", "dataset", "model", "task", "contrast", "subject", "roi", "layer", "metric", "generalises_over",
)
OVER_STIMULI = "stimuli"
OVER_SUBJECTS = "subjects"
FAMILY_COLUMNS: tuple[str, ...] = ("direction", "contrast", "_level")
"""BH families: direction x contrast x level, the level being per subject, group over stimuli
or group over subjects."""


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
    """The contrast figures and the summary lead with: the primary contrast (rows with
    ``primary`` true), else the first between two tuned methods (e.g. ``prompt-finetune``),
    else the first one; None without comparisons."""
    if comparisons.empty:
        return None
    if "primary" in comparisons.columns and comparisons["primary"].astype(bool).any():
        return str(comparisons.loc[comparisons["primary"].astype(bool), "contrast"].iloc[0])
    tuned = comparisons[~comparisons["method_a"].isin(UNTUNED_METHODS) & ~comparisons["method_b"].isin(UNTUNED_METHODS)]
    return str((tuned if not tuned.empty else comparisons)["contrast"].iloc[0])


def _groups_of(store: PairStore) -> tuple[str, ...]:
    return store.groups if store.groups is not None else store.stimulus_ids


def _subject_terms(store_a: PairStore, store_b: PairStore, key: PairKey, identity: tuple) -> dict:
    """What the per-subject and group-level tests need of one subject: outcome difference,
    swap terms, scores and groups."""
    if store_a.stimulus_ids != store_b.stimulus_ids:
        raise DataError(
            f"cannot pair {identity}: the two model variants were scored on different stimuli or in a different "
            "order; rerun the ridge rule for both"
        )
    outcomes_a = store_a.outcomes[key].astype(np.float64)
    outcomes_b = store_b.outcomes[key].astype(np.float64)
    same, crossed = paired_swap_terms(store_a.half_margins[key], store_b.half_margins[key])
    return {"ids": store_a.stimulus_ids, "groups": _groups_of(store_a), "difference": outcomes_a - outcomes_b,
            "outcomes_a": outcomes_a, "outcomes_b": outcomes_b, "same": same, "crossed": crossed}


def _mean_pair_value(matrix: np.ndarray) -> float:
    n = matrix.shape[0]
    return float(matrix.sum() / (n * (n - 1)))


def _subject_row(terms: dict, *, statistics: StatisticsSettings, seed: int, identity: tuple) -> dict:
    score_a, score_b = _mean_pair_value(terms["outcomes_a"]), _mean_pair_value(terms["outcomes_b"])
    low, high = paired_bootstrap_two_vs_two(
        terms["outcomes_a"], terms["outcomes_b"], n_resamples=statistics.n_bootstrap, level=statistics.ci_level,
        rng=rng_for(seed, *identity, "bootstrap"), groups=terms["groups"],
    )
    _, p = swap_permutation_test(
        terms["same"], terms["crossed"], n_permutations=statistics.n_permutations,
        rng=rng_for(seed, *identity, "permutation"), groups=terms["groups"], observed=score_a - score_b,
    )
    return {"generalises_over": OVER_STIMULI, "n_subjects": 1, "n_stimuli": terms["same"].shape[0],
            "score_a": score_a, "score_b": score_b, "diff": score_a - score_b, "ci_low": low, "ci_high": high,
            "p": p, "min_p": _permutation_floor(statistics.n_permutations)}


def _permutation_floor(n_permutations: int) -> float:
    return 1.0 / (1 + n_permutations) if n_permutations > 0 else float("nan")


def _over_stimuli_row(subjects: Sequence[dict], *, statistics: StatisticsSettings, seed: int, identity: tuple) -> dict:
    """Group level with stimulus groups as the random factor: one resampling pattern for all subjects."""
    shared = set(subjects[0]["ids"]).intersection(*(terms["ids"] for terms in subjects[1:]))
    order = [stimulus for stimulus in subjects[0]["ids"] if stimulus in shared]
    if len(order) < 2:
        raise DataError(f"{identity}: the subjects share fewer than 2 stimuli; a group-level test over stimuli needs more")
    means: dict[str, np.ndarray] = {}
    groups = None
    for terms in subjects:
        position = {stimulus: i for i, stimulus in enumerate(terms["ids"])}
        index = np.array([position[stimulus] for stimulus in order])
        these = tuple(terms["groups"][i] for i in index)
        if groups is None:
            groups = these
        elif these != groups:
            raise DataError(
                f"{identity}: the subjects' pair stores group the shared stimuli differently (CV groups); "
                "every subject must use the same passage/image groups: rerun the brains and ridge rules"
            )
        for name in ("difference", "outcomes_a", "outcomes_b", "same", "crossed"):
            means[name] = means.get(name, 0.0) + terms[name][np.ix_(index, index)] / len(subjects)
    diff = _mean_pair_value(means["difference"])
    low, high = bootstrap_two_vs_two(
        means["difference"], n_resamples=statistics.n_bootstrap, level=statistics.ci_level,
        rng=rng_for(seed, *identity, "stimuli-bootstrap"), groups=groups,
    )
    _, p = swap_permutation_test(
        means["same"], means["crossed"], n_permutations=statistics.n_permutations,
        rng=rng_for(seed, *identity, "stimuli-permutation"), groups=groups, observed=diff,
    )
    return {"subject": ALL_SUBJECTS, "generalises_over": OVER_STIMULI, "n_subjects": len(subjects),
            "n_stimuli": len(order), "score_a": _mean_pair_value(means["outcomes_a"]),
            "score_b": _mean_pair_value(means["outcomes_b"]), "diff": diff, "ci_low": low, "ci_high": high, "p": p,
            "min_p": _permutation_floor(statistics.n_permutations)}


def _over_subjects_row(rows: pd.DataFrame, *, statistics: StatisticsSettings, seed: int, identity: tuple) -> dict:
    """Group level with subjects as the random factor: t-interval and exact sign-flip test."""
    diffs = rows["diff"].to_numpy()
    low, high = t_interval(diffs, statistics.ci_level)
    return {
        "subject": ALL_SUBJECTS,
        "generalises_over": OVER_SUBJECTS,
        "n_subjects": len(rows),
        "n_stimuli": int(rows["n_stimuli"].min()),
        "score_a": rows["score_a"].mean(),
        "score_b": rows["score_b"].mean(),
        "diff": diffs.mean(),
        "ci_low": low,
        "ci_high": high,
        "p": sign_flip_test(diffs, n_permutations=statistics.n_permutations, rng=rng_for(seed, *identity, "sign-flip")),
        "min_p": sign_flip_floor(len(rows), statistics.n_permutations),
    }


def compare_variants(stores: Sequence[PairStore], *, statistics: StatisticsSettings, seed: int) -> pd.DataFrame:
    """Every paired contrast of model variants, per subject and at the group level, with q-values.

    Parameters
    ----------
    stores : sequence of PairStore
        One per subject x model variant (any datasets and models).
    statistics : StatisticsSettings
        Resamples, CI level, ``fdr_alpha``, ``primary_contrast`` and ``smallest_effect``.
    seed : int
        Config seed; each row's resampling seed derives from it and the row's identity.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARISON_COLUMNS`, metric ``2v2``, sorted by :data:`KEY_COLUMNS`:
        per subject x contrast x direction x ROI x layer one row, and per contrast x direction
        x ROI x layer two group rows (``subject = all``, ``generalises_over`` ``stimuli`` and
        ``subjects``). ``q`` is the Benjamini-Hochberg q-value within the row's family
        (:data:`FAMILY_COLUMNS`), ``min_p`` the smallest p its test can give, ``effect`` its
        label against ``statistics.smallest_effect`` and ``primary`` whether its contrast is
        ``statistics.primary_contrast``.
    """
    by_unit: dict[tuple[str, str], dict[str, dict[tuple[str, str], PairStore]]] = defaultdict(lambda: defaultdict(dict))
    simulated: dict[str, bool] = {}
    for store in stores:
        ident = store.identity
        variants = by_unit[(ident["dataset"], ident["model"])][ident["subject"]]
        if (ident["task"], ident["method"]) in variants:
            raise DataError(f"two pair stores for the same variant {ident}")
        variants[(ident["task"], ident["method"])] = store
        simulated[ident["dataset"]] = simulated.get(ident["dataset"], False) or ident["simulated"]
    rows, group_rows = [], []
    for (dataset, model), subjects in sorted(by_unit.items()):
        contrasts = sorted({c for variants in subjects.values() for c in contrasts_for(variants)})
        for task, variant_a, variant_b in contrasts:
            contrast = f"{variant_a[1]}-{variant_b[1]}"
            labels = {"dataset": dataset, "simulated": simulated[dataset], "model": model, "task": task,
                      "contrast": contrast, "method_a": variant_a[1], "method_b": variant_b[1], "metric": "2v2"}
            pairs = {subject: (variants[variant_a], variants[variant_b]) for subject, variants in sorted(subjects.items())
                     if variant_a in variants and variant_b in variants}
            keys = sorted({key for a, b in pairs.values() for key in set(a.outcomes) & set(b.outcomes)})
            for key in keys:
                direction, roi, layer = key
                place = {**labels, "direction": direction, "roi": roi, "layer": layer}
                terms, subject_rows = [], []
                for subject, (store_a, store_b) in pairs.items():
                    if key not in store_a.outcomes or key not in store_b.outcomes:
                        continue
                    identity = ("comparison", direction, dataset, subject, roi, model, task, layer, contrast)
                    terms.append(_subject_terms(store_a, store_b, key, identity))
                    subject_rows.append({**place, "subject": subject,
                                         **_subject_row(terms[-1], statistics=statistics, seed=seed, identity=identity)})
                rows += subject_rows
                identity = ("comparison", direction, dataset, roi, model, task, layer, contrast, ALL_SUBJECTS)
                group_rows.append({**place, **_over_stimuli_row(terms, statistics=statistics, seed=seed, identity=identity)})
                group_rows.append({**place, **_over_subjects_row(pd.DataFrame(subject_rows), statistics=statistics,
                                                                 seed=seed, identity=identity)})
    if not rows:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    table = pd.concat([pd.DataFrame(rows), pd.DataFrame(group_rows)], ignore_index=True)
    table["_level"] = np.where(table["subject"] == ALL_SUBJECTS, "group-" + table["generalises_over"], "subject")
    table["q"] = family_q_values(table, FAMILY_COLUMNS)
    table["effect"] = effect_labels(
        table["diff"], table["ci_low"], table["ci_high"], table["q"],
        smallest_effect=statistics.smallest_effect_for("2v2"), fdr_alpha=statistics.fdr_alpha,
    )
    table["primary"] = table["contrast"] == statistics.primary_contrast
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
