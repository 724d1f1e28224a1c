"""The ``random`` baseline: a model's architecture with untrained weights.

Brain scores of untrained networks are a floor every trained variant should clear, and a
well-known surprise: architecture alone already predicts some of the brain response
(Schrimpf et al. 2021). The untrained model has exactly the pre-trained model's config
(layers, widths, tokenizer, image size) and weights drawn by the architecture's own
initialiser (``post_init``, e.g. N(0, 0.02) for GPT-2 and ViT linear layers) from the
workflow seed, so the same seed gives the same weights.
"""

from __future__ import annotations

from typing import Any

#: The method name of the untrained variant (task ``none``, like the untuned base model).
RANDOM_METHOD = "random"


def untrained_copy(model: Any, *, seed: int) -> Any:
    """A fresh model of ``model``'s class and config, initialised from ``seed``.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The pre-trained model (e.g. from :func:`~brainalign.models.language.load_causal_lm`
        or :func:`~brainalign.models.vision.load_vit`); it is not modified.
    seed : int
        Seed of the initialisation. The global torch RNG state is restored afterwards.

    Returns
    -------
    transformers.PreTrainedModel
        Same class, config, parameter names and shapes; float32, on ``model``'s device, in
        eval mode, nothing trainable.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = type(model)._from_config(model.config, dtype=torch.float32)
    fresh.to(next(model.parameters()).device)
    fresh.requires_grad_(False)
    fresh.eval()
    return fresh
