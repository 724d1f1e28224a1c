"""The hyperparameter search of one tune job: train every learning rate of the grid, keep the best.

Every candidate trains from the same initial model with the same data, batches, budget and
seed; only the learning rate differs. The winner is chosen on the validation split:

- text: the lowest validation loss (per target token) of the weights kept;
- vision: the highest validation accuracy of the weights kept, ties to the lower loss.

"The weights kept" are the last step's, or the best-scoring step's under early stopping
(:func:`brainalign.tuning.loop.train` restores those). Ties left after that go to the
candidate listed first. Only the winner's model is kept (in memory, then saved as the
checkpoint); a candidate that lost leaves its validation curve in the search record
(``tuning.json``) and nothing else.
"""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from brainalign.errors import ConfigError

logger = logging.getLogger(__name__)

#: Selection criteria: text by validation loss, vision by validation accuracy (ties to loss).
CRITERIA: tuple[str, ...] = ("validation_loss", "validation_accuracy")


@dataclass(frozen=True)
class Candidate:
    """One trained learning rate.

    Attributes
    ----------
    learning_rate : float
    history : pandas.DataFrame
        The loss curve of :func:`brainalign.tuning.loop.train` (``attrs`` included).
    validation_loss : float
        Validation loss of the weights kept (see :func:`kept_validation_loss`).
    validation_accuracy : float or None
        Validation accuracy of the weights kept (vision), else None.
    """

    learning_rate: float
    history: pd.DataFrame
    validation_loss: float
    validation_accuracy: float | None = None


def kept_validation_loss(history: pd.DataFrame, *, early_stopping: bool) -> float:
    """Validation loss of the weights training left: the best step's under early stopping,
    else the last scored step's (the loop always scores the last step)."""
    if early_stopping:
        return float(history.attrs["best_validation_loss"])
    return float(history["validation_loss"].dropna().iloc[-1])


def select_candidate(candidates: Sequence[Candidate], *, criterion: str) -> int:
    """Index of the winning candidate (see the module docstring for the rule).

    Raises
    ------
    ConfigError
        Unknown criterion, no candidate, or a vision candidate without an accuracy.
    """
    if criterion not in CRITERIA:
        raise ConfigError(f"unknown selection criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    if not candidates:
        raise ConfigError("the learning-rate grid is empty")
    if criterion == "validation_loss":
        keys = [(c.validation_loss,) for c in candidates]
    else:
        if any(c.validation_accuracy is None for c in candidates):
            raise ConfigError("selection by validation accuracy needs every candidate's accuracy")
        keys = [(-float(c.validation_accuracy), c.validation_loss) for c in candidates]
    keys = [tuple(math.inf if math.isnan(v) else v for v in key) for key in keys]
    return min(range(len(candidates)), key=lambda i: (keys[i], i))


def run_search(
    grid: Sequence[float], train_candidate: Callable[[float], tuple[Any, Candidate]], *, criterion: str
) -> tuple[Any, list[Candidate], int]:
    """Train every learning rate of ``grid`` in turn and keep the best model only.

    Parameters
    ----------
    grid : sequence of float
        Learning rates, in config order.
    train_candidate : callable
        ``learning_rate -> (model, Candidate)``: builds a fresh model, trains it (same
        data, budget and seed for every call) and scores it.
    criterion : {"validation_loss", "validation_accuracy"}

    Returns
    -------
    model, candidates, selected
        The winner's model, every candidate (grid order) and the winner's index. At most
        two models are alive at once (the best so far and the one training).
    """
    candidates: list[Candidate] = []
    best_model, best = None, -1
    for rate in grid:
        model, candidate = train_candidate(float(rate))
        candidates.append(candidate)
        winner = select_candidate(candidates, criterion=criterion)
        if winner == len(candidates) - 1:
            best_model, best = model, winner
        del model
        gc.collect()
        logger.info(
            "learning rate %g: validation loss %.4f%s (best so far: %g)",
            rate, candidate.validation_loss,
            "" if candidate.validation_accuracy is None else f", accuracy {candidate.validation_accuracy:.4f}",
            candidates[best].learning_rate,
        )
    return best_model, candidates, best


def search_record(candidates: Sequence[Candidate], selected: int, *, criterion: str, optimizer: str) -> dict[str, Any]:
    """The JSON record of a search, saved in the checkpoint's ``tuning.json`` under ``search``.

    Returns
    -------
    dict
        ``criterion``, ``optimizer``, ``selected_learning_rate`` and ``candidates``: per
        learning rate (grid order) ``learning_rate``, ``selected``, ``steps`` (trained),
        ``validation_loss`` (of the weights kept), ``best_validation_loss``, ``best_step``,
        ``validation_accuracy`` (vision; else null) and ``curve`` (``step`` and
        ``validation_loss`` of every scored step, step 0 = before training).
    """
    rows = []
    for index, candidate in enumerate(candidates):
        history = candidate.history
        scored = history.dropna(subset=["validation_loss"])
        rows.append({
            "learning_rate": candidate.learning_rate,
            "selected": index == selected,
            "steps": int(history["step"].max()),
            "validation_loss": candidate.validation_loss,
            "best_validation_loss": float(history.attrs["best_validation_loss"]),
            "best_step": int(history.attrs["best_step"]),
            "validation_accuracy": candidate.validation_accuracy,
            "curve": {
                "step": [int(step) for step in scored["step"]],
                "validation_loss": [float(loss) for loss in scored["validation_loss"]],
            },
        })
    return {
        "criterion": criterion,
        "optimizer": optimizer,
        "selected_learning_rate": candidates[selected].learning_rate,
        "candidates": rows,
    }


def checkpoint_settings(
    settings: dict[str, Any], candidates: Sequence[Candidate], selected: int, *, steps: int, criterion: str, optimizer: str
) -> dict[str, Any]:
    """What ``tuning.json`` records: the job's settings with the selected ``learning_rate``,
    the ``learning_rates`` searched, the ``optimizer``, the ``steps`` budget (derived from
    ``epochs`` where those were given) and the ``search`` record (:func:`search_record`)."""
    record = {key: value for key, value in settings.items() if key != "learning_rate"}
    record.update(
        learning_rate=candidates[selected].learning_rate,
        learning_rates=[c.learning_rate for c in candidates],
        optimizer=optimizer,
        steps=steps,
        search=search_record(candidates, selected, criterion=criterion, optimizer=optimizer),
    )
    return record
