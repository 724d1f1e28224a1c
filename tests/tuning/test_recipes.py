"""The tuning recipe the workflow runs: its checkpoint is a pure function of settings and seed."""

from __future__ import annotations

import pytest

from brainalign.tuning.recipes import tune_on_task


@pytest.mark.parametrize("method", ["prompt", "finetune"])
def test_same_seed_gives_identical_checkpoint_bytes_another_seed_does_not(tiny_dir, records, settings, tmp_path, method):
    weights = "adapter_model.safetensors" if method == "prompt" else "model.safetensors"
    outcomes = {}
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        tuning = {
            "steps": 3, "batch_size": 4, "eval_every": 3, "seed": seed,
            "learning_rate": settings.learning_rates[method],
        }
        if method == "prompt":
            tuning.update(num_virtual_tokens=settings.num_virtual_tokens, init_text=settings.init_text)
        checkpoint = tmp_path / name / method
        tune_on_task(
            tiny_dir, records(16), records(4, start=100), method=method, checkpoint_dir=checkpoint,
            loss_path=tmp_path / name / f"{method}.loss.csv", settings=tuning, progress=False,
        )
        outcomes[name] = ((checkpoint / weights).read_bytes(), (tmp_path / name / f"{method}.loss.csv").read_bytes())
    assert outcomes["a"] == outcomes["b"]
    assert outcomes["a"][0] != outcomes["c"][0] and outcomes["a"][1] != outcomes["c"][1]
