"""The tuning config of a fair contest: equal-size grids, optimizers, budgets in epochs."""

from __future__ import annotations

import copy

import pytest

from brainalign.errors import ConfigError
from brainalign.tuning.grid import (
    budget_steps,
    check_equal_grids,
    check_tuning_config,
    learning_rate_grid,
    merge_task_tuning,
    optimizer_name,
    steps_for_epochs,
)

CONFIG = {
    "models": {"gpt": {"modality": "language"}, "vit": {"modality": "vision"}},
    "tasks": {"qa": {"kind": "qa"}, "digits": {"kind": "image_classification"}},
    "tuning": {
        "methods": ["prompt", "finetune"],
        "steps": 10,
        "epochs": None,
        "prompt": {"learning_rate": 0.03, "learning_rates": [0.01, 0.03]},
        "finetune": {"learning_rate": 5e-5, "learning_rates": [2e-5, 5e-5]},
        "lora": {"learning_rate": 1e-3},  # not in methods: its grid does not take part
        "vision": {
            "base": {"learning_rates": [1e-3, 3e-3]},
            "prompt": {"learning_rates": [1e-3, 3e-3]},
            "finetune": {"learning_rates": [1e-5, 3e-5]},
            "lora": {"learning_rate": 1e-3},
        },
    },
}


def test_a_single_learning_rate_is_a_grid_of_one_and_learning_rates_is_the_grid():
    assert learning_rate_grid({"learning_rate": 0.5}) == [0.5]
    assert learning_rate_grid({"learning_rate": 0.5, "learning_rates": [0.1, 0.2]}) == [0.1, 0.2]
    for bad in ({}, {"learning_rates": []}, {"learning_rates": [0.1, -1]}, {"learning_rates": [0.1, 0.1]},
                {"learning_rates": "0.1"}, {"learning_rate": float("nan")}):
        with pytest.raises(ConfigError, match="tuning.prompt"):
            learning_rate_grid(bad, key="tuning.prompt")


def test_equal_grids_pass_and_the_shipped_shape_plans():
    check_tuning_config(CONFIG)
    check_equal_grids({"a": [1.0], "b": [2.0]})


def test_grids_of_different_sizes_stop_with_every_key_named():
    config = copy.deepcopy(CONFIG)
    del config["tuning"]["finetune"]["learning_rates"]
    with pytest.raises(ConfigError) as error:
        check_tuning_config(config)
    message = str(error.value)
    assert "tuning.prompt.learning_rates (2 values)" in message
    assert "tuning.finetune.learning_rate (1 value)" in message
    assert "lora" not in message  # a method that is not tuned does not count


def test_vision_grids_include_the_linear_head_and_name_their_keys():
    config = copy.deepcopy(CONFIG)
    config["tuning"]["vision"]["base"] = {"learning_rates": [1e-3, 3e-3, 1e-2]}
    with pytest.raises(ConfigError, match=r"tuning\.vision\.base\.learning_rates \(3 values\)"):
        check_tuning_config(config)
    config["models"] = {"gpt": {"modality": "language"}}  # no vision model: tuning.vision is not planned
    check_tuning_config(config)


def test_a_task_override_replaces_the_shared_grid_and_is_named_when_it_breaks_the_match():
    config = copy.deepcopy(CONFIG)
    config["tasks"]["qa"]["tuning"] = {"prompt": {"learning_rate": 0.1}}
    merged = merge_task_tuning(config["tuning"], config["tasks"]["qa"]["tuning"], ["prompt", "finetune"])
    assert learning_rate_grid(merged["prompt"]) == [0.1]  # not the shared [0.01, 0.03]
    assert learning_rate_grid(merged["finetune"]) == [2e-5, 5e-5]
    with pytest.raises(ConfigError, match=r"tasks\.qa\.tuning\.prompt\.learning_rate \(1 value\)"):
        check_tuning_config(config)
    config["tasks"]["qa"]["tuning"] = {"prompt": {"learning_rates": [0.1, 0.3]}, "steps": 5}
    check_tuning_config(config)
    merged = merge_task_tuning({**config["tuning"], "epochs": 1}, config["tasks"]["qa"]["tuning"], ["prompt"])
    assert merged["steps"] == 5 and merged["epochs"] is None  # a task's steps replace a shared epochs


def test_optimizers_are_adamw_by_default_or_adafactor():
    assert optimizer_name({}) == "adamw"
    assert optimizer_name({"optimizer": "adafactor"}) == "adafactor"
    config = copy.deepcopy(CONFIG)
    config["tuning"]["vision"]["prompt"]["optimizer"] = "sgd"
    with pytest.raises(ConfigError, match=r"tuning\.vision\.prompt\.optimizer"):
        check_tuning_config(config)


@pytest.mark.parametrize(
    ("epochs", "n_train", "batch_size", "steps"),
    [
        (1, 55_000, 64, 859),  # MNIST's training digits less 5,000 for validation: 859 full batches
        (1, 45_000, 64, 703),  # CIFAR-10 likewise (703.125 -> the incomplete batch is dropped)
        (2, 100, 8, 24),
        (2.5, 100, 8, 30),  # fractional epochs round up: ceil(2.5 x 12)
        (0.1, 300, 10, 3),  # 0.1 x 30 is 3.0000000000000004 in floating point, still 3 steps
        (0.01, 100, 8, 1),  # at least one step
        (1, 5, 8, 1),  # fewer examples than a batch: one (incomplete) batch per epoch
    ],
)
def test_epochs_become_steps_of_full_batches(epochs, n_train, batch_size, steps):
    assert steps_for_epochs(epochs, n_train, batch_size) == steps


def test_the_budget_is_steps_or_epochs_never_both():
    assert budget_steps({"steps": 7, "batch_size": 4}, 100) == 7
    assert budget_steps({"epochs": 1, "batch_size": 4}, 100) == 25
    with pytest.raises(ConfigError, match="not both"):
        budget_steps({"steps": 7, "epochs": 1, "batch_size": 4}, 100)
    with pytest.raises(ConfigError, match="epochs"):
        steps_for_epochs(0, 100, 4)
