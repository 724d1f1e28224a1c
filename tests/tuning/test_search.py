"""The learning-rate search of one tune job: the winner on validation, only its weights kept,
every candidate's curve recorded and gathered into tuning.csv."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.tuning.methods import read_tuning_settings
from brainalign.tuning.recipes import tune_on_task
from brainalign.tuning.search import Candidate, select_candidate
from brainalign.tuning.table import CURVE_COLUMNS, TUNING_COLUMNS, gather_tuning, write_tuning_tables

GRID = [1e-5, 3e-3]  # fine-tuning the tiny GPT-2 barely moves at 1e-5 in 8 steps; 3e-3 learns the copy task


def _candidate(rate, loss, accuracy=None):
    return Candidate(rate, pd.DataFrame(), loss, accuracy)


def test_selection_by_loss_and_by_accuracy_with_ties_to_loss_then_grid_order():
    losses = [_candidate(0.1, 2.0), _candidate(0.3, 1.5), _candidate(1.0, float("nan"))]
    assert select_candidate(losses, criterion="validation_loss") == 1  # a diverged (NaN) candidate never wins
    accuracies = [_candidate(0.1, 1.0, 0.8), _candidate(0.3, 0.9, 0.9), _candidate(1.0, 0.7, 0.9)]
    assert select_candidate(accuracies, criterion="validation_accuracy") == 2  # tie at 0.9 -> lower loss
    assert select_candidate([_candidate(0.1, 1.0), _candidate(0.3, 1.0)], criterion="validation_loss") == 0
    with pytest.raises(ConfigError):
        select_candidate(losses, criterion="validation_accuracy")  # text candidates carry no accuracy
    with pytest.raises(ConfigError):
        select_candidate([], criterion="validation_loss")


def _tune(tiny_dir, records, settings, folder, grid, method="finetune", **extra):
    tuning = {"steps": 8, "batch_size": 4, "eval_every": 4, "seed": 3, "learning_rates": list(grid), **extra}
    if method == "prompt":
        tuning.update(num_virtual_tokens=settings.num_virtual_tokens, init_text=settings.init_text)
    history = tune_on_task(
        tiny_dir, records(16), records(4, start=100), method=method, checkpoint_dir=folder / method,
        loss_path=folder / f"{method}.loss.csv", settings=tuning, progress=False,
    )
    return SimpleNamespace(history=history, checkpoint=folder / method, loss=folder / f"{method}.loss.csv")


@pytest.fixture(scope="module")
def searched(tiny_dir, records, settings, tmp_path_factory):
    """A grid of 2, and the winner's learning rate trained alone, on the tiny GPT-2."""
    root = tmp_path_factory.mktemp("search")
    both = _tune(tiny_dir, records, settings, root / "grid", GRID)
    winner = read_tuning_settings(both.checkpoint)["learning_rate"]
    alone = _tune(tiny_dir, records, settings, root / "alone", [winner])
    return SimpleNamespace(both=both, alone=alone, winner=winner)


def test_the_candidate_with_the_lower_validation_loss_wins_and_both_curves_are_recorded(searched):
    record = read_tuning_settings(searched.both.checkpoint)
    search = record["search"]
    assert record["learning_rates"] == GRID and search["criterion"] == "validation_loss"
    losses = {c["learning_rate"]: c["validation_loss"] for c in search["candidates"]}
    assert losses[3e-3] < losses[1e-5] - 0.5  # the two candidates really differ
    assert searched.winner == min(losses, key=losses.get) == search["selected_learning_rate"]
    assert [c["selected"] for c in search["candidates"]] == [rate == searched.winner for rate in GRID]
    for candidate in search["candidates"]:
        curve = candidate["curve"]
        assert curve["step"] == [0, 4, 8] and len(curve["validation_loss"]) == 3  # before training, every 4, last
        assert candidate["validation_loss"] == curve["validation_loss"][-1]  # no early stopping: the last weights
        assert candidate["best_validation_loss"] == min(curve["validation_loss"])
        assert candidate["steps"] == 8 and candidate["validation_accuracy"] is None
    # The loss CSV next to the checkpoint is the winner's curve.
    scored = pd.read_csv(searched.both.loss).dropna(subset=["validation_loss"])
    winner = next(c for c in search["candidates"] if c["selected"])
    assert np.allclose(scored["validation_loss"], winner["curve"]["validation_loss"])


def test_only_the_winners_weights_are_kept_and_they_are_those_of_training_it_alone(searched):
    weights = sorted(path.name for path in searched.both.checkpoint.rglob("*") if path.suffix in (".safetensors", ".bin"))
    assert weights == ["model.safetensors"]  # one model's weights
    assert sorted(p.name for p in searched.both.checkpoint.parent.iterdir()) == ["finetune", "finetune.loss.csv"]
    assert (searched.both.checkpoint / "model.safetensors").read_bytes() == (
        searched.alone.checkpoint / "model.safetensors"
    ).read_bytes()
    assert searched.both.loss.read_bytes() == searched.alone.loss.read_bytes()


