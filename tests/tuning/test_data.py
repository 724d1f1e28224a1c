"""Tokenising (prompt, target) records: loss on the target only, truncation, batching."""

from __future__ import annotations

import logging

import pytest
import torch

from brainalign.errors import ConfigError, DataError
from brainalign.models.language import load_causal_lm
from brainalign.tuning import (
    IGNORE_INDEX,
    TrainingBatches,
    collate,
    evaluation_batches,
    max_training_length,
    tokenize_examples,
)


@pytest.fixture(scope="module")
def lm(tiny_dir):
    return load_causal_lm(tiny_dir, device="cpu")


def test_training_text_is_prompt_space_target_eos_and_labels_mask_the_prompt(lm, records) -> None:
    _, tokenizer = lm
    record = records(1)[0]
    (example,) = tokenize_examples([record], tokenizer, max_length=64)
    n_prompt = len(tokenizer(record["prompt"])["input_ids"])
    assert tokenizer.decode(list(example.input_ids)) == record["prompt"] + " " + record["target"] + tokenizer.eos_token
    assert example.labels[:n_prompt] == (IGNORE_INDEX,) * n_prompt
    assert example.labels[n_prompt:] == example.input_ids[n_prompt:]
    assert example.input_ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(list(example.input_ids[n_prompt:])) == " " + record["target"] + tokenizer.eos_token
    assert not example.truncated


def test_model_loss_covers_target_tokens_only(tiny_dir, records) -> None:
    model, tokenizer = load_causal_lm(tiny_dir, device="cpu")
    with torch.no_grad():
        # Sharpen the (tied) output layer so that per-token losses differ widely and a
        # loss over the wrong tokens cannot pass for the right one.
        model.get_input_embeddings().weight.mul_(50.0)
    examples = tokenize_examples(records(3), tokenizer, max_length=64)
    batch = collate(examples, tokenizer.eos_token_id)
    with torch.no_grad():
        output = model(**batch)
    # By hand: position t predicts token t+1; only target (and eos) tokens are scored.
    logits, targets = output.logits[:, :-1], batch["input_ids"][:, 1:]
    scored = batch["labels"][:, 1:] != IGNORE_INDEX
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    torch.testing.assert_close(output.loss, nll[scored].mean(), rtol=1e-5, atol=1e-6)
    n_target = [len(tokenizer(" " + r["target"])["input_ids"]) + 1 for r in records(3)]
    assert scored.sum(dim=1).tolist() == n_target
    # Scoring the prompt tokens too gives another loss: the mask matters.
    assert abs(float(nll[batch["attention_mask"][:, 1:].bool()].mean()) - float(output.loss)) > 0.1


def test_long_prompts_are_truncated_from_the_left_with_a_counted_warning(lm, caplog) -> None:
    _, tokenizer = lm
    long_prompt = "Copy: " + "one two three four five six seven eight nine ten " * 3 + "the cat sat."
    records = [
        {"id": "a", "prompt": long_prompt, "target": "the cat sat"},
        {"id": "b", "prompt": "Copy: the dog.", "target": "the dog"},
        {"id": "c", "prompt": long_prompt + " again", "target": "the cat sat again"},
    ]
    max_length = 16
    with caplog.at_level(logging.WARNING, logger="brainalign"):
        examples = tokenize_examples(records, tokenizer, max_length=max_length)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2 of 3" in warnings[0].getMessage()
    assert [e.truncated for e in examples] == [True, False, True]
    for example, record in zip(examples, records):
        target_ids = tokenizer(" " + record["target"])["input_ids"] + [tokenizer.eos_token_id]
        prompt_ids = tokenizer(record["prompt"])["input_ids"]
        assert list(example.input_ids[-len(target_ids):]) == target_ids  # the target survives whole
        kept = list(example.input_ids[: -len(target_ids)])
        assert kept == prompt_ids[len(prompt_ids) - len(kept):]  # the prompt's end is kept
        assert len(example.input_ids) <= max_length
        assert example.labels.count(IGNORE_INDEX) == len(kept)
    assert len(examples[0].input_ids) == max_length


def test_target_that_cannot_fit_is_an_error_naming_the_example(lm) -> None:
    _, tokenizer = lm
    records = [
        {"id": "fine", "prompt": "Copy:", "target": "a b"},
        {"id": "too-long", "prompt": "Copy:", "target": "a b c d e f g h i j"},
    ]
    with pytest.raises(DataError, match="too-long"):
        tokenize_examples(records, tokenizer, max_length=8)


def test_empty_split_is_an_error(lm) -> None:
    _, tokenizer = lm
    with pytest.raises(DataError, match="no examples"):
        tokenize_examples([], tokenizer, max_length=64)


def test_max_length_leaves_room_for_the_virtual_tokens(lm) -> None:
    model, _ = lm
    assert max_training_length(model) == 64
    assert max_training_length(model, 4) == 60
    with pytest.raises(ConfigError):
        max_training_length(model, 63)


def test_collate_right_pads_with_masks(lm, records) -> None:
    _, tokenizer = lm
    examples = tokenize_examples([records(1)[0], {"id": "s", "prompt": "Hi", "target": "yo"}], tokenizer, max_length=64)
    batch = collate(examples, pad_id=tokenizer.eos_token_id)
    n_long, n_short = len(examples[0].input_ids), len(examples[1].input_ids)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape == (2, n_long)
    assert batch["attention_mask"][1].tolist() == [1] * n_short + [0] * (n_long - n_short)
    assert batch["labels"][1, n_short:].eq(IGNORE_INDEX).all()
    assert batch["input_ids"][1, :n_short].tolist() == list(examples[1].input_ids)
    assert batch["input_ids"].dtype == torch.long


def test_training_batches_are_a_pure_function_of_the_seed(lm, records) -> None:
    _, tokenizer = lm
    examples = tokenize_examples(records(12), tokenizer, max_length=64)

    def first(stream: TrainingBatches, n: int) -> list[list[list[int]]]:
        it = iter(stream)
        return [next(it)["input_ids"].tolist() for _ in range(n)]

    a = TrainingBatches(examples, batch_size=4, pad_id=tokenizer.eos_token_id, seed=1)
    b = TrainingBatches(examples, batch_size=4, pad_id=tokenizer.eos_token_id, seed=1)
    c = TrainingBatches(examples, batch_size=4, pad_id=tokenizer.eos_token_id, seed=2)
    assert first(a, 7) == first(b, 7) == first(a, 7)  # restartable
    assert first(a, 7) != first(c, 7)
    # Every epoch visits each example once, in a new order.
    assert sorted(a.epoch_order(0)) == list(range(12)) == sorted(a.epoch_order(1))
    assert a.epoch_order(0) != a.epoch_order(1)


def test_evaluation_batches_keep_order_and_every_example(lm, records) -> None:
    _, tokenizer = lm
    examples = tokenize_examples(records(5), tokenizer, max_length=64)
    out = evaluation_batches(examples, batch_size=2, pad_id=tokenizer.eos_token_id)
    assert [len(b["input_ids"]) for b in out] == [2, 2, 1]
    assert out[2]["input_ids"][0].tolist()[: len(examples[4].input_ids)] == list(examples[4].input_ids)
    with pytest.raises(ConfigError):
        evaluation_batches(examples, batch_size=0, pad_id=0)
