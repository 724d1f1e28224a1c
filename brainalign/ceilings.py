"""Noise ceilings: how much stimulus-driven signal each subject x ROI holds at all.

Two estimates (``docs/ceilings.md`` says what each means and does not):

- **split-half** (:func:`split_half_ceilings`, BOLD5000): the individual presentations of the
  repeated images (:class:`~brainalign.brains.store.RepeatedPresentations`) are split in two
  halves per image (presentations 1, 3, ... and 2, 4, ... in acquisition order) and averaged.
  Per voxel the split-half correlation over images is Spearman-Brown corrected to the number
  of presentations the *analysis* matrix averages per stimulus (their harmonic mean over all
  stimuli: mostly single presentations in BOLD5000), so the ceiling describes the data the
  models are scored on. Per ROI:

  * encoding Pearson r ceiling: the mean over voxels of ``sign(rho) * sqrt(|rho|)`` of the
    corrected reliability ``rho`` (the signed root keeps pure-noise voxels centred on 0
    instead of biasing the mean upwards);
  * encoding 2v2 ceiling: 2v2 between one half's responses and the other's over the repeated
    images (voxels standardised with the analysis matrix's mean and SD), not corrected.

  CIs: percentile bootstrap over images. The building blocks are in :mod:`brainalign.split_half`.
- **cross-subject** (:func:`cross_subject_ceilings`, any dataset with >= 2 subjects on shared
  stimuli): each subject's ROI is decoded and encoded from the *other* subjects' responses
  (their voxels side by side) to the stimuli all of them saw, through
  :func:`brainalign.alignment.fit_subject` itself, so folds, grouping, ridge and scoring are
  the models' own; the CIs are the ones ``fit_subject`` reports (no permutation p-values).
  With more than two subjects the pool is every other subject; no extrapolation over the
  number of subjects (``docs/ceilings.md`` says why).

:func:`normalise_scores` joins a ceiling to every score row and adds
``normalised_score = (score - chance) / (ceiling - chance)`` (chance 0.5 for 2v2, 0 for r),
NaN with a logged reason when the ceiling's CI includes chance (columns
:data:`brainalign.tables.OPTIONAL_COLUMNS`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from brainalign.alignment import RidgeSettings, fit_subject
from brainalign.brains.store import SubjectResponses
from brainalign.errors import ConfigError, DataError
from brainalign.features import FeatureStore
from brainalign.split_half import split_half_roi
from brainalign.stats import StatisticsSettings, rng_for
from brainalign.tables import write_frame

logger = logging.getLogger(__name__)

SPLIT_HALF, CROSS_SUBJECT = "split-half", "cross-subject"
METHODS: tuple[str, ...] = (SPLIT_HALF, CROSS_SUBJECT)
CHANCE: dict[str, float] = {"2v2": 0.5, "pearson_r": 0.0}
KEYS: tuple[str, ...] = ("dataset", "subject", "roi", "direction", "metric")
"""The columns a score row and its ceiling share."""
CEILING_COLUMNS: tuple[str, ...] = (
    "dataset", "simulated", "subject", "roi", "direction", "metric", "ceiling", "ci_low", "ci_high", "method", "n_stimuli",
)
"""Columns of ``ceilings.csv``."""


def check_methods(methods: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Validate config ``ceilings.methods`` (dataset -> ceiling methods, in order of preference)."""
    checked = {}
    for dataset, listed in methods.items():
        unknown = [m for m in listed if m not in METHODS]
        if unknown or not listed or len(set(listed)) != len(listed):
            raise ConfigError(
                f"config key ceilings.methods.{dataset}: {list(listed)} must list distinct methods of {list(METHODS)}."
            )
        checked[dataset] = tuple(listed)
    return checked


# --------------------------------------------------------------------------- split-half


def split_half_ceilings(
    responses: SubjectResponses, *, distance: str, statistics: StatisticsSettings, seed: int
) -> list[dict]:
    """Split-half ceilings of every ROI of one subject (encoding rows: 2v2 and pearson_r).

    Raises
    ------
    DataError
        The store keeps no individual presentations (no repeated stimuli, or a store written
        before they were kept).
    """
    if responses.repeats is None:
        raise DataError(
            f"subject {responses.subject} of {responses.dataset}: the response store keeps no individual "
            "presentations of repeated stimuli, which the split-half ceiling needs; delete the store and rerun the "
            f"brains stage, or remove split-half from config key ceilings.methods.{responses.dataset}."
        )
    rows = []
    for roi, analysis in responses.rois.items():
        rng = rng_for(seed, "ceiling", SPLIT_HALF, responses.dataset, responses.subject, roi)
        values = split_half_roi(
            responses.repeats.rois[roi], responses.repeats.stimulus_index, analysis, distance=distance,
            n_bootstrap=statistics.n_bootstrap, level=statistics.ci_level, rng=rng,
        )
        n_repeated = int(np.unique(responses.repeats.stimulus_index).size)
        for metric, (ceiling, low, high) in values.items():
            rows.append(_row(responses, roi, "encoding", metric, ceiling, low, high, SPLIT_HALF, n_repeated))
    return rows


