"""Image representations from a ViT (base, prompt-tuned or fine-tuned), for the feature store.

Layer convention (Hugging Face ``output_hidden_states``, as for text): layer 0 is the
embedding output, layer ``k`` the output of block ``k``; for a ViT transformers returns
the last block's output *before* the final layer norm.

Token positions: 0 is [CLS]; with a visual prompt of ``P`` tokens positions ``1..P`` are
the prompt and the ``N`` patch tokens follow. Pooling ``cls`` takes position 0; ``mean``
averages the patch tokens only. Prompt tokens are never pooled (they are the same for
every image at the input, and a deep prompt replaces them before every block).

The features go into the same HDF5 store as text features
(:func:`brainalign.features.write_feature_store`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from brainalign.errors import ConfigError
from brainalign.features import normalise_layers
from brainalign.models.vision import image_size_of, preprocess_images
from brainalign.models.visual_prompt import num_prompt_tokens

logger = logging.getLogger(__name__)

IMAGE_POOLINGS: tuple[str, ...] = ("cls", "mean")


def pool_tokens(hidden: Any, pooling: str, n_prompt: int) -> Any:
    """Pool one layer's token vectors into one vector per image.

    Parameters
    ----------
    hidden : torch.Tensor, shape (b, 1 + n_prompt + N, D)
    pooling : {"cls", "mean"}
    n_prompt : int
        ``P``, prompt tokens at positions ``1..P`` (excluded).

    Returns
    -------
    torch.Tensor, shape (b, D)
    """
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        return hidden[:, 1 + n_prompt :].mean(dim=1)
    raise ConfigError(f"unknown image pooling {pooling!r}; choose one of {', '.join(IMAGE_POOLINGS)}")


def extract_image_features(
    model: Any,
    images: np.ndarray,
    *,
    layers: Sequence[int],
    pooling: str = "cls",
    batch_size: int = 32,
) -> dict[int, np.ndarray]:
    """Pooled hidden states of a ViT for each image.

    Parameters
    ----------
    model : transformers.ViTForImageClassification
        E.g. from :func:`brainalign.tuning.vision.load_vision_tuned` (with its visual
        prompt hooked in, if prompt-tuned).
    images : np.ndarray, uint8, shape (n, H, W, 3)
        Preprocessed here with :func:`brainalign.models.vision.preprocess_images`.
    layers : sequence of int
        Hidden-state indices (0 = embeddings, negative from the end).
    pooling : {"cls", "mean"}
        ``cls`` needs layers >= 1: at layer 0 [CLS] has not seen the image.
    batch_size : int

    Returns
    -------
    dict[int, np.ndarray]
        Non-negative layer index -> float32 array (n, hidden_size), rows in image order.
    """
    import torch

    if pooling not in IMAGE_POOLINGS:
        raise ConfigError(f"unknown image pooling {pooling!r}; choose one of {', '.join(IMAGE_POOLINGS)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    wanted = normalise_layers(layers, model.config.num_hidden_layers)
    if pooling == "cls" and 0 in wanted:
        raise ConfigError(
            "layer 0 with cls pooling: the embeddings' [CLS] vector is the same for every image; "
            "use mean pooling or layers >= 1"
        )
    size = image_size_of(model)
    n_prompt = num_prompt_tokens(model)
    device = next(model.parameters()).device
    n = len(images)
    out = {k: np.empty((n, model.config.hidden_size), dtype=np.float32) for k in wanted}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, n, batch_size):
                pixels = preprocess_images(images[start : start + batch_size], size).to(device)
                hidden = model.vit(pixel_values=pixels, output_hidden_states=True).hidden_states
                for k in wanted:
                    out[k][start : start + len(pixels)] = pool_tokens(hidden[k].float(), pooling, n_prompt).cpu().numpy()
    finally:
        model.train(was_training)
    logger.info("features of %d images, layers %s, pooling %s, %d prompt tokens", n, wanted, pooling, n_prompt)
    return out
