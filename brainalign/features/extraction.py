"""Sentence representations from a causal language model: extraction and pooling.

:func:`extract_features` runs a model over stimulus sentences and pools the hidden
states of chosen layers into one vector per sentence (the HDF5 cache that keeps them is
:mod:`brainalign.features.store`).

Layer convention (Hugging Face ``output_hidden_states``): layer 0 is the embedding
output (token + position embeddings), layer ``k`` the output of block ``k``; for GPT-2
the last layer ``L`` is taken *after* the final layer norm ``ln_f``, as transformers
returns it.

The same token context for every variant (``prefix=True``, config ``features.prefix``):
each sentence is preceded by one prefix token, the tokenizer's BOS token (GPT-2:
``<|endoftext|>``; its EOS token when it has no BOS), which is attended to but never
pooled. GPT-2 puts a very large activation (an "attention sink") on position 0; with
the prefix that position holds the prefix token for the base, fine-tuned, LoRA and
random models alike, and pooling covers exactly the sentence's tokens in every variant.
Without it, the first *word* sits at position 0 and its outsized state enters the pool
of every variant except the prompt-tuned one, whose position 0 is a soft-prompt token.

Prompt-tuned models: the soft prompt (num_virtual_tokens, hidden) is prepended to the
token embeddings exactly as PEFT does in training (``PeftModelForCausalLM.forward``):
prompt first, then the prefix token, then the sentence's tokens, then right padding;
the prompt positions are attended to (mask 1); positions count from the first virtual
token, so the prefix sits at position ``num_virtual_tokens`` and the sentence's first
token at ``num_virtual_tokens + 1``. Hidden states at the prompt and prefix positions
are computed but excluded from pooling.

Layouts, ``V`` virtual tokens, ``s1 .. sn`` the sentence's tokens, pooled span marked:

====================  =========================================================
base, finetune, LoRA  ``<bos> [s1 ... sn] <pad> ...``
random                ``<bos> [s1 ... sn] <pad> ...``
prompt                ``<v1> ... <vV> <bos> [s1 ... sn] <pad> ...``
====================  =========================================================
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from brainalign.errors import ConfigError, DataError
from brainalign.models.language import context_length, pad_token_id

logger = logging.getLogger(__name__)

POOLINGS: tuple[str, ...] = ("mean", "last")

# --------------------------------------------------------------------------- extraction


def _n_layers(model: Any) -> int:
    n = getattr(model.config, "num_hidden_layers", None)
    if not isinstance(n, int):
        raise ConfigError(f"model config of {type(model).__name__} has no integer num_hidden_layers")
    return n


def normalise_layers(layers: Sequence[int], n_layers: int) -> list[int]:
    """Map layer indices to ``0..n_layers`` (negative ones count from the end), keep order.

    Parameters
    ----------
    layers : sequence of int
        Requested indices; ``0`` = embeddings, ``n_layers`` = last block, ``-1`` = last.
    n_layers : int
        Number of transformer blocks ``L``.

    Returns
    -------
    list[int]
        Non-negative, duplicates removed.

    Raises
    ------
    ConfigError
        Empty, non-integer or out of range (valid: ``-(L+1) .. L``).
    """
    if isinstance(layers, (int, np.integer)):
        layers = [int(layers)]
    if len(layers) == 0:
        raise ConfigError("no layers requested; give at least one layer index")
    out: list[int] = []
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise ConfigError(f"layer index {layer!r} is not an integer")
        k = int(layer)
        if not -(n_layers + 1) <= k <= n_layers:
            raise ConfigError(
                f"layer {k} is out of range for a model with {n_layers} layers: valid indices are "
                f"0..{n_layers} (0 = embeddings, {n_layers} = last block) or -{n_layers + 1}..-1"
            )
        k = k if k >= 0 else k + n_layers + 1
        if k not in out:
            out.append(k)
    return out


def _pool(hidden: Any, mask: Any, pooling: str) -> Any:
    """Pool token vectors over the tokens selected by ``mask``.

    Parameters
    ----------
    hidden : torch.Tensor, shape (batch, n_tokens, hidden_size)
    mask : torch.Tensor of bool, shape (batch, n_tokens)
        Tokens that belong to the sentence (not padding, soft prompt or prefix token).
        Every row must select at least one token.
    pooling : {"mean", "last"}
        ``mean``: average over the selected tokens; ``last``: the last selected token.

    Returns
    -------
    torch.Tensor, shape (batch, hidden_size)
    """
    import torch

    if pooling == "mean":
        # torch.where rather than a product: values at masked positions are never read,
        # even if they are not finite.
        selected = torch.where(mask.unsqueeze(-1), hidden, torch.zeros((), dtype=hidden.dtype, device=hidden.device))
        counts = mask.sum(dim=1, keepdim=True).to(hidden.dtype)
        return selected.sum(dim=1) / counts
    if pooling == "last":
        positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
        last = torch.where(mask, positions, torch.full_like(positions, -1)).max(dim=1).values
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise ConfigError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")


def _stimulus_mask(attention_mask: Any, n_excluded: int = 0) -> Any:
    """Tokens to pool over, shape (batch, n_tokens) bool.

    Parameters
    ----------
    attention_mask : torch.Tensor, shape (batch, n_tokens)
        The mask the model ran with, soft-prompt positions included (they are attended).
    n_excluded : int
        Number of leading positions (soft prompt, then the prefix token): attended to,
        never pooled.
    """
    mask = attention_mask.bool().clone()
    mask[:, :n_excluded] = False
    return mask


def _check_soft_prompt(soft_prompt: Any, hidden_size: int) -> Any:
    """Validate a soft prompt: 2-D (num_virtual_tokens >= 1, hidden_size), finite."""
    import torch

    if not isinstance(soft_prompt, torch.Tensor) or soft_prompt.ndim != 2:
        raise ConfigError(
            f"soft_prompt must be a 2-D tensor (num_virtual_tokens, {hidden_size}), got "
            f"{getattr(soft_prompt, 'shape', type(soft_prompt).__name__)}"
        )
    if soft_prompt.shape[0] < 1 or soft_prompt.shape[1] != hidden_size:
        raise ConfigError(
            f"soft_prompt has shape {tuple(soft_prompt.shape)}, expected (num_virtual_tokens >= 1, {hidden_size}) "
            "for this model's hidden size"
        )
    if not torch.isfinite(soft_prompt).all():
        raise ConfigError("soft_prompt has non-finite values")
    return soft_prompt


def forward_hidden_states(
    model: Any, input_ids: Any, attention_mask: Any, soft_prompt: Any | None = None
) -> tuple[tuple[Any, ...], Any]:
    """Hidden states of a plain causal LM, with a soft prompt prepended as PEFT does.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The (base) causal LM, not a PEFT wrapper; only its backbone (``model.base_model``,
        e.g. ``GPT2Model``) runs.
    input_ids : torch.LongTensor, shape (batch, n_tokens)
    attention_mask : torch.Tensor, shape (batch, n_tokens)
        1 = token, 0 = padding (right padding).
    soft_prompt : torch.Tensor, shape (num_virtual_tokens, hidden_size), optional
        Prepended to every row's token embeddings, attended to by all tokens.

    Returns
    -------
    hidden_states : tuple of torch.Tensor
        ``n_layers + 1`` tensors of shape (batch, num_virtual_tokens + n_tokens, hidden).
    attention_mask : torch.Tensor, shape (batch, num_virtual_tokens + n_tokens)
        The mask the model ran with (ones over the prompt).
    """
    import torch

    kwargs = {"output_hidden_states": True, "use_cache": False, "return_dict": True}
    # The backbone without its language-model head: the hidden states are the same, and
    # the head (vocabulary x hidden, 19M multiply-adds per token for GPT-2 at 384 dims,
    # more than the 6 blocks it sits on) would compute logits nobody reads.
    model = getattr(model, "base_model", model)
    if soft_prompt is None:
        outputs = model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return outputs.hidden_states, attention_mask
    # Mirrors PeftModelForCausalLM.forward (prompt tuning): word embeddings of the
    # tokens, the prompt cast to their dtype and concatenated in front, a mask of ones
    # in front of the attention mask; positions are left to the model (0.. over the
    # whole sequence, prompt included), as PEFT drops position_ids.
    embeds = model.get_input_embeddings()(input_ids)
    batch = input_ids.shape[0]
    prompt = soft_prompt.to(device=embeds.device, dtype=embeds.dtype).unsqueeze(0).expand(batch, -1, -1)
    inputs_embeds = torch.cat((prompt, embeds), dim=1)
    prefix = torch.ones((batch, soft_prompt.shape[0]), dtype=attention_mask.dtype, device=attention_mask.device)
    full_mask = torch.cat((prefix, attention_mask), dim=1)
    outputs = model(inputs_embeds=inputs_embeds, attention_mask=full_mask, **kwargs)
    return outputs.hidden_states, full_mask


def _is_peft_model(model: Any) -> bool:
    # Duck-typed so that this module does not import peft.
    return hasattr(model, "get_base_model") and hasattr(model, "peft_config")


def _is_prompt_model(model: Any) -> bool:
    config = getattr(model, "active_peft_config", None)
    return _is_peft_model(model) and bool(getattr(config, "is_prompt_learning", False))


def prefix_token_id(tokenizer: Any) -> int:
    """The token put before every sentence: the tokenizer's BOS token, else its EOS token.

    GPT-2's tokenizer has ``<|endoftext|>`` as both.

    Raises
    ------
    ConfigError
        The tokenizer has neither (then set ``features.prefix: false``).
    """
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise ConfigError(
        "features.prefix: the tokenizer has neither a bos nor an eos token to put before each sentence; "
        "set features.prefix: false"
    )


def _tokenize(
    tokenizer: Any, texts: Sequence[str], max_length: int | None, *, add_special_tokens: bool = True
) -> list[list[int]]:
    """Token ids of each text, truncated to ``max_length`` with a warning that counts them."""
    # verbose=False: transformers' own too-long warning is replaced by the counted one below.
    encoded = tokenizer(
        list(texts), add_special_tokens=add_special_tokens, truncation=False, padding=False, verbose=False
    )["input_ids"]
    ids = [list(map(int, seq)) for seq in encoded]
    empty = [i for i, seq in enumerate(ids) if len(seq) == 0]
    if empty:
        raise DataError(
            f"{len(empty)} text(s) have no tokens (empty strings?), first at index {empty[0]}; "
            "remove them from the stimuli"
        )
    if max_length is not None:
        too_long = [i for i, seq in enumerate(ids) if len(seq) > max_length]
        if too_long:
            logger.warning(
                "%d of %d text(s) are longer than the %d tokens the model's context leaves for text and were truncated "
                "to their first %d tokens (longest: %d tokens, first at index %d)",
                len(too_long), len(ids), max_length, max_length,
                max(len(ids[i]) for i in too_long), too_long[0],
            )
            ids = [seq[:max_length] for seq in ids]
    return ids


def extract_features(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    layers: Sequence[int],
    pooling: str = "mean",
    batch_size: int = 16,
    progress: bool = True,
    soft_prompt: Any | None = None,
    prefix: bool = True,
) -> dict[int, np.ndarray]:
    """Pooled hidden states of a causal language model for each text.

    Texts are batched with right padding and an attention mask; with causal attention a
    sentence's vectors do not depend on what it is batched with (up to float error,
    ~1e-6). Batches are formed from texts of similar length to save padding; the output
    is in the order of ``texts``.

    Parameters
    ----------
    model : transformers.PreTrainedModel or peft.PeftModel
        A causal LM (e.g. from :func:`brainalign.models.language.load_causal_lm`).
        Run in eval mode; a model in training mode is switched to eval for the call.
        A PEFT prompt-tuned model (e.g. from
        :func:`brainalign.tuning.methods.load_tuned`) is run through its base model
        with its soft prompt prepended (unless ``soft_prompt`` is given).
    tokenizer : transformers tokenizer
        The model's tokenizer.
    texts : sequence of str, length n_texts
        Stimulus sentences, each with at least one token.
    layers : sequence of int
        Hidden-state indices: 0 = embeddings, ``L`` = last block, negatives from the end.
    pooling : {"mean", "last"}
        Mean over the sentence's tokens, or its last token.
    batch_size : int
        Sentences per forward pass.
    progress : bool
        Show a tqdm bar over batches.
    soft_prompt : torch.Tensor, shape (num_virtual_tokens, hidden_size), optional
        Prepended to each sentence's token embeddings as PEFT prompt tuning does (module
        docstring); pooling covers the sentence's tokens only. Texts are truncated to the
        context minus ``num_virtual_tokens`` (minus 1 with the prefix).
    prefix : bool
        Put the prefix token (:func:`prefix_token_id`, GPT-2's ``<|endoftext|>``) before
        each sentence, after any soft prompt, attended to but never pooled, and tokenize
        the sentence without the tokenizer's own special tokens (module docstring); the
        pooled span is then the sentence's tokens in every variant. ``False``: the
        sentence as the tokenizer encodes it (special tokens included), at position 0
        of a model without a soft prompt, every token pooled.

    Returns
    -------
    dict[int, np.ndarray]
        Normalised (non-negative) layer index -> float32 array (n_texts, hidden_size).

    Raises
    ------
    DataError
        No texts, or a text with no tokens.
    ConfigError
        Layer out of range, unknown pooling, batch_size < 1, a soft prompt of the wrong
        shape or one that fills the whole context, or ``prefix`` with a tokenizer that
        has no bos/eos token.
    """
    import torch
    from tqdm.auto import tqdm

    if isinstance(texts, str):
        raise DataError("texts must be a sequence of sentences, got a single string")
    texts = list(texts)
    if not texts:
        raise DataError("no texts to extract features from (empty stimulus list)")
    if pooling not in POOLINGS:
        raise ConfigError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if soft_prompt is None and _is_prompt_model(model):
        from brainalign.tuning.methods import soft_prompt as peft_soft_prompt

        soft_prompt = peft_soft_prompt(model)
    if _is_peft_model(model):
        # The prompt is prepended here, by the same rule as PEFT's forward, so that every
        # kind of model goes through one code path.
        model = model.get_base_model()
    n_layers = _n_layers(model)
    keys = normalise_layers(layers, n_layers)
    hidden_size = int(model.config.hidden_size)
    n_virtual = 0
    if soft_prompt is not None:
        soft_prompt = _check_soft_prompt(soft_prompt, hidden_size).detach()
        n_virtual = int(soft_prompt.shape[0])

    prefix_ids = [prefix_token_id(tokenizer)] if prefix else []
    n_excluded = n_virtual + len(prefix_ids)  # leading positions attended to, never pooled

    context = context_length(model)
    if context is not None and n_excluded > 0:
        if n_excluded >= context:
            raise ConfigError(
                f"the soft prompt's {n_virtual} virtual tokens (and the prefix token) fill the model's whole context "
                f"of {context} tokens"
            )
        context -= n_excluded
    ids = [prefix_ids + seq for seq in _tokenize(tokenizer, texts, context, add_special_tokens=not prefix)]
    pad_id = pad_token_id(tokenizer)
    # Longest first: similar lengths share a batch (less padding) and an out-of-memory
    # error shows up on the first batch rather than at the end.
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    device = next(model.parameters()).device
    out = {k: np.empty((len(texts), hidden_size), dtype=np.float32) for k in keys}

    was_training = model.training
    model.eval()  # dropout off: features must be deterministic
    try:
        with torch.inference_mode():  # no autograd bookkeeping at all (features are read-only)
            starts = range(0, len(order), batch_size)
            for start in tqdm(starts, desc="features", unit="batch", disable=not progress):
                idx = order[start : start + batch_size]
                width = max(len(ids[i]) for i in idx)
                input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
                attention_mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    input_ids[row, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                    attention_mask[row, : len(ids[i])] = 1
                input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
                hidden_states, full_mask = forward_hidden_states(model, input_ids, attention_mask, soft_prompt)
                if hidden_states is None or len(hidden_states) != n_layers + 1:
                    raise ConfigError(
                        f"model returned {0 if hidden_states is None else len(hidden_states)} hidden states, "
                        f"expected {n_layers + 1} (embeddings + {n_layers} layers)"
                    )
                mask = _stimulus_mask(full_mask, n_excluded)
                for k in keys:
                    pooled = _pool(hidden_states[k].float(), mask, pooling)
                    out[k][idx] = pooled.cpu().numpy()
    finally:
        if was_training:
            model.train()
    return out
