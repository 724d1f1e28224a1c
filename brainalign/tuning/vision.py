"""Tuning a ViT on an image classification task: linear probe, visual prompts, LoRA or everything.

Four methods, all trained by the one training loop (:func:`brainalign.tuning.loop.train`
with :func:`~brainalign.tuning.loop.classification_objective`) on the same batches:

- ``base``: frozen backbone + a new linear head (the paper's "base model" accuracy);
- ``prompt``: visual prompt tuning (Jia et al. 2022; :mod:`brainalign.models.visual_prompt`)
  + a new linear head, backbone frozen;
- ``finetune``: a new head and every backbone weight trainable;
- ``lora``: a new head + LoRA updates of the attention's query and value projections (``q_proj``, ``v_proj``)
  (:mod:`brainalign.tuning.lora`), backbone frozen.

Features of the untuned backbone (``base`` without a checkpoint) and of its untrained twin
(``random``, :mod:`brainalign.models.untrained`) need no training.

Checkpoint layout (``results/checkpoints/{model}/{task}/{method}/``):

- ``base``: ``head.safetensors`` (``classifier.weight`` (C, D), ``classifier.bias`` (C,));
- ``prompt``: ``head.safetensors`` and ``visual_prompt.safetensors`` (``prompts``,
  (L or 1, P, D)); the backbone is the base model's and is not copied;
- ``finetune``: a ``save_pretrained`` folder (``config.json``, ``model.safetensors``);
- ``lora``: PEFT's adapter folder (``adapter_model.safetensors`` with the low-rank matrices
  and the head, ``adapter_config.json``);
- all: ``tuning.json`` (the settings, ``method``, ``num_labels`` and, for prompt,
  ``num_prompt_tokens`` and ``deep``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.errors import ConfigError, DataError
from brainalign.models.language import model_identity
from brainalign.models.untrained import RANDOM_METHOD, untrained_copy
from brainalign.models.vision import load_vit, preprocess_images, replace_head
from brainalign.models.visual_prompt import attach_visual_prompt, visual_prompt_of
from brainalign.tuning.data import check_batch_size, shuffled_index_batches
from brainalign.tuning.lora import ADAPTER_WEIGHTS, LORA_METHOD, attach_lora, is_lora_model, load_lora_merged
from brainalign.tuning.methods import (
    adapter_identity,
    checkpoint_folder,
    read_tuning_settings,
    trainable_parameter_names,
)

logger = logging.getLogger(__name__)

VISION_METHODS: tuple[str, ...] = ("base", "prompt", "finetune", LORA_METHOD)
#: Methods whose model :func:`load_vision_tuned` builds without a checkpoint (features only).
UNTRAINED_METHODS: tuple[str, ...] = ("base", RANDOM_METHOD)
HEAD_FILE = "head.safetensors"
PROMPT_FILE = "visual_prompt.safetensors"


def _check_method(method: str, allowed: tuple[str, ...] = VISION_METHODS) -> None:
    if method not in allowed:
        raise ConfigError(f"unknown vision tuning method {method!r}; choose one of {', '.join(allowed)}")


def prepare_vit_for_tuning(
    model: Any,
    method: str,
    *,
    num_labels: int,
    num_prompt_tokens: int = 10,
    deep: bool = False,
    seed: int = 0,
    lora: Mapping[str, Any] | None = None,
) -> Any:
    """Give ``model`` a new head (and prompts or adapters) and make exactly the parameters of
    ``method`` trainable.

    Parameters
    ----------
    model : transformers.ViTForImageClassification
        From :func:`~brainalign.models.vision.load_vit`; modified in place.
    method : {"base", "prompt", "finetune", "lora"}
    num_labels : int
        Classes of the task (size of the new head).
    num_prompt_tokens, deep : int, bool
        Visual prompt length and depth (``prompt`` only).
    seed : int
        Seed of the head and prompt initialisation.
    lora : mapping, optional
        ``rank``, ``alpha``, ``dropout``, ``target_modules`` of
        :func:`~brainalign.tuning.lora.attach_lora` (``lora`` only).

    Returns
    -------
    The same model (``lora``: a ``peft.PeftModel`` wrapping it), in training mode.

    Raises
    ------
    RuntimeError
        The trainable set is not what the method promises (head only; prompts + head;
        everything).
    """
    _check_method(method)
    replace_head(model, num_labels, seed=seed)
    if method == LORA_METHOD:
        settings = dict(lora or {})
        return attach_lora(
            model, rank=settings.get("rank", 8), alpha=settings.get("alpha", 16), dropout=settings.get("dropout", 0.0),
            target_modules=settings.get("target_modules"), modules_to_save=["classifier"],
        )
    if method == "prompt":
        attach_visual_prompt(model, num_prompt_tokens, deep=deep, seed=seed + 1)
    for name, p in model.named_parameters():
        if method == "finetune":
            p.requires_grad_(True)
        else:
            p.requires_grad_(name.startswith(("classifier.", "visual_prompt.")))
    trainable = trainable_parameter_names(model)
    backbone = [n for n in trainable if n.startswith("vit.")]
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    if method in ("base", "prompt") and backbone:
        raise RuntimeError(f"{method}: backbone parameters {backbone[:5]} are trainable; the backbone must be frozen")
    if method == "prompt" and not any(n.startswith("visual_prompt.") for n in trainable):
        raise RuntimeError("prompt: the visual prompt is not trainable")
    if method == "finetune" and frozen:
        raise RuntimeError(f"finetune: parameters {frozen[:5]} are not trainable")
    model.train()
    return model


class ImageBatches:
    """An endless, reproducible stream of shuffled, preprocessed image batches.

    The batches of :func:`brainalign.tuning.data.shuffled_index_batches` (as for text), so
    two methods trained with the same seed see the same images in the same order. Each
    epoch's incomplete last batch is dropped (unless it is the only one).

    Parameters
    ----------
    images : np.ndarray, uint8, shape (n, H, W, 3)
    labels : np.ndarray, int, shape (n,)
    batch_size : int
    image_size : int
        The model's input side; see :func:`~brainalign.models.vision.preprocess_images`.
    seed : int

    Yields
    ------
    dict
        ``pixel_values`` float32 (b, 3, S, S) and ``labels`` int64 (b,).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, batch_size: int, image_size: int, seed: int) -> None:
        check_batch_size(batch_size)
        self.images, self.labels = _checked(images, labels)
        self.batch_size, self.image_size, self.seed = batch_size, image_size, int(seed)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for index in shuffled_index_batches(len(self.labels), batch_size=self.batch_size, seed=self.seed):
            yield _batch(self.images, self.labels, np.asarray(index), self.image_size)


