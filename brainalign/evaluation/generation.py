"""Greedy generation of the text models for task evaluation (paper Table I).

Stage 4 ("evaluate") of the workflow: the base, prompt-tuned and fine-tuned GPT-2 of every
task generate a continuation of each test prompt (scored by
:mod:`brainalign.evaluation.bertscore`).

:func:`generate` decodes greedily, in batches, with LEFT padding and an attention mask, and
with position ids derived from that mask, so a prompt gets the same continuation whatever
else is in its batch. Prompts are tokenized as-is, without a trailing space: training
sequences are ``prompt + " " + target + eos`` and GPT-2's BPE attaches the space to the
next word, so the model's first generated token is expected to be ``" word"``.

PEFT prompt tuning is NOT decoded through ``PeftModel.generate``. With the pinned
transformers 5.24 / peft 0.21.2 that path is wrong, as checked while writing this module:

* transformers 5 renamed the generation cache argument ``past_key_values`` to ``cache``;
  PEFT's ``prepare_inputs_for_generation`` still looks for ``past_key_values``, finds none,
  and re-inserts the soft prompt at *every* decoding step, so even a single, unpadded
  prompt decodes differently from step-by-step greedy decoding with ``PeftModel.forward``
  after the first new token;
* PEFT drops the position ids (``"Position ids are not supported ..."``), so GPT-2 falls
  back to ``arange`` positions and a left-padded prompt is shifted by its padding: the
  output depends on the batch composition.

Instead, for prompt-learning adapters that inject input embeddings (prompt tuning,
P-tuning), the soft prompt is taken from the adapter (``get_prompt``) and placed between the
left padding and the prompt tokens, ``[pad ... pad][virtual tokens][prompt tokens]``, and the
*base* model generates from these ``inputs_embeds`` with the matching attention mask. The
virtual tokens then sit at positions ``0 .. V-1`` and the prompt at ``V ...``, exactly as in
``PeftModel.forward`` (training). Other adapters (e.g. LoRA) go through
``PeftModel.generate``; prefix tuning is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from brainalign.errors import ConfigError, DataError
from brainalign.models.language import context_length, pad_token_id

logger = logging.getLogger(__name__)


def _peft_kind(model: Any) -> str:
    """``"plain"``, ``"soft_prompt"`` (prompt tuning / P-tuning) or ``"peft_other"``."""
    try:
        from peft import PeftModel
        from peft.utils import PeftType
    except ImportError:  # pragma: no cover - peft is a pinned dependency
        return "plain"
    if not isinstance(model, PeftModel):
        return "plain"
    config = model.active_peft_config
    if not config.is_prompt_learning:
        return "peft_other"
    if config.peft_type in (PeftType.PROMPT_TUNING, PeftType.P_TUNING):
        return "soft_prompt"
    raise ConfigError(
        f"generate: PEFT adapter type {config.peft_type} is not supported (only prompt tuning, P-tuning and "
        "non-prompt-learning adapters such as LoRA are)"
    )


def _prompt_token_ids(tokenizer: Any, prompts: Sequence[str], budget: int) -> list[list[int]]:
    """Token ids of each prompt, left-truncated to ``budget`` tokens (logged)."""
    ids: list[list[int]] = []
    n_truncated = 0
    n_empty = 0
    start_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    for prompt in prompts:
        # verbose=False: no "longer than the maximum sequence length" notice before truncation
        row = list(tokenizer(prompt, add_special_tokens=False, verbose=False)["input_ids"])
        if not row:
            if start_id is None:
                raise DataError("generate: a prompt is empty and the tokenizer has no bos/eos token to start from")
            row = [start_id]
            n_empty += 1
        if len(row) > budget:
            row = row[len(row) - budget :]
            n_truncated += 1
        ids.append(row)
    if n_truncated:
        logger.warning(
            "generate: %d of %d prompts are longer than %d tokens (context minus max_new_tokens minus virtual "
            "tokens) and were left-truncated to their last %d tokens",
            n_truncated, len(prompts), budget, budget,
        )
    if n_empty:
        logger.warning("generate: %d of %d prompts are empty; they start from the bos/eos token", n_empty, len(prompts))
    return ids


def _decode_continuation(tokenizer: Any, new_tokens: Sequence[int], eos_id: int | None) -> str:
    tokens = list(new_tokens)
    if eos_id is not None and eos_id in tokens:
        tokens = tokens[: tokens.index(eos_id)]
    return tokenizer.decode(tokens, skip_special_tokens=True).strip()


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 32,
    batch_size: int = 8,
    progress: bool = True,
) -> list[str]:
    """Greedy continuations of ``prompts``.

    Parameters
    ----------
    model : transformers causal LM or peft.PeftModel
        A plain causal LM (e.g. ``GPT2LMHeadModel``), a PEFT prompt-tuned (or P-tuned)
        model, or another non-prompt-learning PEFT model (e.g. LoRA). It is put in eval
        mode for the call and restored afterwards.
    tokenizer : transformers tokenizer
        The model's tokenizer; needs an eos token (GPT-2: ``<|endoftext|>``).
    prompts : sequence of str
        The inputs; each is tokenized without special tokens. Prompts longer than the
        context minus ``max_new_tokens`` minus the number of virtual tokens keep their
        last tokens (a WARNING counts them); an empty prompt starts from the bos/eos token.
    max_new_tokens : int
        At most this many new tokens per prompt; decoding of a prompt stops at eos.
    batch_size : int
        Prompts per forward pass. Results do not depend on it (left padding, attention
        mask and mask-derived position ids), up to floating-point ties.
    progress : bool
        Show a progress bar over batches (stderr).

    Returns
    -------
    list of str
        One continuation per prompt, without the prompt, cut at the first eos and
        stripped of surrounding whitespace (may be empty).
    """
    import torch
    from tqdm.auto import tqdm

    prompts = list(prompts)
    if any(not isinstance(prompt, str) for prompt in prompts):
        raise DataError("generate: every prompt must be a string")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ConfigError(f"generate: max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"generate: batch_size must be an integer >= 1, got {batch_size!r}")
    if not prompts:
        return []

    kind = _peft_kind(model)
    lm = model.get_base_model() if kind == "soft_prompt" else model
    n_virtual = int(model.active_peft_config.num_virtual_tokens) if kind == "soft_prompt" else 0
    eos_id = tokenizer.eos_token_id
    if eos_id is None:
        raise ConfigError("generate: the tokenizer has no eos token; it is needed to stop decoding")
    pad_id = pad_token_id(tokenizer)

    context = context_length(lm)
    if context is None:
        budget = 10**9
    else:
        budget = context - max_new_tokens - n_virtual
        if budget < 1:
            raise ConfigError(
                f"generate: max_new_tokens ({max_new_tokens}) + virtual tokens ({n_virtual}) leave no room for the "
                f"prompt in the model's context of {context} tokens; lower evaluation.max_new_tokens"
            )
    token_ids = _prompt_token_ids(tokenizer, prompts, budget)

    device = next(lm.parameters()).device
    generation_kwargs = dict(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        # explicit, so that a hub generation_config cannot sneak in penalties
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    was_training = model.training
    model.eval()
    soft_prompt = None
    outputs: list[str] = []
    try:
        with torch.no_grad():
            if kind == "soft_prompt":
                soft_prompt = model.get_prompt(batch_size=1)[0].detach().to(device)  # (V, d)
            starts = range(0, len(prompts), batch_size)
            for start in tqdm(starts, desc="generate", unit="batch", disable=not progress):
                rows = token_ids[start : start + batch_size]
                width = max(len(row) for row in rows)
                ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for i, row in enumerate(rows):
                    ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
                    mask[i, width - len(row) :] = 1
                ids, mask = ids.to(device), mask.to(device)
                if soft_prompt is None:
                    out = model.generate(input_ids=ids, attention_mask=mask, **generation_kwargs)
                    new = out[:, width:]
                else:
                    new = _generate_with_soft_prompt(lm, soft_prompt, rows, ids, mask, generation_kwargs)
                outputs.extend(_decode_continuation(tokenizer, row.tolist(), eos_id) for row in new.cpu())
    finally:
        model.train(was_training)
    return outputs


def _generate_with_soft_prompt(lm: Any, soft_prompt: Any, rows: list[list[int]], ids: Any, mask: Any, kwargs: dict) -> Any:
    """Generate with ``[pad][soft prompt][tokens]`` input embeddings; returns the new tokens only."""
    import torch

    n_virtual = soft_prompt.shape[0]
    width = ids.shape[1]
    token_embeds = lm.get_input_embeddings()(ids)  # (B, width, d)
    soft = soft_prompt.to(token_embeds.dtype)
    embeds = torch.empty(
        (ids.shape[0], n_virtual + width, token_embeds.shape[-1]), dtype=token_embeds.dtype, device=ids.device
    )
    full_mask = torch.zeros((ids.shape[0], n_virtual + width), dtype=mask.dtype, device=ids.device)
    for i, row in enumerate(rows):
        n_pad = width - len(row)
        embeds[i, :n_pad] = token_embeds[i, :n_pad]
        embeds[i, n_pad : n_pad + n_virtual] = soft
        embeds[i, n_pad + n_virtual :] = token_embeds[i, n_pad:]
        full_mask[i, n_pad:] = 1
    out = lm.generate(inputs_embeds=embeds, attention_mask=full_mask, **kwargs)
    # A decoder-only model given only inputs_embeds returns the new tokens only (checked
    # with transformers 5.24); should a version prepend placeholders for the input, drop them.
    if out.shape[1] > kwargs["max_new_tokens"]:
        out = out[:, n_virtual + width :]
    return out
