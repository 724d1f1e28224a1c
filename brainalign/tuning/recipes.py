"""End-to-end recipes the workflow runs: pre-train a small base model, tune it on a task.

Both use the one training loop (:func:`brainalign.tuning.loop.train`) with the same data
pipeline, so prompt tuning and fine-tuning differ only in what is trainable and in the
learning rate, which each method searches over a grid of the same size
(:mod:`brainalign.tuning.search`); the steps, batch size, data order and seed are the same.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from brainalign.errors import DataError
from brainalign.io import atomic_output
from brainalign.models.language import build_tiny_gpt2, load_causal_lm, pad_token_id
from brainalign.tuning.data import (
    TrainingBatches,
    evaluation_batches,
    language_model_blocks,
    max_training_length,
    tokenize_examples,
)
from brainalign.tuning.grid import budget_steps, learning_rate_grid, optimizer_name
from brainalign.tuning.loop import train
from brainalign.tuning.methods import prepare_for_tuning, save_checkpoint
from brainalign.tuning.search import Candidate, checkpoint_settings, kept_validation_loss, run_search

logger = logging.getLogger(__name__)

PRETRAINING_LOSS_FILE = "pretraining_loss.csv"
PRETRAINING_SETTINGS_FILE = "pretraining.json"


def read_corpus(path: str | os.PathLike) -> list[str]:
    """Paragraphs of a plain-text corpus, one per non-empty line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the pre-training corpus {path}: {error}") from error
    paragraphs = [line.strip() for line in lines if line.strip()]
    if len(paragraphs) < 2:
        raise DataError(f"pre-training corpus {path} needs at least 2 non-empty lines, has {len(paragraphs)}")
    return paragraphs


