"""The one training loop: base-model pre-training, prompt tuning and full fine-tuning.

Matched budget: both tuning methods run this loop with the same steps, batches (same
examples, same order, from the same seed) and optimizer; only what is trainable (see
:func:`brainalign.tuning.methods.prepare_for_tuning`) and the learning rate differ.

Optimizer: AdamW (default) or transformers' Adafactor with an explicit learning rate
(``scale_parameter=False, relative_step=False``, as Lester et al. 2021 prompt-tuned T5)
over the trainable parameters only; weight decay, when asked for, on matrices and
embeddings (parameters with ``ndim >= 2``, which includes the soft prompt) but not on
biases and layer-norm gains, as usual for GPT-2. Schedule: linear warm-up
over ``warmup_steps``, then a *constant* learning rate. Constant rather than decaying,
so that the rate a step gets does not depend on the total budget: a run stopped early
and a longer run agree on their common steps, and early stopping compares like with
like. Gradients are clipped to a global norm of 1.0.

What a batch's loss is comes from an *objective* (``(model, batch) -> (loss, weight)``):
:func:`causal_lm_objective` (the default: text pre-training and tuning, weighted by
target tokens) or :func:`classification_objective` (images, weighted by examples). The
loop itself does not know the modality.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from brainalign.errors import ConfigError, DataError
from brainalign.io import atomic_output
from brainalign.tuning.data import IGNORE_INDEX
from brainalign.tuning.grid import OPTIMIZERS

logger = logging.getLogger(__name__)

LOSS_COLUMNS: tuple[str, ...] = ("step", "train_loss", "validation_loss", "learning_rate")

#: Global gradient-norm limit.
MAX_GRAD_NORM = 1.0


def _positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _to_device(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    return {key: value.to(device) for key, value in batch.items()}


def _n_predicted(labels: Any) -> int:
    """Tokens a causal-LM loss averages over: labels after the first position, not ignored.

    (A PEFT prompt model also predicts position 0 from the last virtual token, but the
    data keep at least one prompt token there, whose label is ignored.)
    """
    return int((labels[:, 1:] != IGNORE_INDEX).sum())


#: ``objective(model, batch) -> (mean loss over the batch, weight)``; the weight counts
#: what the loss averages over (target tokens, examples), so validation losses can be
#: weighted exactly.
Objective = Callable[[Any, dict[str, Any]], tuple[Any, int]]


def causal_lm_objective(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Causal-LM loss of a batch of ``input_ids``, ``attention_mask``, ``labels``; weight = target tokens."""
    return model(**batch, use_cache=False).loss, _n_predicted(batch["labels"])


