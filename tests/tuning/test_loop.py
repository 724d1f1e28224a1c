"""The shared training loop: it learns, logs, is reproducible, stops early correctly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from brainalign.errors import ConfigError, DataError
from brainalign.tuning import LOSS_COLUMNS, save_checkpoint, train, validation_loss


@pytest.mark.parametrize("method", ["prompt", "finetune"])
def test_training_lowers_validation_loss_and_writes_the_loss_csv(trained, method) -> None:
    run = trained[method]
    frame = run.frame
    assert list(frame.columns) == list(LOSS_COLUMNS)
    assert frame["step"].tolist() == list(range(31))
    scored = frame.dropna(subset=["validation_loss"])
    assert scored["step"].tolist() == [0, 10, 20, 30]
    first, last = scored["validation_loss"].iloc[0], scored["validation_loss"].iloc[-1]
    # A random tiny backbone has nearly uniform outputs that a soft prompt alone can
    # only nudge; fine-tuning learns the copy task fast.
    assert last < first - (1e-3 if method == "prompt" else 1.0)
    assert frame["train_loss"].iloc[1:].notna().all() and math.isnan(frame["train_loss"].iloc[0])
    on_disk = pd.read_csv(run.log_path)
    pd.testing.assert_frame_equal(on_disk, frame, check_exact=False, rtol=1e-12)
    assert not list(run.log_path.parent.glob(".*"))  # the atomic write left no temporary file
    # The model is left in eval mode with the final parameters scored at the last step.
    assert not run.model.training


@pytest.mark.parametrize("method", ["prompt", "finetune"])
def test_same_seed_same_curve_and_bytes_other_seed_differs(run, tmp_path, settings, method) -> None:
    outcomes = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        model, tokenizer, frame = run(
            method, seed=seed, steps=3, log_path=tmp_path / f"{name}.csv", eval_every=3, warmup_steps=2
        )
        ckpt = save_checkpoint(model, tmp_path / name, method, settings={"seed": seed}, tokenizer=tokenizer)
        weights = ckpt / ("adapter_model.safetensors" if method == "prompt" else "model.safetensors")
        outcomes.append((frame, (tmp_path / f"{name}.csv").read_bytes(), weights.read_bytes()))
    (fa, csv_a, wa), (fb, csv_b, wb), (fc, _, wc) = outcomes
    pd.testing.assert_frame_equal(fa, fb, check_exact=True)
    assert csv_a == csv_b
    assert wa == wb
    assert not np.array_equal(fa["train_loss"].to_numpy()[1:], fc["train_loss"].to_numpy()[1:])
    assert wa != wc
    # Linear warm-up over 2 steps, then constant.
    rate = settings.learning_rates[method]
    np.testing.assert_allclose(fa["learning_rate"].iloc[1:], [rate / 2, rate, rate])


def test_early_stopping_restores_the_best_parameters(prepared, batches, tiny_dir) -> None:
    from brainalign.models.language import load_causal_lm, pad_token_id
    from brainalign.tuning import evaluation_batches, tokenize_examples

    model, tokenizer = prepared("finetune")
    train_batches, _ = batches(model, tokenizer, "finetune", seed=0)
    # Validation asks for words that training never shows, so a fast learning rate
    # makes its loss rise from the first step on: the best state is the initial one.
    other = [{"id": f"v{i}", "prompt": "Say:", "target": "quantum zebra jazz"} for i in range(4)]
    validation = evaluation_batches(
        tokenize_examples(other, tokenizer, max_length=60), batch_size=4, pad_id=pad_token_id(tokenizer)
    )
    frame = train(
        model, train_batches, validation, steps=20, learning_rate=1e-2, seed=0, eval_every=1,
        log_path=None, early_stopping_patience=2, progress=False,
    )
    assert frame.attrs["stopped_early"]
    assert frame.attrs["best_step"] == 0
    assert frame["step"].iloc[-1] == 2  # two scores without improvement, then stop
    assert (frame["validation_loss"].iloc[1:] > frame["validation_loss"].iloc[0]).all()
    initial, _ = load_causal_lm(tiny_dir, device="cpu")
    for (name, p), q in zip(model.named_parameters(), initial.parameters()):
        assert torch.equal(p, q), name  # restored
    assert validation_loss(model, validation) == frame.attrs["best_validation_loss"]


def test_only_trainable_parameters_move_and_finite_batches_cycle(prepared, batches) -> None:
    model, tokenizer = prepared("prompt")
    train_batches, validation = batches(model, tokenizer, "prompt", seed=0)
    two = [next(iter(train_batches))] * 2  # a finite list, cycled
    backbone = {n: p.detach().clone() for n, p in model.get_base_model().named_parameters()}
    frame = train(
        model, two, validation, steps=3, learning_rate=0.1, seed=0, eval_every=3, log_path=None, progress=False
    )
    assert len(frame) == 4 and frame["train_loss"].iloc[1:].notna().all()
    for name, p in model.get_base_model().named_parameters():
        assert torch.equal(p, backbone[name]), name


def test_bad_budgets_are_refused(prepared, batches) -> None:
    model, tokenizer = prepared("prompt")
    train_batches, validation = batches(model, tokenizer, "prompt", seed=0)
    common = dict(seed=0, log_path=None, progress=False)
    with pytest.raises(ConfigError, match="steps"):
        train(model, train_batches, validation, steps=0, learning_rate=0.1, eval_every=1, **common)
    with pytest.raises(ConfigError, match="learning_rate"):
        train(model, train_batches, validation, steps=1, learning_rate=-1.0, eval_every=1, **common)
    with pytest.raises(ConfigError, match="eval_every"):
        train(model, train_batches, validation, steps=1, learning_rate=0.1, eval_every=0, **common)
    with pytest.raises(DataError, match="validation"):
        train(model, train_batches, [], steps=1, learning_rate=0.1, eval_every=1, **common)
    frozen, _ = prepared("prompt")
    frozen.requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable"):
        train(frozen, train_batches, validation, steps=1, learning_rate=0.1, eval_every=1, **common)
