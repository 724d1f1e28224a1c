"""Task quality of the text models (paper Table I): generation, BERTScore, task-score tables.

Stage 4 ("evaluate") of the workflow, in four modules:

- :mod:`brainalign.evaluation.generation` — greedy continuations of the test prompts by
  the base, prompt-tuned, fine-tuned (and LoRA) GPT-2;
- :mod:`brainalign.evaluation.bertscore` — BERTScore P/R/F1 of the generations against
  the references, and bert-score's baseline rescaling;
- :mod:`brainalign.evaluation.scorers` — which scorer scores which task (a model for the
  language of its references), its layer, validity and baseline;
- :mod:`brainalign.evaluation.task_scores` — the per-example table, the long
  ``task_scores.csv`` and paper Table I.

Image classification accuracy (paper Table VI): :mod:`brainalign.image_evaluation`.
"""

from brainalign.evaluation.bertscore import (
    DEFAULT_SCORER_NUM_LAYERS,
    DEFAULT_SCORER_PACKAGE,
    DEFAULT_SCORER_SUBDIR,
    baseline_scores,
    bertscore,
    default_scorer_path,
    rescale,
)
from brainalign.evaluation.generation import generate
from brainalign.evaluation.scorers import (
    Scorer,
    ScorerSettings,
    language_default_scorer,
    resolve_scorer,
    task_language,
    task_scorer_settings,
)
from brainalign.evaluation.task_scores import (
    ACCURACY_METRICS,
    PER_EXAMPLE_COLUMNS,
    RESCALED_METRICS,
    SCORER_COLUMNS,
    SUMMARY_COLUMNS,
    SUMMARY_METRICS,
    bertscore_table,
    evaluate_generations,
    gather_task_scores,
    summarise_scores,
    task_score_pivot,
)

__all__ = [
    "ACCURACY_METRICS",
    "DEFAULT_SCORER_NUM_LAYERS",
    "DEFAULT_SCORER_PACKAGE",
    "DEFAULT_SCORER_SUBDIR",
    "PER_EXAMPLE_COLUMNS",
    "RESCALED_METRICS",
    "SCORER_COLUMNS",
    "SUMMARY_COLUMNS",
    "SUMMARY_METRICS",
    "Scorer",
    "ScorerSettings",
    "baseline_scores",
    "bertscore",
    "bertscore_table",
    "default_scorer_path",
    "evaluate_generations",
    "gather_task_scores",
    "generate",
    "language_default_scorer",
    "rescale",
    "resolve_scorer",
    "summarise_scores",
    "task_language",
    "task_score_pivot",
    "task_scorer_settings",
]
