"""Brain alignment of one subject: cross-validated decoding and encoding for every ROI.

Decoding predicts the model representation from the voxels of an ROI; encoding predicts the
voxels from the representation. Both use out-of-fold ridge predictions with folds grouped by
passage (or image), and are scored with 2v2 accuracy pooled over all held-out stimuli;
encoding also reports the mean Pearson r over voxels. Every score carries a bootstrap CI and a
permutation p-value against chance that resample whole CV groups, the exchangeable unit; the
p-value refits every model on each permutation (:mod:`brainalign.score_uncertainty`,
:mod:`brainalign.refit_null`). The pair data a paired comparison of two model variants needs
are kept (:class:`SubjectAlignment`, :mod:`brainalign.pairs`).

When a subject has more than one acquisition session (``SubjectResponses.sessions``), 2v2 is
also reported over within-session and over cross-session pairs only (column ``pairs``:
:data:`PAIR_SETS`), so that a decoder winning pairs from session offsets shows.

Predictions and held-out targets are scored after standardising every target column with the
mean and standard deviation of its *training* rows (:func:`standardise_by_training_folds`).
Without that, pooled out-of-fold predictions carry each fold's training mean, which is
anti-correlated with the held-out fold's own mean; on pure noise this drives pooled 2v2 well
below chance (about 0.34 in ``tests/test_alignment.py``) instead of 0.5. A pair of stimuli from
two different folds is scored from one model trained without both (:mod:`brainalign.fold_pairs`):
the two folds' own models were each trained on the other stimulus, which also pulls null 2v2
below chance.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from brainalign.brains.store import SubjectResponses, read_subject_store
from brainalign.errors import ConfigError, DataError
from brainalign.features import FeatureStore, read_feature_store, variant_label
from brainalign.fold_pairs import fold_pair_blocks, standardise_by_training_folds
from brainalign.ridge import (
    alphas_at_grid_edge,
    check_backend,
    chosen_alphas_label,
    cross_val_predict_ridge,
    grouped_folds,
)
from brainalign.score_uncertainty import PAIR_SETS, fit_label, scores_with_uncertainty
from brainalign.stats import StatisticsSettings

__all__ = ["PAIR_SETS", "RidgeSettings", "SubjectAlignment", "align_features", "fit_subject", "read_ridge_inputs",
           "score_subject"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RidgeSettings:
    """How decoding and encoding are fitted and scored (config section ``ridge``)."""

    alphas: tuple[float, ...]
    n_folds: int = 5
    per_target_alpha: bool = False
    distance: str = "correlation"
    directions: tuple[str, ...] = ("decoding", "encoding")
    seed: int = 0
    backend: str = "numpy"
    device: str = "auto"

    def __post_init__(self) -> None:
        check_backend(self.backend, self.device)
        object.__setattr__(self, "alphas", tuple(float(alpha) for alpha in self.alphas))
        object.__setattr__(self, "directions", tuple(self.directions))
        unknown = set(self.directions) - {"decoding", "encoding"}
        if unknown:
            raise ConfigError(f"config key ridge.directions: unknown {sorted(unknown)}; use decoding and/or encoding")


def read_ridge_inputs(
    responses_path: str | os.PathLike,
    features_path: str | os.PathLike,
    *,
    subject: str,
    model: str,
    task: str,
    method: str,
    require: Mapping[str, str] | None = None,
) -> tuple[SubjectResponses, FeatureStore]:
    """Read the two stores of one ridge job, each checked against the job.

    The response store must hold ``subject``; the feature store must have been made for
    the variant ``model/task/method`` (:func:`brainalign.features.variant_label`), with
    the identity items in ``require`` (e.g. ``{"prefix": "true"}``, the text models'
    token prefix) and, when it records them, from the same sentence texts as the
    subject's stimuli. A stale, foreign or damaged store is a :class:`DataError` naming
    the file, never used.

    Returns
    -------
    responses : SubjectResponses
    features : FeatureStore
    """
    responses = read_subject_store(responses_path, subject=subject)
    features = read_feature_store(
        features_path, require={**(require or {}), "variant": variant_label(model, task, method)}
    )
    if features.stimulus_texts is not None:
        text_of = dict(zip(features.stimulus_ids, features.stimulus_texts, strict=True))
        changed = [
            stimulus
            for stimulus, text in zip(responses.stimulus_ids, responses.stimulus_texts, strict=True)
            if stimulus in text_of and text_of[stimulus] != text
        ]
        if changed:
            raise DataError(
                f"feature store {features_path} was computed from other sentences than response store "
                f"{responses_path} holds for {len(changed)} stimuli (first: {changed[:3]}); it is stale: "
                "delete it and rerun the features rule"
            )
    return responses, features


def align_features(responses: SubjectResponses, features: FeatureStore) -> dict[int, np.ndarray]:
    """Return each layer's representations in the subject's stimulus order.

    Returns
    -------
    dict
        layer -> array (n_stimuli, n_dims), rows in ``responses.stimulus_ids`` order.

    Raises
    ------
    DataError
        If the feature store lacks any of the subject's stimuli.
    """
    row_of = {stimulus: row for row, stimulus in enumerate(features.stimulus_ids)}
    missing = [stimulus for stimulus in responses.stimulus_ids if stimulus not in row_of]
    if missing:
        raise DataError(
            f"the feature store has no representation for {len(missing)} stimuli of subject "
            f"{responses.subject} (first: {missing[:5]}); the features cover the stimuli of the "
            "dataset's first listed subject (results/brains/<dataset>/stimuli.tsv): list a subject "
            "that saw every stimulus first in datasets.<dataset>.subjects"
        )
    rows = np.array([row_of[stimulus] for stimulus in responses.stimulus_ids])
    return {layer: matrix[rows] for layer, matrix in features.layers.items()}


PairKey = tuple[str, str, int]
"""(direction, roi, layer) of one 2v2 score."""

@dataclass(frozen=True)
class SubjectAlignment:
    """Scores of one subject x model variant, and the pair data paired tests need.

    Attributes
    ----------
    scores : pandas.DataFrame
        Rows with the columns of :data:`brainalign.tables.TABLE_COLUMNS`.
    stimulus_ids : tuple of str
        Row/column order of the pair matrices.
    outcomes : dict
        (direction, roi, layer) -> bool array (n_stimuli, n_stimuli), the 2v2 outcome of every
        pair (:func:`brainalign.metrics.pair_outcomes`); exactly what the 2v2 score averages.
    half_margins : dict
        (direction, roi, layer) -> float32 array (n_stimuli, n_stimuli),
        ``S[i, i] - S[i, j]`` of the similarity matrix (:func:`brainalign.metrics.half_margins`).
    groups, sessions : tuple of str, optional
        CV group and acquisition session of each stimulus (the resampling unit and its
        strata); None: unknown (each stimulus its own group, one session).
    """

    scores: pd.DataFrame
    stimulus_ids: tuple[str, ...]
    outcomes: dict[PairKey, np.ndarray] = field(default_factory=dict)
    half_margins: dict[PairKey, np.ndarray] = field(default_factory=dict)
    groups: tuple[str, ...] | None = None
    sessions: tuple[str, ...] | None = None


def fit_subject(
    responses: SubjectResponses,
    features: FeatureStore,
    *,
    settings: RidgeSettings,
    model: str,
    task: str,
    method: str,
    statistics: StatisticsSettings | None = None,
) -> SubjectAlignment:
    """Decode and encode every ROI x layer of one subject, with uncertainty and pair data.

    Parameters
    ----------
    responses : SubjectResponses
        The subject's ROI matrices, each (n_stimuli, n_voxels).
    features : FeatureStore
        Representations of (at least) the subject's stimuli, one (n, n_dims) matrix per layer.
    settings : RidgeSettings
    model, task, method : str
        Identify the model variant in the output rows.
    statistics : StatisticsSettings, optional
        Resamples and CI level (default :class:`~brainalign.stats.StatisticsSettings()`).
        Seeds derive from ``settings.seed`` and each row's identity.

    Returns
    -------
    SubjectAlignment
        ``scores`` has one row per direction x ROI x layer x metric x pair set (``pairs``:
        ``all``, and with several sessions ``within_session`` and ``cross_session`` for 2v2);
        ``ci_low``/``ci_high`` are the percentile bootstrap CI over CV groups, widened by the
        refitted null's spread, and ``p_value`` the one-sided permutation p-value against
        chance (2v2 = 0.5, Pearson r = 0) with every ridge model refitted on each permutation
        of whole groups within strata of outer fold, size and session
        (:mod:`brainalign.score_uncertainty`).
    """
    statistics = statistics if statistics is not None else StatisticsSettings()
    layers = align_features(responses, features)
    folds = grouped_folds(np.asarray(responses.groups), settings.n_folds, seed=settings.seed)
    rows, outcomes, margins = [], {}, {}
    # The exchangeable unit of every resampling test is the CV group; sessions are strata.
    units = {"groups": tuple(map(str, responses.groups)), "sessions": tuple(map(str, responses.sessions))}
    fits = list(itertools.product(responses.rois.items(), sorted(layers.items()), settings.directions))
    for number, ((roi, voxels), (layer, representation), direction) in enumerate(fits, start=1):
        started = time.monotonic()
        inputs, targets = (voxels, representation) if direction == "decoding" else (representation, voxels)
        predicted, chosen = cross_val_predict_ridge(
            inputs,
            targets,
            settings.alphas,
            folds,
            per_target_alpha=settings.per_target_alpha,
            backend=settings.backend,
            device=settings.device,
            groups=responses.groups,
            sessions=responses.sessions,
            return_alphas=True,
        )
        if alphas_at_grid_edge(chosen, settings.alphas):
            logger.warning(
                "%s %s of subject %s, ROI %s, layer %s (%s/%s/%s): a chosen alpha sits at the edge of "
                "the grid ridge.alphas (%s; per fold: %s); widen the grid (at the upper edge this is also what "
                "an ROI without predictable signal gives: no alpha is then large enough, and it scores at chance)",
                responses.dataset, direction, responses.subject, roi, layer, model, task, method,
                ", ".join(f"{alpha:g}" for alpha in (min(settings.alphas), max(settings.alphas))),
                chosen_alphas_label(chosen),
            )
        raw_targets = targets
        predicted, targets = standardise_by_training_folds(predicted, targets, folds, responses.sessions)
        blocks = fold_pair_blocks(
            inputs, raw_targets, settings.alphas, folds, (predicted, targets), distance=settings.distance,
            sessions=responses.sessions, per_target_alpha=settings.per_target_alpha,
            backend=settings.backend, device=settings.device, groups=responses.groups,
        )
        identity = (direction, responses.dataset, responses.subject, roi, model, task, method, layer)
        metrics, outcomes[(direction, roi, layer)], margins[(direction, roi, layer)] = scores_with_uncertainty(
            inputs, raw_targets, blocks, (predicted, targets), folds=folds, alphas=settings.alphas,
            distance=settings.distance, per_target_alpha=settings.per_target_alpha, statistics=statistics,
            seed=settings.seed, identity=identity, pearson=direction == "encoding", **units,
        )
        headline = metrics[("2v2", "all")]
        logger.info(
            "%s: 2v2 %.3f [%.3f, %.3f], p = %.3g (fit %d of %d, %.1f s)", fit_label(identity),
            headline["score"], headline["ci_low"], headline["ci_high"], headline["p_value"], number, len(fits),
            time.monotonic() - started,
        )
        for (metric, pairs), values in metrics.items():
            rows.append(
                {
                    "direction": direction,
                    "dataset": responses.dataset,
                    "simulated": responses.simulated,
                    "subject": responses.subject,
                    "roi": roi,
                    "n_voxels": voxels.shape[1],
                    "n_stimuli": voxels.shape[0],
                    "model": model,
                    "task": task,
                    "method": method,
                    "layer": layer,
                    "metric": metric,
                    "pairs": pairs,
                    **values,
                    "alphas": chosen_alphas_label(chosen),
                }
            )
    return SubjectAlignment(
        pd.DataFrame(rows), tuple(responses.stimulus_ids), outcomes, margins, groups=units["groups"],
        sessions=units["sessions"],
    )


def score_subject(
    responses: SubjectResponses,
    features: FeatureStore,
    *,
    settings: RidgeSettings,
    model: str,
    task: str,
    method: str,
    statistics: StatisticsSettings | None = None,
) -> pd.DataFrame:
    """The score table of :func:`fit_subject` (one row per direction x ROI x layer x metric).

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`brainalign.tables.TABLE_COLUMNS`, including ``ci_low``,
        ``ci_high`` and ``p_value``.
    """
    return fit_subject(
        responses, features, settings=settings, model=model, task=task, method=method, statistics=statistics
    ).scores
