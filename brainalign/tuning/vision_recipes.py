"""End-to-end vision recipes the workflow runs: pre-train a tiny ViT, tune a ViT on a task.

Both use the one training loop (:func:`brainalign.tuning.loop.train`, classification
objective). The three tuning methods share the data, batches (same images, same order),
steps, optimizer and seed; only what is trainable and the learning rate differ, which each
method searches over a grid of the same size (:mod:`brainalign.tuning.search`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from brainalign.errors import DataError
from brainalign.io import atomic_output
from brainalign.models.synthetic_shapes import SHAPES, synthetic_shapes
from brainalign.models.vision import build_tiny_vit, image_size_of, load_vit
from brainalign.tuning.grid import budget_steps, learning_rate_grid, optimizer_name
from brainalign.tuning.loop import classification_objective, train
from brainalign.tuning.recipes import PRETRAINING_LOSS_FILE, publish_pretrained
from brainalign.tuning.search import Candidate, checkpoint_settings, kept_validation_loss, run_search
from brainalign.tuning.vision import (
    ImageBatches,
    image_evaluation_batches,
    prepare_vit_for_tuning,
    save_vision_checkpoint,
)

logger = logging.getLogger(__name__)

#: Seed offset of the pre-training validation images (a different draw from the training ones).
_VALIDATION_SEED_OFFSET = 10_000


class LabelledImages(Protocol):
    """A split of an image classification task (e.g. ``brainalign.tasks.images.ImageSplit``).

    ``images`` uint8 (n, H, W, 3), ``labels`` int (n,), ``class_names`` (C,).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: Any


