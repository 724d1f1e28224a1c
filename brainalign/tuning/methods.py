"""What is trained: soft prompts (PEFT prompt tuning), every weight (full fine-tuning) or
low-rank adapters (LoRA).

Prompt tuning (Lester et al. 2021) learns ``num_virtual_tokens`` input embeddings that
PEFT prepends to the token embeddings of every input; the backbone stays frozen. Full
fine-tuning trains every parameter. LoRA (:mod:`brainalign.tuning.lora`) learns low-rank
updates of the attention weights. All go through the same training loop
(:mod:`brainalign.tuning.loop`); this module only decides what is trainable, and saves
and reloads the result. Besides the tuned methods it loads the untuned ``base`` model and
its untrained twin ``random`` (:mod:`brainalign.models.untrained`).

Checkpoint layout (``results/checkpoints/{model}/{task}/{method}/``):

- ``prompt``: ``adapter_model.safetensors`` (the soft prompt only, tensor
  ``prompt_embeddings`` of shape (num_virtual_tokens, hidden)), ``adapter_config.json``
  and PEFT's ``README.md``; the base model is not copied.
- ``lora``: PEFT's ``adapter_model.safetensors`` (the low-rank matrices) and
  ``adapter_config.json``; the base model is not copied.
- ``finetune``: ``model.safetensors``, ``config.json``, ``generation_config.json`` and
  the tokenizer files, i.e. a folder :func:`brainalign.models.language.load_causal_lm`
  loads.
- all: ``tuning.json``, the settings that produced the checkpoint (plus ``method``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from brainalign.errors import ConfigError, DataError
from brainalign.io import sha256_file, temporary_sibling
from brainalign.models.language import _apply_default_permissions, _move_into_place, load_causal_lm, model_identity
from brainalign.models.untrained import RANDOM_METHOD, untrained_copy
from brainalign.tuning.lora import LORA_METHOD, attach_lora, is_lora_model, load_lora_merged

logger = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("prompt", "finetune", LORA_METHOD)

#: Methods :func:`load_tuned` accepts: the tuned ones, the untuned base model and its untrained twin.
LOADABLE_METHODS: tuple[str, ...] = ("base", RANDOM_METHOD, *METHODS)

#: Methods whose checkpoint is a PEFT adapter on the (uncopied) base model.
ADAPTER_METHODS: tuple[str, ...] = ("prompt", LORA_METHOD)

TUNING_FILE = "tuning.json"


def _check_method(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise ConfigError(f"unknown tuning method {method!r}; choose one of {', '.join(allowed)}")


def is_prompt_model(model: Any) -> bool:
    """Whether ``model`` is a PEFT model whose active adapter is a prompt-learning one."""
    config = getattr(model, "active_peft_config", None)
    return bool(getattr(config, "is_prompt_learning", False)) and hasattr(model, "get_prompt")


def trainable_parameter_names(model: Any) -> list[str]:
    """Names of the parameters with ``requires_grad``, in ``named_parameters`` order."""
    return [name for name, p in model.named_parameters() if p.requires_grad]


def prepare_for_tuning(
    model: Any,
    tokenizer: Any,
    method: str,
    *,
    num_virtual_tokens: int = 20,
    init_text: str | None = None,
    lora: Mapping[str, Any] | None = None,
) -> Any:
    """Make exactly the parameters of ``method`` trainable.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A causal LM from :func:`~brainalign.models.language.load_causal_lm`. For
        ``finetune`` it is modified in place and returned; for ``prompt`` it becomes the
        backbone of the returned PEFT model and PEFT freezes its parameters in place.
    tokenizer : transformers tokenizer
        The model's tokenizer. PEFT's TEXT initialisation loads a tokenizer by name, so
        its ``name_or_path`` (the base model's folder or hub id) is what PEFT receives.
    method : {"prompt", "finetune", "lora"}
    num_virtual_tokens : int
        Soft-prompt length (prompt only).
    init_text : str
        Text whose token embeddings initialise the soft prompt (prompt only; PEFT cuts
        it to ``num_virtual_tokens`` tokens or repeats it to fill them).
    lora : mapping, optional
        ``rank``, ``alpha``, ``dropout``, ``target_modules`` of
        :func:`~brainalign.tuning.lora.attach_lora` (lora only).

    Returns
    -------
    torch.nn.Module
        ``prompt`` and ``lora``: a ``peft.PeftModelForCausalLM``; ``finetune``: ``model``.
        In training mode.

    Raises
    ------
    ConfigError
        Unknown method, ``num_virtual_tokens`` < 1, or an ``init_text`` without tokens.
    RuntimeError
        The trainable set is not what the method promises (a frozen backbone for
        ``prompt``, every parameter for ``finetune``).
    """
    _check_method(method, METHODS)
    if method == "finetune":
        for p in model.parameters():
            p.requires_grad_(True)
        frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
        if frozen:
            raise RuntimeError(f"fine-tuning: parameters {frozen[:5]} are not trainable")
        model.train()
        return model
    if method == LORA_METHOD:
        settings = dict(lora or {})
        return attach_lora(
            model, rank=settings.get("rank", 8), alpha=settings.get("alpha", 16), dropout=settings.get("dropout", 0.0),
            target_modules=settings.get("target_modules"), causal_lm=True,
        )

    from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

    if isinstance(num_virtual_tokens, bool) or not isinstance(num_virtual_tokens, int) or num_virtual_tokens < 1:
        raise ConfigError(f"num_virtual_tokens must be a positive integer, got {num_virtual_tokens!r}")
    if not init_text or not tokenizer(init_text, add_special_tokens=False)["input_ids"]:
        # PEFT repeats the text's tokens to fill the prompt and divides by their count.
        raise ConfigError(
            f"prompt tuning init_text {init_text!r} has no tokens; give a task description "
            "(config: tasks.<task>.prompt_init_text)"
        )
    source = getattr(tokenizer, "name_or_path", None)
    if not source:
        raise ConfigError("the tokenizer has no name_or_path; PEFT's TEXT initialisation needs one to load it")
    config = PromptTuningConfig(
        task_type=TaskType.CAUSAL_LM,
        num_virtual_tokens=num_virtual_tokens,
        prompt_tuning_init=PromptTuningInit.TEXT,
        prompt_tuning_init_text=init_text,
        tokenizer_name_or_path=str(source),
    )
    peft_model = get_peft_model(model, config)
    trainable = trainable_parameter_names(peft_model)
    leaking = [name for name in trainable if not name.startswith("prompt_encoder.")]
    if leaking or not trainable:
        raise RuntimeError(
            f"prompt tuning must train the soft prompt only; trainable: {trainable[:5]}"
            + (f" (backbone parameters {leaking[:5]} are not frozen)" if leaking else "")
        )
    peft_model.train()
    return peft_model


def soft_prompt(model: Any) -> Any | None:
    """The soft prompt a PEFT prompt-tuned model prepends, or None for a plain model.

    Returns
    -------
    torch.Tensor or None
        Shape (num_virtual_tokens, hidden_size), detached, on the model's device; taken
        with PEFT's own accessor (``get_prompt``), so it is exactly what the model
        prepends to the token embeddings.
    """
    if not is_prompt_model(model):
        return None
    import torch

    with torch.no_grad():
        return model.get_prompt(batch_size=1)[0].detach().clone()


def save_checkpoint(
    model: Any, out_dir: str | os.PathLike, method: str, *, settings: Mapping[str, Any], tokenizer: Any = None
) -> Path:
    """Save a tuned model (safetensors only) and its settings, atomically.

    Everything is written into a temporary sibling folder that is renamed to ``out_dir``
    at the end, so an interrupted save leaves no half-written checkpoint; an existing
    checkpoint at ``out_dir`` is replaced.

    Parameters
    ----------
    model : torch.nn.Module
        What :func:`prepare_for_tuning` returned (after training).
    out_dir : path-like
        Checkpoint folder (see the module docstring for its layout).
    method : {"prompt", "finetune", "lora"}
    settings : mapping
        JSON-serialisable settings that produced the checkpoint (steps, learning rate,
        seed, base model identity, ...), written to ``tuning.json``.
    tokenizer : transformers tokenizer, optional
        Saved with a ``finetune`` checkpoint, which must be loadable on its own; default:
        the tokenizer of the folder or hub id the model was loaded from.

    Returns
    -------
    Path
        ``out_dir``.
    """
    _check_method(method, METHODS)
    out_dir = Path(out_dir)
    if method == "prompt" and not is_prompt_model(model):
        raise ConfigError("method 'prompt' needs the PEFT model returned by prepare_for_tuning(..., 'prompt')")
    if method == LORA_METHOD and not is_lora_model(model):
        raise ConfigError("method 'lora' needs the PEFT model returned by prepare_for_tuning(..., 'lora')")
    if method == "finetune":
        if is_prompt_model(model) or is_lora_model(model):
            raise ConfigError("method 'finetune' got a PEFT model")
        if tokenizer is None:
            tokenizer = _source_tokenizer(model)
    with checkpoint_folder(out_dir, {"method": method, **dict(settings)}) as tmp_dir:
        model.save_pretrained(tmp_dir, safe_serialization=True)
        if method == "finetune":
            tokenizer.save_pretrained(tmp_dir)
        weights = "adapter_model.safetensors" if method in ADAPTER_METHODS else "model.safetensors"
        if not (tmp_dir / weights).is_file() or any(tmp_dir.glob("*.bin")):
            raise RuntimeError(f"save_pretrained did not write {weights} (or wrote .bin weights) in {tmp_dir}")
    logger.info("saved %s checkpoint to %s", method, out_dir)
    return out_dir


@contextlib.contextmanager
def checkpoint_folder(out_dir: str | os.PathLike, record: Mapping[str, Any]) -> Iterator[Path]:
    """A temporary sibling folder that becomes the checkpoint ``out_dir`` when the block succeeds.

    The caller writes the weights into the yielded folder; ``record`` (the method and the
    settings) is written to ``tuning.json`` after them, and the folder is renamed onto
    ``out_dir`` (replacing an old checkpoint) only then, so an interrupted save leaves no
    half-written checkpoint. On an error the folder is removed.

    Raises
    ------
    ConfigError
        ``record`` is not JSON-serialisable, or ``out_dir`` holds something that is not a
        checkpoint (no ``tuning.json``), which is never overwritten.
    """
    out_dir = Path(out_dir)
    try:
        text = json.dumps(dict(record), indent=2, sort_keys=True)
    except TypeError as exc:
        raise ConfigError(f"tuning settings must be JSON-serialisable ({exc})") from exc
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / TUNING_FILE).is_file():
        raise ConfigError(
            f"refusing to overwrite {out_dir}: it exists and is not a tuning checkpoint (no {TUNING_FILE})"
        )
    tmp_dir = temporary_sibling(out_dir, directory=True)
    try:
        yield tmp_dir
        (tmp_dir / TUNING_FILE).write_text(text + "\n", encoding="utf-8")
        _apply_default_permissions(tmp_dir)
        _move_into_place(tmp_dir, out_dir)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)


def adapter_identity(
    base_source: str | os.PathLike, checkpoint_dir: str | os.PathLike, method: str, files: Sequence[str]
) -> dict[str, str]:
    """Identity of a checkpoint that adds weights to an uncopied base model (cache keys).

    Returns
    -------
    dict[str, str]
        The base model's identity, ``method``, ``adapter`` (the folder) and
        ``adapter_sha256`` (of ``files`` and ``tuning.json`` in it).

    Raises
    ------
    DataError
        One of the files is missing.
    """
    paths = [Path(checkpoint_dir) / name for name in (*files, TUNING_FILE)]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise DataError(f"{method} checkpoint {checkpoint_dir} lacks {missing}; rerun the tuning rule")
    combined = "".join(f"{path.name}\t{sha256_file(path)}\n" for path in paths)
    return {
        **model_identity(base_source),
        "method": method,
        "adapter": os.fspath(checkpoint_dir),
        "adapter_sha256": hashlib.sha256(combined.encode()).hexdigest(),
    }


def _source_tokenizer(model: Any) -> Any:
    """The tokenizer saved alongside the weights ``model`` was loaded from."""
    from transformers import AutoTokenizer

    source = getattr(model, "name_or_path", None) or getattr(model.config, "_name_or_path", None)
    if not source:
        raise ConfigError("cannot tell where the model was loaded from; pass its tokenizer to save_checkpoint")
    return AutoTokenizer.from_pretrained(source)


def read_tuning_settings(checkpoint_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``tuning.json`` of a checkpoint (with its ``method``)."""
    path = Path(checkpoint_dir) / TUNING_FILE
    if not path.is_file():
        raise DataError(f"checkpoint {checkpoint_dir} has no {TUNING_FILE}; rerun the tuning rule that writes it")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); rerun the tuning rule") from exc
    if not isinstance(settings, dict):
        raise DataError(f"{path} does not hold a JSON object; rerun the tuning rule")
    return settings


