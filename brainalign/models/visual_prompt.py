"""Visual prompt tuning (Jia et al. 2022, VPT) on a Hugging Face ViT, through forward hooks.

``P`` learnable prompt tokens are inserted after [CLS] and before the patch tokens, so a
prompted sequence is ``[CLS], p_1 .. p_P, patch_1 .. patch_N`` and the prompt tokens sit
at positions ``1..P``. As in VPT, prompts are added after the position embeddings and
carry none of their own.

- *shallow* (default): the prompts enter once, at the output of ``vit.embeddings``
  (a forward hook), and then flow through every layer like any token.
- *deep*: in addition, before every later block ``k = 1 .. L-1`` the hidden states at
  positions ``1..P`` are *replaced* by that block's own fresh prompts (forward pre-hooks
  on ``vit.layers[k]``), so each block has ``P`` learnable tokens.

Hooks leave Hugging Face's own forward (attention masks, hidden-state capture, the
[CLS] head) untouched. The prompts live in a :class:`VisualPrompt` module registered as
``model.visual_prompt``, so ``model.named_parameters()`` (and hence the training loop's
optimizer) sees them as ``visual_prompt.prompts``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from brainalign.errors import ConfigError

#: Attribute of the ViT holding its :class:`VisualPrompt`.
PROMPT_ATTRIBUTE = "visual_prompt"


class VisualPrompt(torch.nn.Module):
    """Learnable prompt tokens of one ViT and the hooks that insert them.

    Parameters
    ----------
    num_tokens : int
        ``P``, prompt tokens per prompted layer.
    hidden_size : int
        The ViT's hidden size ``D``.
    num_layers : int
        Blocks ``L`` of the ViT (deep prompts use all of them).
    deep : bool
        Fresh prompts at every block (``prompts`` has shape (L, P, D)) or only at the
        input (shape (1, P, D)).
    patch_size : int
        Used for VPT's initialisation: uniform(-v, v) with
        ``v = sqrt(6 / (3 * patch_size**2 + D))`` (Xavier for the patch projection).

    Attributes
    ----------
    prompts : torch.nn.Parameter, shape (L or 1, P, D)
    """

    def __init__(self, num_tokens: int, hidden_size: int, num_layers: int, *, deep: bool, patch_size: int) -> None:
        super().__init__()
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 1:
            raise ConfigError(f"visual prompt: num_tokens must be a positive integer, got {num_tokens!r}")
        self.num_tokens = num_tokens
        self.deep = bool(deep)
        bound = math.sqrt(6.0 / (3 * patch_size**2 + hidden_size))
        n_prompted = num_layers if self.deep else 1
        self.prompts = torch.nn.Parameter(torch.empty(n_prompted, num_tokens, hidden_size).uniform_(-bound, bound))
        self._handles: list[Any] = []

    def insert(self, embeddings: Any) -> Any:
        """``[CLS], patches`` (b, 1+N, D) -> ``[CLS], prompts, patches`` (b, 1+P+N, D)."""
        prompt = self.prompts[0].to(embeddings.dtype).unsqueeze(0).expand(embeddings.shape[0], -1, -1)
        return torch.cat([embeddings[:, :1], prompt, embeddings[:, 1:]], dim=1)

    def replace(self, hidden: Any, layer: int) -> Any:
        """Hidden states (b, 1+P+N, D) with positions ``1..P`` set to block ``layer``'s prompts."""
        prompt = self.prompts[layer].to(hidden.dtype).unsqueeze(0).expand(hidden.shape[0], -1, -1)
        return torch.cat([hidden[:, :1], prompt, hidden[:, 1 + self.num_tokens :]], dim=1)

    def remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def attach_visual_prompt(model: Any, num_tokens: int, *, deep: bool = False, seed: int = 0) -> VisualPrompt:
    """Register a :class:`VisualPrompt` on a ``ViTForImageClassification`` and hook it in.

    Parameters
    ----------
    model : transformers.ViTForImageClassification
        In transformers 5 its blocks are ``model.vit.layers`` (there is no ``.encoder``).
    num_tokens : int
        ``P``.
    deep : bool
        Deep VPT (fresh prompts before every block) instead of shallow.
    seed : int
        Seed of the prompt initialisation (forked RNG: the caller's state is untouched).

    Returns
    -------
    VisualPrompt
        Also reachable as ``model.visual_prompt``; on the model's device.

    Raises
    ------
    ConfigError
        The model already has a visual prompt, or is not a ViT with ``vit.layers``.
    """
    if visual_prompt_of(model) is not None:
        raise ConfigError("the model already has a visual prompt; load a fresh model")
    vit = getattr(model, "vit", None)
    layers = getattr(vit, "layers", None)
    if vit is None or layers is None or not hasattr(vit, "embeddings"):
        raise ConfigError(f"{type(model).__name__} is not a ViT with .vit.embeddings and .vit.layers")
    config = model.config
    patch = config.patch_size if isinstance(config.patch_size, int) else config.patch_size[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        prompt = VisualPrompt(num_tokens, config.hidden_size, len(layers), deep=deep, patch_size=patch)
    parameter = next(model.parameters())
    prompt.to(device=parameter.device, dtype=parameter.dtype)
    setattr(model, PROMPT_ATTRIBUTE, prompt)

    prompt._handles.append(vit.embeddings.register_forward_hook(lambda module, args, output: prompt.insert(output)))
    if prompt.deep:
        for k in range(1, len(layers)):

            def before_block(module: Any, args: tuple, kwargs: dict, k: int = k) -> tuple[tuple, dict]:
                return (prompt.replace(args[0], k), *args[1:]), kwargs

            prompt._handles.append(layers[k].register_forward_pre_hook(before_block, with_kwargs=True))
    return prompt


def visual_prompt_of(model: Any) -> VisualPrompt | None:
    """The model's :class:`VisualPrompt`, or None for an unprompted model."""
    prompt = getattr(model, PROMPT_ATTRIBUTE, None)
    return prompt if isinstance(prompt, VisualPrompt) else None


def num_prompt_tokens(model: Any) -> int:
    """``P`` of the model's visual prompt; 0 without one."""
    prompt = visual_prompt_of(model)
    return 0 if prompt is None else prompt.num_tokens