def _row(responses: SubjectResponses, roi: str, direction: str, metric: str, ceiling: float, low: float,
         high: float, method: str, n_stimuli: int) -> dict:
    return {
        "dataset": responses.dataset, "simulated": responses.simulated, "subject": responses.subject, "roi": roi,
        "direction": direction, "metric": metric, "ceiling": ceiling, "ci_low": low, "ci_high": high,
        "method": method, "n_stimuli": n_stimuli,
    }


# --------------------------------------------------------------------------- cross-subject


def subset_responses(responses: SubjectResponses, stimulus_ids: Sequence[str], rois: Sequence[str]) -> SubjectResponses:
    """``responses`` restricted to ``stimulus_ids`` (in that order) and ``rois`` (no repeats)."""
    row_of = {stimulus: i for i, stimulus in enumerate(responses.stimulus_ids)}
    rows = np.array([row_of[stimulus] for stimulus in stimulus_ids], dtype=np.intp)
    pick = lambda values: tuple(values[i] for i in rows)  # noqa: E731
    return SubjectResponses(
        dataset=responses.dataset, subject=responses.subject, stimulus_ids=tuple(stimulus_ids),
        stimulus_texts=pick(responses.stimulus_texts), groups=pick(responses.groups),
        sessions=pick(responses.sessions), rois={roi: responses.rois[roi][rows] for roi in rois},
        simulated=responses.simulated, provenance=responses.provenance,
    )


def cross_subject_ceilings(
    subjects: Sequence[SubjectResponses], *, settings: RidgeSettings, statistics: StatisticsSettings
) -> list[dict]:
    """Cross-subject ceilings: each subject predicted from all the others (see the module docstring).

    Parameters
    ----------
    subjects : sequence of SubjectResponses
        The subjects of one dataset (at least 2).
    settings : RidgeSettings
        The models' ridge settings (folds, alphas, distance, directions, seed).
    statistics : StatisticsSettings
        Bootstrap resamples and CI level (permutations are not run).

    Returns
    -------
    list of dict
        One row per subject x ROI x direction x metric (columns :data:`CEILING_COLUMNS`).

    Raises
    ------
    DataError
        Fewer than 2 subjects, or a subject shares too few stimuli with the others for the folds.
    """
    if len(subjects) < 2:
        raise DataError("a cross-subject ceiling needs at least 2 subjects on shared stimuli.")
    no_permutations = StatisticsSettings(**{**statistics.__dict__, "n_permutations": 0})
    rows = []
    for target in subjects:
        others = [s for s in subjects if s is not target]
        shared_ids = set.intersection(*(set(s.stimulus_ids) for s in others))
        stimulus_ids = [stimulus for stimulus in target.stimulus_ids if stimulus in shared_ids]
        rois = [roi for roi in target.rois if all(roi in other.rois for other in others)]
        if len(stimulus_ids) < target.n_stimuli:
            logger.info("%s: %d of %d stimuli are shared with every other subject", target.subject,
                        len(stimulus_ids), target.n_stimuli)
        if len(stimulus_ids) < 2 * settings.n_folds:
            raise DataError(
                f"subject {target.subject} of {target.dataset} shares {len(stimulus_ids)} stimuli with the other subjects, "
                f"too few for {settings.n_folds} folds; remove cross-subject from config key "
                f"ceilings.methods.{target.dataset}."
            )
        restricted = subset_responses(target, stimulus_ids, rois)
        for roi in rois:
            pooled = np.hstack([subset_responses(other, stimulus_ids, [roi]).rois[roi] for other in others])
            features = FeatureStore(
                stimulus_ids=tuple(stimulus_ids), layers={0: pooled},
                identity={"variant": "other subjects: " + ",".join(o.subject for o in others), "roi": roi},
            )
            one_roi = SubjectResponses(**{**restricted.__dict__, "rois": {roi: restricted.rois[roi]}})
            scores = fit_subject(
                one_roi, features, settings=settings, model="subjects", task="none", method=CROSS_SUBJECT,
                statistics=no_permutations,
            ).scores
            if "pairs" in scores.columns:  # within/cross-session rows: the ceiling uses all pairs
                scores = scores[scores["pairs"] == "all"]
            for score in scores.itertuples():
                rows.append(_row(target, roi, score.direction, score.metric, score.score, score.ci_low,
                                 score.ci_high, CROSS_SUBJECT, len(stimulus_ids)))
            logger.info("%s / %s / %s: cross-subject ceilings from %s", target.dataset, target.subject, roi,
                        ", ".join(o.subject for o in others))
    return rows


# --------------------------------------------------------------------------- tables