def image_evaluation_batches(
    images: np.ndarray, labels: np.ndarray, *, batch_size: int, image_size: int
) -> list[dict[str, Any]]:
    """Preprocessed batches of a validation split, in order (for the loop's validation loss)."""
    images, labels = _checked(images, labels)
    return [
        _batch(images, labels, np.arange(start, min(start + batch_size, len(labels))), image_size)
        for start in range(0, len(labels), batch_size)
    ]


def _checked(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(images) or len(labels) == 0:
        raise DataError(f"need as many labels as images (and at least one): images {images.shape}, labels {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise DataError("image labels must be non-negative integers")
    return images, labels.astype(np.int64)


def _batch(images: np.ndarray, labels: np.ndarray, index: np.ndarray, image_size: int) -> dict[str, Any]:
    import torch

    return {
        "pixel_values": preprocess_images(images[index], image_size),
        "labels": torch.from_numpy(labels[index].copy()),
    }


def save_vision_checkpoint(model: Any, out_dir: str | os.PathLike, method: str, *, settings: Mapping[str, Any]) -> Path:
    """Save what ``method`` trained, and its settings, atomically (see the module docstring).

    Parameters
    ----------
    model : transformers.ViTForImageClassification or peft.PeftModel
        Prepared by :func:`prepare_vit_for_tuning` (and trained).
    out_dir : path-like
    method : {"base", "prompt", "finetune", "lora"}
    settings : mapping
        JSON-serialisable settings, written to ``tuning.json`` with ``method``,
        ``num_labels`` and the prompt's shape.

    Returns
    -------
    Path
        ``out_dir``.
    """
    from safetensors.torch import save_file

    _check_method(method)
    out_dir = Path(out_dir)
    prompt = visual_prompt_of(model)
    if (method == "prompt") != (prompt is not None):
        raise ConfigError(f"method {method!r} got a model {'without' if prompt is None else 'with'} a visual prompt")
    if (method == LORA_METHOD) != is_lora_model(model):
        raise ConfigError(f"method {method!r} got a model {'with' if is_lora_model(model) else 'without'} LoRA adapters")
    record = {"method": method, **dict(settings), "num_labels": int(model.config.num_labels)}
    if prompt is not None:
        record.update(num_prompt_tokens=prompt.num_tokens, deep=prompt.deep)
    with checkpoint_folder(out_dir, record) as tmp_dir:
        if method in ("finetune", LORA_METHOD):
            model.save_pretrained(tmp_dir, safe_serialization=True)
        else:
            head = {f"classifier.{k}": v.detach().cpu().contiguous() for k, v in model.classifier.state_dict().items()}
            save_file(head, tmp_dir / HEAD_FILE)
            if prompt is not None:
                save_file({"prompts": prompt.prompts.detach().cpu().contiguous()}, tmp_dir / PROMPT_FILE)
    logger.info("saved %s checkpoint to %s", method, out_dir)
    return out_dir


def load_vision_tuned(
    base_source: str | os.PathLike,
    checkpoint_dir: str | os.PathLike | None,
    method: str,
    *,
    device: str | Any | None = None,
    seed: int = 0,
) -> Any:
    """Load the ViT of a method, ready for evaluation or features (eval mode, nothing trainable).

    Parameters
    ----------
    base_source : str or path-like
        The base model (hub id or folder).
    checkpoint_dir : path-like or None
        Written by :func:`save_vision_checkpoint`. None only for ``base`` (the untuned
        backbone, for features; its head is whatever the base model carries) and ``random``
        (the same architecture, untrained).
    method : {"base", "random", "prompt", "finetune", "lora"}
    device : str or torch.device, optional
    seed : int
        Initialisation seed of ``random``.

    Raises
    ------
    DataError
        Missing or damaged checkpoint, or one written for another method.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    _check_method(method, (*VISION_METHODS, RANDOM_METHOD))
    if checkpoint_dir is None and method in UNTRAINED_METHODS:
        model = load_vit(base_source, device=device)
        model.requires_grad_(False)
        return model if method == "base" else untrained_copy(model, seed=seed)
    if checkpoint_dir is None or not Path(checkpoint_dir).is_dir():
        raise DataError(f"{method} checkpoint {checkpoint_dir} not found; run the tuning rule that writes it")
    settings = read_tuning_settings(checkpoint_dir)
    if settings.get("method") != method:
        raise DataError(f"checkpoint {checkpoint_dir} was written by method {settings.get('method')!r}, not {method!r}")
    if method == "finetune":
        model = load_vit(checkpoint_dir, device=device)
    elif method == LORA_METHOD:
        model = load_vit(base_source, device=device)
        replace_head(model, int(settings["num_labels"]), seed=0)
        model = load_lora_merged(model, checkpoint_dir)
    else:
        model = load_vit(base_source, device=device)
        replace_head(model, int(settings["num_labels"]), seed=0)
        if method == "prompt":
            attach_visual_prompt(model, int(settings["num_prompt_tokens"]), deep=bool(settings["deep"]))
        try:
            state = load_file(Path(checkpoint_dir) / HEAD_FILE)
            if method == "prompt":
                state.update({"visual_prompt.prompts": load_file(Path(checkpoint_dir) / PROMPT_FILE)["prompts"]})
            missing = set(state) - set(dict(model.named_parameters()))
            if missing:
                raise DataError(f"checkpoint {checkpoint_dir} holds unexpected tensors {sorted(missing)}")
            model.load_state_dict(state, strict=False)
        except (OSError, SafetensorError, RuntimeError) as exc:
            raise DataError(f"{method} checkpoint {checkpoint_dir} could not be loaded ({type(exc).__name__}: {exc})") from exc
    model.requires_grad_(False)
    model.eval()
    return model


def vision_checkpoint_identity(
    base_source: str | os.PathLike, checkpoint_dir: str | os.PathLike | None, method: str, *, seed: int = 0
) -> dict[str, str]:
    """What a method's ViT is made of, for feature-store identities (cache keys).

    Returns
    -------
    dict[str, str]
        ``finetune``: the checkpoint folder's identity; ``base`` without a checkpoint: the
        base model's; ``random``: the base model's and the initialisation ``seed``;
        ``base``/``prompt``/``lora`` with one: the base model's plus ``adapter`` (the
        folder) and ``adapter_sha256`` (of its weight files and ``tuning.json``). Each
        with ``method``.
    """
    _check_method(method, (*VISION_METHODS, RANDOM_METHOD))
    if checkpoint_dir is None and method == "base":
        return {**model_identity(base_source), "method": method}
    if method == RANDOM_METHOD:
        return {**model_identity(base_source), "method": method, "seed": str(seed)}
    if checkpoint_dir is None or not Path(checkpoint_dir).is_dir():
        raise DataError(f"{method} checkpoint {checkpoint_dir} not found; run the tuning rule that writes it")
    if method == "finetune":
        return {**model_identity(checkpoint_dir), "method": method}
    weights = {"base": [HEAD_FILE], "prompt": [HEAD_FILE, PROMPT_FILE], LORA_METHOD: [ADAPTER_WEIGHTS]}[method]
    return adapter_identity(base_source, checkpoint_dir, method, weights)
