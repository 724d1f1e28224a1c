"""The tuning config of a fair contest: learning-rate grids of equal size, optimizers, budgets in epochs.

Every tuned method searches a grid of learning rates (``tuning.<method>.learning_rates``,
or a single ``learning_rate``, a grid of one) under the same budget and seed; for the
contest to be fair every method's grid has the same size (:func:`check_tuning_config`,
run when the workflow plans). A budget is either ``steps`` or ``epochs``; epochs become
steps once the training-set size is known (:func:`steps_for_epochs`).

Pure functions of plain mappings (the parsed config), cheap to import: the workflow calls
them while it plans.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from brainalign.errors import ConfigError

#: Optimizers a method can train with: torch's AdamW, or transformers' Adafactor with an
#: explicit learning rate (``scale_parameter=False, relative_step=False``), as Lester et al.
#: (2021) prompt-tuned T5.
OPTIMIZERS: tuple[str, ...] = ("adamw", "adafactor")

#: The keys that give a method's learning rate(s).
RATE_KEYS: tuple[str, ...] = ("learning_rate", "learning_rates")

#: Text tuning methods (``tuning.<method>``); vision also trains ``base`` (a linear head).
TEXT_METHODS: tuple[str, ...] = ("prompt", "finetune", "lora")


def learning_rate_grid(settings: Mapping[str, Any], *, key: str = "settings") -> list[float]:
    """The learning rates a method searches, in the order given.

    Parameters
    ----------
    settings : mapping
        A method's settings: ``learning_rates`` (a list, the grid) or ``learning_rate``
        (a grid of one). When both are present ``learning_rates`` is the grid (the schema
        fills in a default ``learning_rate``).
    key : str
        The config key of ``settings``, for error messages (e.g. ``tuning.prompt``).

    Raises
    ------
    ConfigError
        No learning rate, an empty grid, a value that is not a positive finite number, or
        a value listed twice.
    """
    if settings.get("learning_rates") is not None:
        grid, name = settings["learning_rates"], f"{key}.learning_rates"
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or not grid:
            raise ConfigError(f"{name} must be a non-empty list of learning rates, got {grid!r}")
    elif settings.get("learning_rate") is not None:
        grid, name = [settings["learning_rate"]], f"{key}.learning_rate"
    else:
        raise ConfigError(f"{key} has no learning rate: set learning_rate (one value) or learning_rates (a grid)")
    for value in grid:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"{name}: learning rates must be positive numbers, got {value!r}")
    if len(set(grid)) != len(grid):
        raise ConfigError(f"{name} lists a learning rate twice: {list(grid)}")
    return [float(value) for value in grid]


def optimizer_name(settings: Mapping[str, Any], *, key: str = "settings") -> str:
    """A method's optimizer (``optimizer``, default ``adamw``), checked against :data:`OPTIMIZERS`."""
    name = settings.get("optimizer", "adamw")
    if name not in OPTIMIZERS:
        raise ConfigError(f"{key}.optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    return name


def check_equal_grids(grids: Mapping[str, Sequence[float]]) -> None:
    """Stop unless every grid has the same size.

    Parameters
    ----------
    grids : mapping
        Config key of each grid (e.g. ``tuning.prompt.learning_rates``) -> its values.

    Raises
    ------
    ConfigError
        Naming every key with its grid size.
    """
    sizes = {key: len(values) for key, values in grids.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{key} ({size} value{'s' if size != 1 else ''})" for key, size in sizes.items())
        raise ConfigError(
            f"every tuning method must search a learning-rate grid of the same size (a fair contest), but {listed}; "
            "give each method as many learning rates"
        )


def merge_task_tuning(shared: Mapping[str, Any], override: Mapping[str, Any] | None, methods: Sequence[str]) -> dict:
    """The tuning section with one task's overrides (``tasks.<task>.tuning``) applied.

    Shared keys a task overrides are replaced; a method's settings are merged key by key,
    except that a task giving ``learning_rate`` or ``learning_rates`` replaces the shared
    grid whichever key the shared section used; likewise ``steps`` or ``epochs`` replace the
    shared budget.
    """
    override = dict(override or {})
    merged = {**shared, **{key: value for key, value in override.items() if key not in (*methods, *TEXT_METHODS)}}
    if "steps" in override and "epochs" not in override:
        merged["epochs"] = None
    for method in methods:
        own = dict(override.get(method) or {})
        base = dict(shared.get(method) or {})
        if any(key in own for key in RATE_KEYS):
            base = {key: value for key, value in base.items() if key not in RATE_KEYS}
        merged[method] = {**base, **own}
    return merged


def _grid_key(method_key: str, settings: Mapping[str, Any]) -> str:
    return f"{method_key}.{'learning_rates' if settings.get('learning_rates') is not None else 'learning_rate'}"


def check_tuning_config(config: Mapping[str, Any]) -> None:
    """The plan-time checks of a (schema-validated) config's tuning sections.

    For language models, every text task's tuned methods (``tuning.methods``, after the
    task's overrides); for vision models, ``tuning.vision`` ``base`` and the tuned methods:
    each grid is valid, each optimizer known, and all grids of one contest have the same
    size.

    Raises
    ------
    ConfigError
        Naming the keys at fault.
    """
    tuning = config["tuning"]
    methods = list(tuning["methods"])
    models = config.get("models", {}).values()
    tasks = config.get("tasks", {})
    if any(model.get("modality", "language") == "language" for model in models):
        text_tasks = {name: task for name, task in tasks.items() if task.get("kind") != "image_classification"}
        for name, task in text_tasks.items():
            override = task.get("tuning") or {}
            merged = merge_task_tuning(tuning, override, methods)
            grids = {}
            for method in methods:
                own_grid = any(key in (override.get(method) or {}) for key in RATE_KEYS)
                source = f"tasks.{name}.tuning.{method}" if own_grid else f"tuning.{method}"
                grids[_grid_key(source, merged[method])] = learning_rate_grid(merged[method], key=source)
                optimizer_name(merged[method], key=f"tuning.{method}")
            check_equal_grids(grids)
    if any(model.get("modality") == "vision" for model in models):
        vision = tuning["vision"]
        grids = {}
        for method in ["base", *methods]:
            key = f"tuning.vision.{method}"
            grids[_grid_key(key, vision[method])] = learning_rate_grid(vision[method], key=key)
            optimizer_name(vision[method], key=key)
        check_equal_grids(grids)


def steps_for_epochs(epochs: float, n_train: int, batch_size: int) -> int:
    """Optimizer steps of ``epochs`` passes over ``n_train`` examples in batches of ``batch_size``.

    An epoch is ``n_train // batch_size`` batches, because the batch streams drop each
    epoch's incomplete last batch (:func:`brainalign.tuning.data.shuffled_index_batches`),
    or 1 batch when ``n_train < batch_size``. Fractional epochs round *up* to whole steps:
    ``ceil(epochs * batches_per_epoch)``, at least 1.

    Raises
    ------
    ConfigError
        ``epochs`` not a positive number, ``n_train`` or ``batch_size`` not positive.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or not (epochs > 0 and math.isfinite(epochs)):
        raise ConfigError(f"epochs must be a positive number, got {epochs!r}")
    if n_train < 1 or batch_size < 1:
        raise ConfigError(f"need at least one training example and batch_size >= 1, got {n_train} and {batch_size}")
    per_epoch = max(1, n_train // batch_size)
    return max(1, math.ceil(epochs * per_epoch - 1e-9))


def budget_steps(settings: Mapping[str, Any], n_train: int) -> int:
    """The steps of a tuning job: ``steps``, or ``epochs`` converted by :func:`steps_for_epochs`.

    Raises
    ------
    ConfigError
        Both ``steps`` and ``epochs`` given (the workflow passes one), or neither.
    """
    epochs = settings.get("epochs")
    if epochs is not None:
        if settings.get("steps") is not None:
            raise ConfigError("give either steps or epochs as the tuning budget, not both")
        return steps_for_epochs(epochs, n_train, settings["batch_size"])
    if settings.get("steps") is None:
        raise ConfigError("the tuning settings give neither steps nor epochs")
    return int(settings["steps"])
