"""LoRA (Hu et al. 2022) through PEFT: the third tuning arm, for text and vision models.

LoRA freezes every pre-trained weight and learns, for chosen linear layers ``W`` (d_out x
d_in), a low-rank update ``W + (alpha / r) B A`` with ``A`` (r x d_in) and ``B`` (d_out x r),
``B`` starting at zero (so training starts from the pre-trained model). Which layers:
``target_modules``, by default the attention projections of the architecture (GPT-2: the
fused query/key/value ``c_attn``, as PEFT chooses; ViT: the query and value projections
``q_proj`` and ``v_proj``, the LoRA paper's choice). A ViT also trains its new
classification head (``modules_to_save``).

A LoRA checkpoint is PEFT's adapter folder (``adapter_model.safetensors``,
``adapter_config.json``). Loading merges the update into the weights
(:func:`load_lora_merged`), so features and generation see an ordinary model of the base
architecture.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brainalign.errors import ConfigError, DataError

LORA_METHOD = "lora"
ADAPTER_WEIGHTS = "adapter_model.safetensors"

#: Default target modules per ``config.model_type`` where PEFT has none (ViT).
DEFAULT_TARGET_MODULES: dict[str, list[str]] = {"vit": ["q_proj", "v_proj"]}


def is_lora_model(model: Any) -> bool:
    """Whether ``model`` is a PEFT model whose active adapter is a LoRA one."""
    config = getattr(model, "active_peft_config", None)
    return getattr(getattr(config, "peft_type", None), "value", None) == "LORA"


def attach_lora(
    model: Any,
    *,
    rank: int,
    alpha: float,
    dropout: float = 0.0,
    target_modules: Sequence[str] | None = None,
    modules_to_save: Sequence[str] | None = None,
    causal_lm: bool = False,
) -> Any:
    """Wrap ``model`` with LoRA adapters; only the adapters (and ``modules_to_save``) train.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A causal LM or a ViT classifier; PEFT freezes its weights in place.
    rank, alpha, dropout : int, float, float
        LoRA's ``r``, ``lora_alpha`` (the update is scaled by ``alpha / rank``) and the
        dropout on the adapters' input.
    target_modules : sequence of str, optional
        Names of the linear layers to adapt; default :data:`DEFAULT_TARGET_MODULES` or
        PEFT's choice for the architecture.
    modules_to_save : sequence of str, optional
        Modules trained in full and saved with the adapter (a ViT's ``classifier``).
    causal_lm : bool
        A causal LM (PEFT task type ``CAUSAL_LM``).

    Returns
    -------
    peft.PeftModel
        In training mode.

    Raises
    ------
    ConfigError
        A rank below 1, a non-positive alpha, a dropout outside [0, 1), or target modules
        the model does not have.
    RuntimeError
        Anything but the adapters and ``modules_to_save`` is trainable.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ConfigError(f"LoRA rank must be a positive integer, got {rank!r} (config: tuning.lora.rank)")
    if not alpha > 0:
        raise ConfigError(f"LoRA alpha must be positive, got {alpha!r} (config: tuning.lora.alpha)")
    if not 0 <= dropout < 1:
        raise ConfigError(f"LoRA dropout must be in [0, 1), got {dropout!r} (config: tuning.lora.dropout)")
    from transformers.pytorch_utils import Conv1D

    model_type = getattr(model.config, "model_type", None)
    targets = list(target_modules) if target_modules else DEFAULT_TARGET_MODULES.get(model_type)
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        # GPT-2 stores its linear layers transposed (Conv1D): PEFT needs to be told.
        fan_in_fan_out=any(isinstance(module, Conv1D) for module in model.modules()),
        modules_to_save=list(modules_to_save) if modules_to_save else None,
        task_type=TaskType.CAUSAL_LM if causal_lm else None,
    )
    try:
        peft_model = get_peft_model(model, config)
    except ValueError as exc:  # PEFT: target modules not found / no default for the architecture
        raise ConfigError(
            f"LoRA cannot adapt this {model_type!r} model ({exc}); set tuning.lora.target_modules to names "
            "of its linear layers"
        ) from exc
    saved = tuple(modules_to_save or ())
    trainable = [name for name, p in peft_model.named_parameters() if p.requires_grad]
    leaking = [name for name in trainable if "lora_" not in name and not any(f".{m}." in name for m in saved)]
    if leaking or not any("lora_" in name for name in trainable):
        raise RuntimeError(f"LoRA must train the adapters only; trainable: {trainable[:5]} (not adapters: {leaking[:5]})")
    peft_model.train()
    return peft_model


def load_lora_merged(model: Any, checkpoint_dir: str | os.PathLike) -> Any:
    """Load a LoRA adapter onto ``model`` and merge it into the weights.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The base model the adapter was trained on (for a ViT, already with a head of the
        task's size); modified in place.
    checkpoint_dir : path-like
        PEFT's adapter folder (:data:`ADAPTER_WEIGHTS` and ``adapter_config.json``).

    Returns
    -------
    transformers.PreTrainedModel
        The base architecture with ``W + (alpha / r) B A`` in place of every adapted ``W``
        (and the trained ``modules_to_save``); eval mode, nothing trainable.

    Raises
    ------
    DataError
        No safetensors adapter (PEFT would fall back to unpickling ``adapter_model.bin``:
        never), or an adapter that does not fit ``model``.
    """
    from peft import PeftModel

    if not (Path(checkpoint_dir) / ADAPTER_WEIGHTS).is_file():
        raise DataError(f"LoRA checkpoint {checkpoint_dir} has no {ADAPTER_WEIGHTS}; rerun the tuning rule")
    try:
        peft_model = PeftModel.from_pretrained(model, os.fspath(checkpoint_dir), is_trainable=False)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise DataError(f"LoRA checkpoint {checkpoint_dir} could not be loaded ({type(exc).__name__}: {exc})") from exc
    merged = peft_model.merge_and_unload()
    merged.requires_grad_(False)
    merged.eval()
    return merged
