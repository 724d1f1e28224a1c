"""Image classification quality: held-out accuracy of base, prompt-tuned and fine-tuned ViTs.

:func:`classify` writes one row per test image (label, prediction, correct);
:func:`brainalign.evaluation.gather_task_scores` turns those files into ``accuracy`` rows
of ``results/tables/task_scores.csv`` (same long format as BERTScore, with a bootstrap CI
over images), and :func:`accuracy_pivot` into the paper's Table VI.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from brainalign.errors import ConfigError, DataError
from brainalign.evaluation import task_score_pivot
from brainalign.models.vision import image_size_of, preprocess_images

logger = logging.getLogger(__name__)

#: Columns of the per-example file written by the evaluate rule for image tasks.
IMAGE_EXAMPLE_COLUMNS: tuple[str, ...] = ("id", "label", "prediction", "correct")


def classify(model, images: np.ndarray, labels: np.ndarray, *, batch_size: int = 64) -> pd.DataFrame:
    """Predict the class of every image and compare with its label.

    Parameters
    ----------
    model : transformers.ViTForImageClassification
        With the task's head (from :func:`brainalign.tuning.vision.load_vision_tuned`).
    images : np.ndarray, uint8, shape (n, H, W, 3)
    labels : np.ndarray, int, shape (n,)
    batch_size : int

    Returns
    -------
    pandas.DataFrame
        :data:`IMAGE_EXAMPLE_COLUMNS`: ``id`` (row index in the split), ``label``,
        ``prediction`` (argmax of the logits), ``correct`` (1.0 or 0.0).
    """
    import torch

    labels = np.asarray(labels)
    if len(labels) != len(images) or len(labels) == 0:
        raise DataError(f"need one label per image and at least one image: {len(images)} images, {len(labels)} labels")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    n_classes = model.config.num_labels
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DataError(f"labels outside 0..{n_classes - 1}: the checkpoint's head does not match the task")
    size = image_size_of(model)
    device = next(model.parameters()).device
    predictions = np.empty(len(labels), dtype=np.int64)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(labels), batch_size):
                pixels = preprocess_images(images[start : start + batch_size], size).to(device)
                predictions[start : start + len(pixels)] = model(pixel_values=pixels).logits.argmax(-1).cpu().numpy()
    finally:
        model.train(was_training)
    return pd.DataFrame(
        {
            "id": np.arange(len(labels), dtype=np.int64),
            "label": labels.astype(np.int64),
            "prediction": predictions,
            "correct": (predictions == labels).astype(np.float64),
        },
        columns=list(IMAGE_EXAMPLE_COLUMNS),
    )


def accuracy_pivot(task_scores: pd.DataFrame, display_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Paper Table VI: accuracy per model x image task, one column per method.

    Parameters
    ----------
    task_scores : pandas.DataFrame
        The long task-score table (rows of other metrics are ignored).
    display_names : mapping task -> str, optional
        The name each dataset is shown under (e.g. that the CIFAR-10 slot holds a
        stand-in), added as column ``dataset``.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, task, [dataset,] base, prompt, finetune``; empty (with the
        columns) when there are no accuracy rows.
    """
    if not (task_scores["metric"] == "accuracy").any():
        columns = ["model", "task", *(["dataset"] if display_names is not None else []), "base", "prompt", "finetune"]
        return pd.DataFrame(columns=columns)
    pivot = task_score_pivot(task_scores, metric="accuracy")
    if display_names is not None:
        missing = sorted(set(pivot["task"]) - set(display_names))
        if missing:
            raise DataError(f"accuracy_pivot: no display name for the tasks {missing}")
        pivot.insert(2, "dataset", pivot["task"].map(dict(display_names)))
    return pivot