def test_adafactor_trains_with_its_explicit_learning_rate(run):
    _, _, adafactor = run("finetune", seed=0, steps=20, log_path=None, optimizer="adafactor", learning_rate=3e-3)
    _, _, adamw = run("finetune", seed=0, steps=20, log_path=None, learning_rate=3e-3)
    scored = adafactor["validation_loss"].dropna()
    assert scored.iloc[-1] < scored.iloc[0] - 2  # it learns (10.8 -> about 7 nats)
    assert not np.allclose(scored, adamw["validation_loss"].dropna())  # and is not AdamW under another name
    with pytest.raises(ConfigError, match="optimizer"):
        run("finetune", seed=0, steps=1, log_path=None, optimizer="sgd")


def test_a_search_records_its_optimizer(tiny_dir, records, settings, tmp_path):
    result = _tune(tiny_dir, records, settings, tmp_path, [0.3], "prompt", optimizer="adafactor", steps=2, eval_every=2)
    record = read_tuning_settings(result.checkpoint)
    assert record["optimizer"] == record["search"]["optimizer"] == "adafactor"
    assert record["learning_rate"] == 0.3 and record["steps"] == 2


def test_epochs_set_the_steps_of_a_tune_job(tiny_dir, records, settings, tmp_path):
    # 16 training records in batches of 4: one epoch is 4 steps, so 1.5 epochs is 6.
    result = _tune(tiny_dir, records, settings, tmp_path, [3e-3], steps=None, epochs=1.5, eval_every=3)
    record = read_tuning_settings(result.checkpoint)
    assert record["steps"] == 6 and record["epochs"] == 1.5
    assert int(result.history["step"].max()) == 6


def test_vision_search_selects_on_validation_accuracy_then_loss(tmp_path):
    from brainalign.models.vision import build_tiny_vit
    from brainalign.tuning.vision_recipes import tune_vit_on_task

    def colours(n, seed):  # is the image mostly red, green or blue?
        rng = np.random.default_rng(seed)
        labels = np.arange(n) % 3
        images = rng.integers(0, 80, size=(n, 12, 12, 3)).astype(np.uint8)
        images[np.arange(n), :, :, labels] += 150
        return SimpleNamespace(images=images, labels=labels.astype(np.int64), class_names=["r", "g", "b"])

    vit = build_tiny_vit(tmp_path / "vit", num_labels=4, seed=0, image_size=16, patch_size=4, hidden_size=16,
                         num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
    settings = {"epochs": 2, "batch_size": 8, "eval_every": 6, "seed": 0, "learning_rates": [1e-5, 0.05]}
    tune_vit_on_task(vit, colours(48, 0), colours(12, 1), method="base", settings=settings,
                     checkpoint_dir=tmp_path / "base", loss_path=tmp_path / "base.loss.csv", progress=False)
    record = read_tuning_settings(tmp_path / "base")
    assert record["steps"] == 12  # 2 epochs of 48 // 8 batches
    candidates = record["search"]["candidates"]
    assert record["search"]["criterion"] == "validation_accuracy"
    assert all(0 <= c["validation_accuracy"] <= 1 for c in candidates)
    best = max(candidates, key=lambda c: (c["validation_accuracy"], -c["validation_loss"]))
    assert best["selected"] and record["learning_rate"] == best["learning_rate"] == 0.05
    assert best["validation_accuracy"] > max(c["validation_accuracy"] for c in candidates if not c["selected"])
    table, _ = gather_tuning([("vit", "colours", "base", tmp_path / "base")])
    assert table["validation_accuracy"].notna().all() and set(table["criterion"]) == {"validation_accuracy"}


def test_tuning_table_has_one_row_per_candidate_and_the_curves(searched, tmp_path):
    checkpoints = [("tiny", "copy", "finetune", searched.both.checkpoint), ("tiny", "copy2", "finetune", searched.alone.checkpoint)]
    table, curves = gather_tuning(checkpoints)
    assert list(table.columns) == list(TUNING_COLUMNS)
    assert list(table.columns)[:7] == ["model", "task", "method", "learning_rate", "selected", "best_validation_loss", "steps"]
    assert list(curves.columns) == list(CURVE_COLUMNS)
    assert len(table) == 3 and table.groupby("task")["selected"].sum().tolist() == [1, 1]
    rows = table[table["task"] == "copy"].set_index("learning_rate")
    assert rows.loc[searched.winner, "selected"] and rows.loc[searched.winner, "validation_loss"] == rows["validation_loss"].min()
    assert (table["steps"] == 8).all() and table["validation_accuracy"].isna().all()
    assert set(table["optimizer"]) == {"adamw"} and set(table["criterion"]) == {"validation_loss"}
    for rate, group in curves[curves["task"] == "copy"].groupby("learning_rate"):
        assert group["step"].tolist() == [0, 4, 8]
        assert math.isclose(group["validation_loss"].min(), rows.loc[rate, "best_validation_loss"])
    paths = [(tmp_path / f"a{i}.csv", tmp_path / f"b{i}.csv") for i in range(2)]
    for table_path, curves_path in paths:
        write_tuning_tables(*gather_tuning(checkpoints), table_path, curves_path)
    assert paths[0][0].read_bytes() == paths[1][0].read_bytes() and paths[0][1].read_bytes() == paths[1][1].read_bytes()
    read = pd.read_csv(paths[0][0])
    assert read["selected"].dtype == bool and len(read) == 3


def test_a_checkpoint_without_a_search_record_is_refused(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "tuning.json").write_text(json.dumps({"method": "prompt", "learning_rate": 0.3}))
    with pytest.raises(DataError, match="rerun its tune job"):
        gather_tuning([("tiny", "copy", "prompt", tmp_path / "old")])