def load_tuned(
    base_source: str | os.PathLike,
    checkpoint_dir: str | os.PathLike | None,
    method: str,
    *,
    device: str | Any | None = None,
    seed: int = 0,
) -> tuple[Any, Any]:
    """Load the model of a method: the base, its untrained twin, a fine-tuned copy, base +
    soft prompt or base + merged LoRA update.

    Parameters
    ----------
    base_source : str or path-like
        The base model (hub id or folder), as given to ``load_causal_lm``.
    checkpoint_dir : path-like or None
        Written by :func:`save_checkpoint`; ignored for ``base`` and ``random``.
    method : {"base", "random", "prompt", "finetune", "lora"}
    device : str or torch.device, optional
        Default: cuda when available, else cpu.
    seed : int
        Initialisation seed of ``random`` (the base model's architecture, untrained).

    Returns
    -------
    model, tokenizer
        In eval mode. ``prompt`` gives a ``peft.PeftModelForCausalLM`` (inference mode,
        nothing trainable); use :func:`soft_prompt` and
        :func:`brainalign.features.extract_features` on it. ``lora`` gives the base
        architecture with the update merged into its weights.

    Raises
    ------
    ConfigError
        Unknown method.
    DataError
        Missing checkpoint, or one written for another method.
    """
    _check_method(method, LOADABLE_METHODS)
    if method in ("base", RANDOM_METHOD):
        model, tokenizer = load_causal_lm(base_source, device=device)
        return (model if method == "base" else untrained_copy(model, seed=seed)), tokenizer
    if checkpoint_dir is None or not Path(checkpoint_dir).is_dir():
        raise DataError(f"{method} checkpoint {checkpoint_dir} not found; run the tuning rule that writes it")
    saved = read_tuning_settings(checkpoint_dir).get("method")
    if saved != method:
        raise DataError(f"checkpoint {checkpoint_dir} was written by method {saved!r}, not {method!r}")
    if method == "finetune":
        return load_causal_lm(checkpoint_dir, device=device)
    if method == LORA_METHOD:
        model, tokenizer = load_causal_lm(base_source, device=device)
        return load_lora_merged(model, checkpoint_dir), tokenizer

    adapter = Path(checkpoint_dir) / "adapter_model.safetensors"
    if not adapter.is_file():
        # PEFT would fall back to a pickled adapter_model.bin (torch.load): never.
        raise DataError(f"prompt checkpoint {checkpoint_dir} has no {adapter.name}; rerun the tuning rule")

    from peft import PeftModel

    model, tokenizer = load_causal_lm(base_source, device=device)
    try:
        peft_model = PeftModel.from_pretrained(model, os.fspath(checkpoint_dir), is_trainable=False)
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"prompt checkpoint {checkpoint_dir} could not be loaded ({type(exc).__name__}: {exc})"
        ) from exc
    peft_model.to(next(model.parameters()).device)
    # PEFT leaves the prompt embedding trainable even in inference mode; a reloaded
    # checkpoint is for evaluation and features only.
    peft_model.requires_grad_(False)
    peft_model.eval()
    return peft_model, tokenizer


