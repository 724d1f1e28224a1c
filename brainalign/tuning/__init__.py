"""Tuning a causal LM on a text task: soft prompts (PEFT prompt tuning) or full fine-tuning.

- :mod:`brainalign.tuning.data`: (prompt, target) records -> token batches, loss on targets only.
- :mod:`brainalign.tuning.methods`: what is trainable, checkpoints, reloading.
- :mod:`brainalign.tuning.loop`: the single training loop all methods share.
- :mod:`brainalign.tuning.grid`: the config of a fair contest (equal-size learning-rate
  grids, optimizers, budgets in epochs), checked when the workflow plans.
- :mod:`brainalign.tuning.search`: one tune job trains every candidate learning rate and
  keeps the winner on validation data.
- :mod:`brainalign.tuning.table`: every checkpoint's search gathered into ``tuning.csv``.

Importing this package is cheap; torch, transformers and peft load on first use.
"""

from brainalign.tuning.data import (
    IGNORE_INDEX,
    TokenizedExample,
    TrainingBatches,
    collate,
    evaluation_batches,
    max_training_length,
    tokenize_examples,
)
from brainalign.tuning.loop import LOSS_COLUMNS, train, validation_loss
from brainalign.tuning.methods import (
    LOADABLE_METHODS,
    METHODS,
    checkpoint_identity,
    is_prompt_model,
    load_tuned,
    prepare_for_tuning,
    read_tuning_settings,
    save_checkpoint,
    soft_prompt,
)

__all__ = [
    "IGNORE_INDEX",
    "LOADABLE_METHODS",
    "LOSS_COLUMNS",
    "METHODS",
    "TokenizedExample",
    "TrainingBatches",
    "checkpoint_identity",
    "collate",
    "evaluation_batches",
    "is_prompt_model",
    "load_tuned",
    "max_training_length",
    "prepare_for_tuning",
    "read_tuning_settings",
    "save_checkpoint",
    "soft_prompt",
    "tokenize_examples",
    "train",
    "validation_loss",
]