def pretrain_base_model(
    out_dir: str | os.PathLike,
    *,
    corpus_path: str | os.PathLike,
    architecture: Mapping[str, int],
    steps: int,
    batch_size: int,
    learning_rate: float,
    block_size: int,
    seed: int,
    validation_every: int = 20,
    progress: bool = True,
) -> pd.DataFrame:
    """Build a small GPT-2 and pre-train it as a causal LM on a plain-text corpus.

    Every 20th paragraph is held out for the validation loss. The model folder (weights,
    tokenizer, the loss curve ``pretraining_loss.csv`` and ``pretraining.json``) appears at
    ``out_dir`` only when complete.

    Parameters
    ----------
    out_dir : path-like
        The model folder, loadable with :func:`brainalign.models.language.load_causal_lm`.
    corpus_path : path-like
        One paragraph per line.
    architecture : mapping
        Keyword arguments of :func:`brainalign.models.language.build_tiny_gpt2`.
    steps, batch_size, learning_rate, block_size, seed, validation_every
        Training budget; ``steps = 0`` keeps the random initialisation.

    Returns
    -------
    pandas.DataFrame
        The loss curve (see :func:`brainalign.tuning.loop.train`); empty when ``steps == 0``.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    paragraphs = read_corpus(corpus_path)
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.", dir=out_dir.parent) as work:
        folder = build_tiny_gpt2(Path(work) / "model", seed=seed, **architecture)
        history = pd.DataFrame()
        if steps > 0:
            model, tokenizer = load_causal_lm(folder)
            prepare_for_tuning(model, tokenizer, "finetune")
            block = min(block_size, max_training_length(model))
            train_blocks = language_model_blocks(
                [p for i, p in enumerate(paragraphs) if i % 20 != 19], tokenizer, block_size=block
            )
            validation_blocks = language_model_blocks(paragraphs[19::20], tokenizer, block_size=block)
            pad = pad_token_id(tokenizer)
            history = train(
                model,
                TrainingBatches(train_blocks, batch_size=batch_size, pad_id=pad, seed=seed),
                evaluation_batches(validation_blocks, batch_size=batch_size, pad_id=pad),
                steps=steps,
                learning_rate=learning_rate,
                seed=seed,
                eval_every=validation_every,
                log_path=folder / PRETRAINING_LOSS_FILE,
                progress=progress,
            )
            model.save_pretrained(folder)
            logger.info(
                "pre-trained %d steps on %d blocks of %d tokens: validation loss %.3f -> %.3f",
                steps, len(train_blocks), block,
                history["validation_loss"].dropna().iloc[0], history["validation_loss"].dropna().iloc[-1],
            )
        settings = {
            "corpus": str(corpus_path),
            "architecture": dict(architecture),
            "steps": steps,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "block_size": block_size,
            "seed": seed,
        }
        publish_pretrained(folder, out_dir, settings)
    return history


def publish_pretrained(folder: Path, out_dir: Path, settings: Mapping[str, object]) -> None:
    """Record the pre-training settings in ``folder`` and move it to ``out_dir`` in one rename.

    ``folder`` must sit on the same file system as ``out_dir`` (a temporary sibling), so a
    killed job never leaves a half-written model that a rerun would trust.
    """
    (folder / PRETRAINING_SETTINGS_FILE).write_text(json.dumps(dict(settings), indent=1, sort_keys=True) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(folder, out_dir)


def tune_on_task(
    base_source: str | os.PathLike,
    train_records: Sequence[Mapping[str, str]],
    validation_records: Sequence[Mapping[str, str]],
    *,
    method: str,
    checkpoint_dir: str | os.PathLike,
    loss_path: str | os.PathLike,
    settings: Mapping[str, Any],
    progress: bool = True,
) -> pd.DataFrame:
    """Prompt-tune, fine-tune or LoRA-tune a causal LM on one task, searching the learning
    rate, and save the winner's checkpoint.

    Every learning rate of the grid trains a fresh copy of the base model with the same
    data, batches, budget and seed; the lowest validation loss wins
    (:mod:`brainalign.tuning.search`). Only the winner's weights are saved; every
    candidate's validation curve goes into ``tuning.json`` (``search``).

    Parameters
    ----------
    base_source : path-like or str
        The base model (a folder or hub name).
    train_records, validation_records : sequence of mapping
        ``{"id", "prompt", "target"}`` records (see :mod:`brainalign.tasks.text`).
    method : {"prompt", "finetune", "lora"}
    checkpoint_dir : path-like
        Where the checkpoint is saved (atomically).
    loss_path : path-like
        The winner's training/validation loss CSV, written next to the checkpoint.
    settings : mapping
        ``steps`` or ``epochs`` (:func:`~brainalign.tuning.grid.budget_steps`),
        ``batch_size``, ``eval_every``, ``warmup_steps``, ``early_stopping_patience``,
        ``seed``, ``learning_rates`` (or one ``learning_rate``), ``optimizer`` (default
        adamw); for ``prompt`` also ``num_virtual_tokens`` and ``init_text``; for ``lora``
        ``rank``, ``alpha``, ``dropout`` and ``target_modules``. Saved with the checkpoint
        (:func:`~brainalign.tuning.search.checkpoint_settings`).

    Returns
    -------
    pandas.DataFrame
        The winner's loss curve.
    """
    grid = learning_rate_grid(settings, key=f"tuning.{method}")
    optimizer = optimizer_name(settings, key=f"tuning.{method}")
    data: dict[str, Any] = {}

    def train_candidate(learning_rate: float) -> tuple[Any, Candidate]:
        model, tokenizer = load_causal_lm(base_source)
        model = prepare_for_tuning(
            model, tokenizer, method, num_virtual_tokens=settings.get("num_virtual_tokens", 20),
            init_text=settings.get("init_text"), lora=settings if method == "lora" else None,
        )
        if not data:  # the same examples and budget for every candidate
            n_virtual = settings.get("num_virtual_tokens", 0) if method == "prompt" else 0
            max_length = max_training_length(model, n_virtual)
            data["train"] = tokenize_examples(train_records, tokenizer, max_length=max_length, split="train")
            data["validation"] = tokenize_examples(
                validation_records, tokenizer, max_length=max_length, split="validation"
            )
            data["steps"] = budget_steps(settings, len(data["train"]))
            data["tokenizer"] = tokenizer
        pad = pad_token_id(tokenizer)
        history = train(
            model,
            TrainingBatches(data["train"], batch_size=settings["batch_size"], pad_id=pad, seed=settings["seed"]),
            evaluation_batches(data["validation"], batch_size=settings["batch_size"], pad_id=pad),
            steps=data["steps"],
            learning_rate=learning_rate,
            warmup_steps=settings.get("warmup_steps", 0),
            seed=settings["seed"],
            eval_every=settings["eval_every"],
            early_stopping_patience=settings.get("early_stopping_patience"),
            log_path=None,
            progress=progress,
            optimizer=optimizer,
        )
        early = settings.get("early_stopping_patience") is not None
        return model, Candidate(learning_rate, history, kept_validation_loss(history, early_stopping=early))

    model, candidates, selected = run_search(grid, train_candidate, criterion="validation_loss")
    record = checkpoint_settings(
        dict(settings), candidates, selected, steps=data["steps"], criterion="validation_loss", optimizer=optimizer
    )
    history = candidates[selected].history
    with atomic_output(loss_path) as tmp_loss:
        history.to_csv(tmp_loss, index=False)
        save_checkpoint(model, checkpoint_dir, method, settings=record, tokenizer=data["tokenizer"])
    return history