def checkpoint_identity(
    base_source: str | os.PathLike, checkpoint_dir: str | os.PathLike | None, method: str, *, seed: int = 0
) -> dict[str, str]:
    """What a method's model is made of, for feature-store identities (cache keys).

    :func:`~brainalign.models.language.model_identity` cannot describe a prompt
    checkpoint (it holds no ``config.json``, only the adapter), hence this function.

    Returns
    -------
    dict[str, str]
        ``base``: the base model's identity; ``random``: the same plus the initialisation
        ``seed``; ``finetune``: the checkpoint folder's identity (weights, config and
        tokenizer hashed); ``prompt`` and ``lora``: the base model's identity plus
        ``adapter`` (the folder) and ``adapter_sha256`` (of the adapter weights and
        ``tuning.json``). Each with ``method``.
    """
    _check_method(method, LOADABLE_METHODS)
    if method == "base":
        return {**model_identity(base_source), "method": method}
    if method == RANDOM_METHOD:
        return {**model_identity(base_source), "method": method, "seed": str(seed)}
    if checkpoint_dir is None or not Path(checkpoint_dir).is_dir():
        raise DataError(f"{method} checkpoint {checkpoint_dir} not found; run the tuning rule that writes it")
    if method == "finetune":
        return {**model_identity(checkpoint_dir), "method": method}
    return adapter_identity(base_source, checkpoint_dir, method, ["adapter_model.safetensors"])