def compute_ceilings(
    stores: Mapping[str, Sequence[SubjectResponses]],
    *,
    methods: Mapping[str, Sequence[str]],
    settings: RidgeSettings,
    statistics: StatisticsSettings,
) -> pd.DataFrame:
    """Every configured ceiling of every dataset.

    Parameters
    ----------
    stores : mapping
        Dataset -> its subjects' responses.
    methods : mapping
        Config ``ceilings.methods``: dataset -> methods to compute.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CEILING_COLUMNS`, sorted by dataset, subject, ROI, direction, metric, method.
    """
    rows = []
    for dataset, listed in check_methods(methods).items():
        subjects = list(stores.get(dataset, []))
        if SPLIT_HALF in listed:
            for responses in subjects:
                rows += split_half_ceilings(responses, distance=settings.distance, statistics=statistics,
                                            seed=settings.seed)
        if CROSS_SUBJECT in listed:
            if len(subjects) < 2:
                logger.warning("%s: one subject, no cross-subject ceiling (it needs >= 2 on shared stimuli)", dataset)
            else:
                rows += cross_subject_ceilings(subjects, settings=settings, statistics=statistics)
    frame = pd.DataFrame(rows, columns=list(CEILING_COLUMNS))
    return frame.sort_values(["dataset", "subject", "roi", "direction", "metric", "method"], kind="stable").reset_index(drop=True)


def write_ceilings(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``ceilings.csv`` atomically (columns :data:`CEILING_COLUMNS`)."""
    write_frame(frame.loc[:, list(CEILING_COLUMNS)], path)


def read_ceilings(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``ceilings.csv``; a missing column is a :class:`DataError` naming the file."""
    try:
        frame = pd.read_csv(path, dtype={"subject": str, "roi": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"cannot read ceilings table {path}: {error}; delete it and rerun") from error
    missing = [column for column in CEILING_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(f"ceilings table {path} lacks the columns {missing}; delete it and rerun")
    return frame


def normalising_ceilings(ceilings: pd.DataFrame, methods: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """The ceiling each score is normalised by: per dataset x subject x ROI x direction x metric,
    the row of the first method in ``methods[dataset]`` that has one."""
    rank = {(dataset, method): i for dataset, listed in methods.items() for i, method in enumerate(listed)}
    ranked = ceilings.assign(_rank=[rank.get((d, m)) for d, m in zip(ceilings["dataset"], ceilings["method"])])
    ranked = ranked.dropna(subset=["_rank"]).sort_values([*KEYS, "_rank"], kind="stable")
    return ranked.drop_duplicates(subset=list(KEYS)).drop(columns="_rank").reset_index(drop=True)


def normalise_scores(
    scores: pd.DataFrame, ceilings: pd.DataFrame, methods: Mapping[str, Sequence[str]]
) -> tuple[pd.DataFrame, list[str]]:
    """Add ``ceiling`` and ``normalised_score`` to a score table.

    ``normalised_score = (score - chance) / (ceiling - chance)``, chance :data:`CHANCE`; NaN when
    the row has no ceiling, or the ceiling's CI includes (or lies below) chance, or it has no CI.

    Returns
    -------
    frame : pandas.DataFrame
        ``scores`` (same rows, same order) with the two columns appended.
    reasons : list of str
        One line per dataset x subject x ROI x direction x metric left without a ratio, and why.
    """
    chosen = normalising_ceilings(ceilings, methods)[[*KEYS, "ceiling", "ci_low", "ci_high", "method"]]
    chosen = chosen.rename(columns={"ci_low": "ceiling_low", "ci_high": "ceiling_high", "method": "ceiling_method"})
    joined = scores.merge(chosen, on=list(KEYS), how="left", validate="many_to_one")
    chance = joined["metric"].map(CHANCE)
    reliable = (joined["ceiling_low"] > chance) & joined["ceiling_high"].notna()
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (joined["score"] - chance) / (joined["ceiling"] - chance)
    joined["normalised_score"] = ratio.where(reliable)
    reasons = []
    unexplained = joined[~reliable].drop_duplicates(subset=list(KEYS))
    for row in unexplained.itertuples():
        where = f"{row.dataset} / {row.subject} / {row.roi} / {row.direction} / {row.metric}"
        if pd.isna(row.ceiling):
            reasons.append(f"{where}: no ceiling (none configured or computable); normalised_score is NaN")
        elif pd.isna(row.ceiling_high):
            reasons.append(f"{where}: the {row.ceiling_method} ceiling {row.ceiling:.3f} has no CI; normalised_score is NaN")
        else:
            reasons.append(
                f"{where}: the {row.ceiling_method} ceiling's CI [{row.ceiling_low:.3f}, {row.ceiling_high:.3f}] includes or lies below "
                f"chance {CHANCE.get(row.metric, float('nan')):g}: an unreliable ROI gets no ratio; normalised_score is NaN"
            )
    return joined.drop(columns=["ceiling_low", "ceiling_high", "ceiling_method"]), reasons