def classification_objective(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Cross-entropy of a batch of ``pixel_values`` (b, 3, H, W) and ``labels`` (b,); weight = b."""
    return model(**batch).loss, int(batch["labels"].shape[0])


def validation_loss(
    model: Any, batches: Sequence[dict[str, Any]], objective: Objective = causal_lm_objective
) -> float:
    """Mean loss per target token (or example) over all ``batches`` (eval mode, no gradients).

    Weighted by the objective's weight, so the value does not depend on how the examples
    were batched.
    """
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for batch in batches:
                loss, n = objective(model, _to_device(batch, device))
                if n == 0:
                    continue
                total += float(loss) * n
                count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise DataError("the validation batches have no target tokens to score")
    return total / count


@contextlib.contextmanager
def _reproducible(seed: int, device: Any) -> Iterator[None]:
    """Seed torch and use deterministic kernels; restore the caller's state afterwards.

    On CUDA, deterministic matmuls need ``CUBLAS_WORKSPACE_CONFIG`` set before CUDA
    starts; without it they raise, so there the flag is only set when it is configured
    (GPU runs are otherwise reproducible up to float reordering).
    """
    import torch

    devices = [device.index or 0] if device.type == "cuda" else []
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if device.type == "cpu" or os.environ.get("CUBLAS_WORKSPACE_CONFIG"):
            torch.use_deterministic_algorithms(True)
        else:
            logger.info("CUBLAS_WORKSPACE_CONFIG is not set: GPU training is not bit-for-bit reproducible")
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def _optimizer(model: Any, learning_rate: float, weight_decay: float, name: str = "adamw") -> Any:
    import torch

    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise ConfigError("the model has no trainable parameters; call prepare_for_tuning first")
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    groups = [group for group in groups if group["params"]]
    if name == "adafactor":
        from transformers.optimization import Adafactor

        # The loop sets each group's lr every step (warm-up), which Adafactor uses as is
        # when it neither scales by the parameter's norm nor computes a relative step.
        return Adafactor(groups, lr=learning_rate, scale_parameter=False, relative_step=False, warmup_init=False)
    return torch.optim.AdamW(groups, lr=learning_rate)


def _rate_factor(step_index: int, warmup_steps: int) -> float:
    """Learning-rate multiplier of the ``step_index``-th (0-based) update."""
    return min(1.0, (step_index + 1) / warmup_steps) if warmup_steps > 0 else 1.0


def train(
    model: Any,
    train_batches: Iterable[dict[str, Any]],
    validation_batches: Sequence[dict[str, Any]],
    *,
    steps: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    seed: int,
    eval_every: int,
    log_path: str | os.PathLike | None,
    early_stopping_patience: int | None = None,
    progress: bool = True,
    objective: Objective = causal_lm_objective,
    optimizer: str = "adamw",
) -> Any:
    """Train the trainable parameters of ``model`` for ``steps`` optimizer steps.

    Parameters
    ----------
    model : torch.nn.Module
        A model ``objective`` can score: a causal LM (or PEFT model) whose forward takes
        ``input_ids``, ``attention_mask`` and ``labels``, or an image classifier taking
        ``pixel_values`` and ``labels``; what is trainable is set beforehand
        (:func:`~brainalign.tuning.methods.prepare_for_tuning`,
        :func:`~brainalign.tuning.vision.prepare_vit_for_tuning`). Batches are moved to
        the device of its parameters, so a model on cuda trains on the GPU.
    train_batches : iterable of dict
        Batches of tensors, e.g. :class:`~brainalign.tuning.data.TrainingBatches`
        (``input_ids``, ``attention_mask``, ``labels``, each (batch, width)) or
        :class:`~brainalign.tuning.vision.ImageBatches` (endless). A finite iterable is
        iterated again when exhausted.
    validation_batches : sequence of dict
        Same form; scored before training (step 0), every ``eval_every`` steps and at
        the last step.
    steps : int
        Optimizer steps (one batch each).
    learning_rate : float
        Peak rate, reached after warm-up and then kept.
    weight_decay : float
        AdamW decoupled weight decay on ``ndim >= 2`` parameters.
    warmup_steps : int
        Linear warm-up from ``learning_rate / warmup_steps``.
    seed : int
        Seeds torch (dropout) for the run, inside a forked RNG state.
    eval_every : int
        Steps between validation scores.
    log_path : path-like or None
        Loss CSV (columns :data:`LOSS_COLUMNS`), written atomically at the end.
    early_stopping_patience : int, optional
        Stop after this many validation scores without improvement and restore the
        trainable parameters of the best-scoring step. None: train all steps, keep the
        final state.
    progress : bool
        Show a tqdm bar.
    objective : callable
        ``(model, batch) -> (loss, weight)``: :func:`causal_lm_objective` (default) or
        :func:`classification_objective`.
    optimizer : {"adamw", "adafactor"}
        :data:`brainalign.tuning.grid.OPTIMIZERS`.

    Returns
    -------
    pandas.DataFrame
        One row per step (``step`` 1..n: ``train_loss`` of its batch, the
        ``learning_rate`` it used, ``validation_loss`` where scored, else NaN), after a
        step-0 row holding the validation loss before training. ``attrs`` holds
        ``best_step``, ``best_validation_loss``, ``stopped_early`` and
        ``seconds_per_step``. The model is left in eval mode.

    Raises
    ------
    ConfigError
        Bad budget settings, no trainable parameters, or a non-finite loss (diverged).
    DataError
        No validation batches, or no training batch.
    """
    import pandas as pd
    import torch
    from tqdm.auto import tqdm

    _positive_int("steps", steps)
    _positive_int("eval_every", eval_every)
    _positive_int("early_stopping_patience", early_stopping_patience, allow_none=True)
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ConfigError(f"warmup_steps must be a non-negative integer, got {warmup_steps!r}")
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0 and math.isfinite(learning_rate)):
        raise ConfigError(f"learning_rate must be a positive number, got {learning_rate!r}")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ConfigError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    validation_batches = list(validation_batches)
    if not validation_batches:
        raise DataError("no validation batches; the validation split is empty")

    device = next(model.parameters()).device
    rows: list[dict[str, float]] = []
    best = {"loss": math.inf, "step": 0, "state": None}
    stale = 0
    stopped_early = False
    started = time.perf_counter()

    def score(step: int) -> float:
        nonlocal stale
        loss = validation_loss(model, validation_batches, objective)
        if not math.isfinite(loss):
            raise ConfigError(f"validation loss is {loss} at step {step}: training diverged; lower the learning rate")
        if loss < best["loss"]:
            best.update(loss=loss, step=step)
            stale = 0
            if early_stopping_patience is not None:
                best["state"] = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        else:
            stale += 1
        return loss

    with _reproducible(seed, device):
        updater = _optimizer(model, float(learning_rate), float(weight_decay), optimizer)
        trainable = [p for group in updater.param_groups for p in group["params"]]
        rows.append({"step": 0, "train_loss": math.nan, "validation_loss": score(0), "learning_rate": math.nan})
        model.train()
        batches = iter(train_batches)
        bar = tqdm(total=steps, desc="train", unit="step", disable=not progress)
        try:
            for step in range(1, steps + 1):
                try:
                    batch = next(batches)
                except StopIteration:
                    batches = iter(train_batches)  # a finite collection: next epoch, same order
                    batch = next(batches, None)
                    if batch is None:
                        raise DataError("train_batches yielded no batch") from None
                rate = float(learning_rate) * _rate_factor(step - 1, warmup_steps)
                for group in updater.param_groups:
                    group["lr"] = rate
                updater.zero_grad(set_to_none=True)
                loss, _ = objective(model, _to_device(batch, device))
                if not torch.isfinite(loss):
                    raise ConfigError(
                        f"training loss is {float(loss)} at step {step}: training diverged; lower the learning rate"
                    )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
                updater.step()
                row = {
                    "step": step, "train_loss": float(loss.detach()), "validation_loss": math.nan, "learning_rate": rate
                }
                if step % eval_every == 0 or step == steps:
                    row["validation_loss"] = score(step)
                    model.train()
                rows.append(row)
                bar.update(1)
                bar.set_postfix(loss=f"{row['train_loss']:.3f}", best=f"{best['loss']:.3f}")
                if early_stopping_patience is not None and stale >= early_stopping_patience:
                    stopped_early = True
                    logger.info("early stopping at step %d: no improvement for %d validation scores", step, stale)
                    break
        finally:
            bar.close()
            model.eval()
        if early_stopping_patience is not None and best["state"] is not None:
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if name in best["state"]:
                        p.copy_(best["state"][name])
            logger.info("restored the parameters of step %d (validation loss %.4f)", best["step"], best["loss"])

    n_steps = len(rows) - 1
    seconds_per_step = (time.perf_counter() - started) / max(n_steps, 1)
    frame = pd.DataFrame(rows, columns=list(LOSS_COLUMNS))
    frame["step"] = frame["step"].astype("int64")
    frame.attrs.update(
        best_step=int(best["step"]),
        best_validation_loss=float(best["loss"]),
        stopped_early=stopped_early,
        seconds_per_step=seconds_per_step,
    )
    if log_path is not None:
        with atomic_output(Path(log_path)) as tmp:
            frame.to_csv(tmp, index=False)
    logger.info(
        "trained %d steps (%.3f s/step incl. validation); validation loss %.4f -> best %.4f at step %d",
        n_steps, seconds_per_step, rows[0]["validation_loss"], best["loss"], best["step"],
    )
    return frame