def pretrain_vit(
    out_dir: str | os.PathLike,
    *,
    architecture: Mapping[str, int],
    n_images: int,
    steps: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    warmup_steps: int = 0,
    validation_every: int = 50,
    progress: bool = True,
) -> pd.DataFrame:
    """Build a tiny ViT and pre-train it to classify :mod:`~brainalign.models.synthetic_shapes`.

    ``n_images`` training images and ``n_images // 10`` validation images (another draw)
    are generated; the model folder (weights, ``pretraining_loss.csv``,
    ``pretraining.json``) appears at ``out_dir`` only when complete.

    Parameters
    ----------
    out_dir : path-like
        The model folder, loadable with :func:`brainalign.models.vision.load_vit`.
    architecture : mapping
        Keyword arguments of :func:`brainalign.models.vision.build_tiny_vit` (without
        ``num_labels``, which is the number of shapes).
    n_images, steps, batch_size, learning_rate, seed, warmup_steps, validation_every
        Data size and training budget; ``steps = 0`` keeps the random initialisation.
        A ViT trained from scratch needs the warm-up (without it the loss stalls at chance
        for hundreds of steps).

    Returns
    -------
    pandas.DataFrame
        The loss curve (see :func:`brainalign.tuning.loop.train`); empty when ``steps == 0``.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    architecture = dict(architecture)
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.", dir=out_dir.parent) as work:
        folder = build_tiny_vit(Path(work) / "model", seed=seed, num_labels=len(SHAPES), **architecture)
        history = pd.DataFrame()
        if steps > 0:
            model = load_vit(folder)
            size = image_size_of(model)
            for p in model.parameters():
                p.requires_grad_(True)
            train_images, train_labels = synthetic_shapes(n_images, image_size=size, seed=seed)
            validation_images, validation_labels = synthetic_shapes(
                max(n_images // 10, len(SHAPES)), image_size=size, seed=seed + _VALIDATION_SEED_OFFSET
            )
            history = train(
                model,
                ImageBatches(train_images, train_labels, batch_size=batch_size, image_size=size, seed=seed),
                image_evaluation_batches(validation_images, validation_labels, batch_size=256, image_size=size),
                steps=steps,
                learning_rate=learning_rate,
                warmup_steps=warmup_steps,
                seed=seed,
                eval_every=validation_every,
                log_path=folder / PRETRAINING_LOSS_FILE,
                progress=progress,
                objective=classification_objective,
            )
            model.save_pretrained(folder)
            validation = history["validation_loss"].dropna()
            logger.info("pre-trained %d steps on synthetic shapes: validation loss %.3f -> %.3f",
                        steps, validation.iloc[0], validation.iloc[-1])
        settings = {
            "data": f"synthetic_shapes ({len(SHAPES)} classes)",
            "architecture": architecture,
            "n_images": n_images,
            "steps": steps,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "warmup_steps": warmup_steps,
            "seed": seed,
        }
        publish_pretrained(folder, out_dir, settings)
    return history


def tune_vit_on_task(
    base_source: str | os.PathLike,
    train_split: LabelledImages,
    validation_split: LabelledImages,
    *,
    method: str,
    checkpoint_dir: str | os.PathLike,
    loss_path: str | os.PathLike,
    settings: Mapping[str, Any],
    progress: bool = True,
) -> pd.DataFrame:
    """Train a linear probe (``base``), visual prompts (``prompt``), LoRA adapters (``lora``) or
    everything (``finetune``), each with a new head, searching the learning rate.

    Every learning rate of the grid trains a fresh copy of the base model with the same
    images, batches, budget and seed; the highest validation accuracy wins, ties to the
    lower validation loss (:mod:`brainalign.tuning.search`). Only the winner's weights are
    saved; every candidate's validation curve goes into ``tuning.json`` (``search``).

    Parameters
    ----------
    base_source : str or path-like
        The base ViT (folder or hub name).
    train_split, validation_split : LabelledImages
        The task's splits; the number of classes is ``len(train_split.class_names)``.
    method : {"base", "prompt", "finetune", "lora"}
    checkpoint_dir, loss_path : path-like
        Where the checkpoint and the winner's loss CSV are written (atomically).
    settings : mapping
        ``steps`` or ``epochs`` (:func:`~brainalign.tuning.grid.budget_steps`: one epoch is
        ``len(train_split.labels) // batch_size`` steps), ``batch_size``, ``eval_every``,
        ``warmup_steps``, ``early_stopping_patience``, ``seed``, ``learning_rates`` (or one
        ``learning_rate``), ``optimizer`` (default adamw); for ``prompt`` also
        ``num_prompt_tokens`` and ``deep``; for ``lora`` ``rank``, ``alpha``, ``dropout``
        and ``target_modules``. Saved with the checkpoint.

    Returns
    -------
    pandas.DataFrame
        The winner's loss curve.
    """
    from brainalign.image_evaluation import classify

    num_labels = len(train_split.class_names)
    if len(validation_split.class_names) != num_labels:
        raise DataError(
            f"the train split has {num_labels} classes but the validation split has "
            f"{len(validation_split.class_names)}; prepare the task again"
        )
    grid = learning_rate_grid(settings, key=f"tuning.vision.{method}")
    optimizer = optimizer_name(settings, key=f"tuning.vision.{method}")
    steps = budget_steps(settings, len(train_split.labels))
    evaluation_size = max(settings["batch_size"], 64)

    def train_candidate(learning_rate: float) -> tuple[Any, Candidate]:
        model = prepare_vit_for_tuning(
            load_vit(base_source),
            method,
            num_labels=num_labels,
            num_prompt_tokens=settings.get("num_prompt_tokens", 10),
            deep=settings.get("deep", False),
            seed=settings["seed"],
            lora=settings if method == "lora" else None,
        )
        size = image_size_of(model)
        history = train(
            model,
            ImageBatches(
                train_split.images, train_split.labels,
                batch_size=settings["batch_size"], image_size=size, seed=settings["seed"],
            ),
            image_evaluation_batches(
                validation_split.images, validation_split.labels, batch_size=evaluation_size, image_size=size
            ),
            steps=steps,
            learning_rate=learning_rate,
            warmup_steps=settings.get("warmup_steps", 0),
            seed=settings["seed"],
            eval_every=settings["eval_every"],
            early_stopping_patience=settings.get("early_stopping_patience"),
            log_path=None,
            progress=progress,
            objective=classification_objective,
            optimizer=optimizer,
        )
        accuracy = float(
            classify(model, validation_split.images, validation_split.labels, batch_size=evaluation_size)["correct"].mean()
        )
        early = settings.get("early_stopping_patience") is not None
        return model, Candidate(learning_rate, history, kept_validation_loss(history, early_stopping=early), accuracy)

    model, candidates, selected = run_search(grid, train_candidate, criterion="validation_accuracy")
    record = checkpoint_settings(
        dict(settings), candidates, selected, steps=steps, criterion="validation_accuracy", optimizer=optimizer
    )
    history = candidates[selected].history
    with atomic_output(loss_path) as tmp_loss:
        history.to_csv(tmp_loss, index=False)
        save_vision_checkpoint(model, checkpoint_dir, method, settings=record)
    return history
