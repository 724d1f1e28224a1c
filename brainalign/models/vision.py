"""Vision transformers: a tiny offline ViT, loading (hub name or local folder), image preprocessing.

The paper's config names the hub model ``google/vit-base-patch16-224-in21k``; the
embedded default builds a small, randomly initialised ``ViTForImageClassification``
with :func:`build_tiny_vit` and pre-trains it (:mod:`brainalign.tuning.vision_recipes`).
Both load through :func:`load_vit`. We use transformers' ViT rather than timm because
timm needs torchvision, which does not install alongside the pinned torch.

Image preprocessing happens here and nowhere else (:func:`preprocess_images`): training,
evaluation and feature extraction all call it, so a model sees its images the same way
in every stage.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.errors import ConfigError, DataError
from brainalign.models.language import (
    _HUB_DOWNLOAD_HINT,
    _apply_default_permissions,
    _default_device,
    _hub_offline,
    _load_errors,
    _move_into_place,
    _replaceable_model_dir,
)

logger = logging.getLogger(__name__)

#: Per-channel normalisation ``(x / 255 - mean) / std``: the values of Google's ViT image
#: processors (``google/vit-base-patch16-224-in21k``), used for every ViT here.
IMAGE_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
IMAGE_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)


def build_tiny_vit(
    out_dir: str | os.PathLike,
    *,
    image_size: int = 32,
    patch_size: int = 4,
    hidden_size: int = 64,
    num_hidden_layers: int = 3,
    num_attention_heads: int = 4,
    intermediate_size: int = 128,
    num_labels: int = 2,
    seed: int = 0,
) -> Path:
    """Build a small, randomly initialised ``ViTForImageClassification``, offline.

    Written into a temporary sibling folder and renamed into place, so a crash never
    leaves a half-built model; an existing ``out_dir`` is replaced only when it is empty
    or a model folder. The same sizes and seed give a byte-identical
    ``model.safetensors``.

    Parameters
    ----------
    out_dir : path-like
        Destination folder, loadable with :func:`load_vit`.
    image_size, patch_size : int
        Square input side and patch side in pixels; ``image_size`` must be a multiple of
        ``patch_size`` ((image_size / patch_size)**2 patch tokens plus [CLS]).
    hidden_size, num_hidden_layers, num_attention_heads, intermediate_size : int
        Transformer sizes; ``hidden_size`` must be divisible by ``num_attention_heads``.
    num_labels : int
        Classes of the classification head (pre-training classes).
    seed : int
        Seed of the random initialisation.

    Returns
    -------
    Path
        ``out_dir``.
    """
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    out_dir = Path(out_dir)
    sizes = {
        "image_size": image_size, "patch_size": patch_size, "hidden_size": hidden_size,
        "num_hidden_layers": num_hidden_layers, "num_attention_heads": num_attention_heads,
        "intermediate_size": intermediate_size, "num_labels": num_labels,
    }
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"tiny ViT: {name} must be a positive integer, got {value!r}")
    if image_size % patch_size:
        raise ConfigError(f"tiny ViT: image_size ({image_size}) must be a multiple of patch_size ({patch_size})")
    if hidden_size % num_attention_heads:
        raise ConfigError(
            f"tiny ViT: hidden_size ({hidden_size}) must be divisible by num_attention_heads ({num_attention_heads})"
        )
    if out_dir.exists() and not _replaceable_model_dir(out_dir):
        raise ConfigError(
            f"refusing to overwrite {out_dir}: it exists and is not a model directory (no config.json); "
            "choose another output folder or remove it"
        )
    config = ViTConfig(num_channels=3, **sizes)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ViTForImageClassification(config)
        model.eval()
        model.save_pretrained(tmp_dir)
        if not (tmp_dir / "model.safetensors").is_file():
            raise RuntimeError(f"save_pretrained wrote no model.safetensors in {tmp_dir}")
        _apply_default_permissions(tmp_dir)
        _move_into_place(tmp_dir, out_dir)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
    logger.info("built tiny ViT %s (seed %d) in %s", sizes, seed, out_dir)
    return out_dir


def load_vit(name_or_path: str | os.PathLike, *, device: str | Any | None = None) -> Any:
    """Load a ``ViTForImageClassification`` from a hub name or a local folder.

    A checkpoint without a classification head (e.g. ``google/vit-base-patch16-224-in21k``,
    saved as a ``ViTModel``) gets a freshly initialised one; the tuning stage replaces
    the head anyway (:func:`replace_head`).

    Parameters
    ----------
    name_or_path : str or path-like
        A Hugging Face hub id (read from the local cache when offline) or a folder
        written by ``save_pretrained``.
    device : str or torch.device, optional
        Default ``"cuda"`` when available, else ``"cpu"``.

    Returns
    -------
    transformers.ViTForImageClassification
        In eval mode, float32, on ``device``.

    Raises
    ------
    ConfigError
        Not a local folder and not in the local Hugging Face cache, or not a ViT.
    DataError
        A local folder that is not a loadable model.
    """
    import torch
    from safetensors import SafetensorError
    from transformers import ViTForImageClassification

    name = os.fspath(name_or_path)
    is_local = Path(name).is_dir()
    if is_local and not (Path(name) / "config.json").is_file():
        raise DataError(f"model directory {name} has no config.json; it must be a folder written by save_pretrained")
    try:
        model = ViTForImageClassification.from_pretrained(name, dtype=torch.float32)
    except (*_load_errors(), ValueError, SafetensorError) as exc:
        if is_local:
            raise DataError(
                f"model directory {name} could not be loaded as a ViT ({type(exc).__name__}: {exc}); "
                "it must hold a config.json and weights written by save_pretrained"
            ) from exc
        if not isinstance(exc, _load_errors()):
            raise
        why = "HF_HUB_OFFLINE is set, so nothing is downloaded" if _hub_offline() else "downloading it failed"
        raise ConfigError(
            f"vision model {name!r} is neither a local directory nor in the local Hugging Face cache ({why}); "
            + _HUB_DOWNLOAD_HINT.format(name=name) + f". Underlying error: {type(exc).__name__}: {exc}"
        ) from exc
    if getattr(model.config, "model_type", None) != "vit":
        raise ConfigError(f"model {name!r} is a {model.config.model_type!r} model, not a ViT")
    model.to(device if device is not None else _default_device())
    model.eval()
    logger.info("loaded ViT %s (%d layers, image size %d)", name, model.config.num_hidden_layers, image_size_of(model))
    return model


def image_size_of(model: Any) -> int:
    """The square input side (pixels) a ViT expects."""
    size = model.config.image_size
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            raise ConfigError(f"only square ViT inputs are supported, the model expects {tuple(size)}")
        size = size[0]
    return int(size)


def replace_head(model: Any, num_labels: int, *, seed: int) -> Any:
    """Give ``model`` a new linear classification head with ``num_labels`` outputs.

    Initialised like Hugging Face's ViT heads (normal(0, initializer_range) weights, zero
    bias) under a forked RNG seeded by ``seed``, so it is reproducible and leaves the
    caller's random state alone. ``config.num_labels`` (and the label maps) follow.

    Returns
    -------
    The same ``model``.
    """
    import torch

    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 2:
        raise DataError(f"an image classification task needs at least 2 classes, got {num_labels!r}")
    parameter = next(model.parameters())
    head = torch.nn.Linear(model.config.hidden_size, num_labels)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        head.weight.normal_(0.0, model.config.initializer_range)
        head.bias.zero_()
    model.classifier = head.to(device=parameter.device, dtype=parameter.dtype)
    model.config.num_labels = num_labels  # also resets id2label / label2id
    model.num_labels = num_labels
    return model


def preprocess_images(images: np.ndarray, image_size: int) -> Any:
    """uint8 RGB images -> the normalised pixel tensor a ViT takes.

    Images are resized (bilinear, antialiased; square inputs stay square) to
    ``image_size``, scaled to [0, 1] and normalised with :data:`IMAGE_MEAN` /
    :data:`IMAGE_STD`.

    Parameters
    ----------
    images : np.ndarray, uint8, shape (n, H, W, 3)
        RGB images of one common size.
    image_size : int
        The model's input side (:func:`image_size_of`).

    Returns
    -------
    torch.Tensor, float32, shape (n, 3, image_size, image_size)

    Raises
    ------
    DataError
        Not an (n, H, W, 3) uint8 array, or no images.
    """
    import torch

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise DataError(f"images must be a uint8 array of shape (n, H, W, 3), got {images.dtype} {images.shape}")
    if images.shape[0] == 0:
        raise DataError("no images to preprocess")
    pixels = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float32) / 255.0
    if pixels.shape[-2:] != (image_size, image_size):
        pixels = torch.nn.functional.interpolate(
            pixels, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
        ).clamp_(0.0, 1.0)
    mean = torch.tensor(IMAGE_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (pixels - mean) / std
