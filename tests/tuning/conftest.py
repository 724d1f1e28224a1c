"""Shared fixtures of the tuning tests: a tiny GPT-2, a tiny repetitive copy task, training runs.

(pytest runs with ``--import-mode=importlib``, so test modules cannot import from here;
everything they share is a fixture.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from brainalign.models.language import build_tiny_gpt2, load_causal_lm, pad_token_id
from brainalign.tuning import (
    TrainingBatches,
    evaluation_batches,
    max_training_length,
    prepare_for_tuning,
    tokenize_examples,
    train,
)

ANIMALS = ["cat", "dog", "fox", "owl", "bee", "cow", "pig", "hen"]
PLACES = ["mat", "rug", "bed", "box"]

#: The matched budget: the methods share everything but the learning rate.
SETTINGS = SimpleNamespace(
    num_virtual_tokens=4,
    init_text="Copy the sentence",
    lora={"rank": 4, "alpha": 8, "dropout": 0.0, "target_modules": None},
    learning_rates={"prompt": 0.3, "finetune": 3e-3, "lora": 1e-2},
    batch_size=4,
)


def copy_records(n: int, start: int = 0) -> list[dict[str, str]]:
    """``n`` records of a copy task: the target repeats the sentence of the prompt."""
    records = []
    for i in range(start, start + n):
        sentence = f"the {ANIMALS[i % len(ANIMALS)]} sat on the {PLACES[i % len(PLACES)]}"
        records.append({"id": f"ex{i}", "prompt": f"Copy: {sentence}.", "target": sentence})
    return records


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run on one torch thread, then restore the caller's setting.

    The tiny model's operations are too small to split across threads: on a busy
    two-core machine the thread hand-offs made a training step ~10x slower.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    # Module scope, so the setting does not leak into other test directories. Session
    # fixtures are set up before this one and enter one_torch_thread themselves.
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def settings() -> SimpleNamespace:
    return SETTINGS


@pytest.fixture(scope="session")
def records() -> Callable[..., list[dict[str, str]]]:
    return copy_records


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gpt2(
        tmp_path_factory.mktemp("tuning") / "gpt2", n_layer=2, n_embd=32, n_head=2, n_positions=64, seed=0
    )


@pytest.fixture(scope="session")
def prepared(tiny_dir: Path) -> Callable[[str], tuple[Any, Any]]:
    """``prepared(method) -> (model, tokenizer)``: a fresh tiny model made ready for ``method``."""

    def make(method: str) -> tuple[Any, Any]:
        model, tokenizer = load_causal_lm(tiny_dir, device="cpu")
        model = prepare_for_tuning(
            model, tokenizer, method, num_virtual_tokens=SETTINGS.num_virtual_tokens, init_text=SETTINGS.init_text,
            lora=SETTINGS.lora,
        )
        return model, tokenizer

    return make


def make_batches(model: Any, tokenizer: Any, method: str, *, seed: int) -> tuple[TrainingBatches, list[dict]]:
    n_virtual = SETTINGS.num_virtual_tokens if method == "prompt" else 0
    max_length = max_training_length(model, n_virtual)
    pad = pad_token_id(tokenizer)
    train_examples = tokenize_examples(copy_records(24), tokenizer, max_length=max_length)
    validation_examples = tokenize_examples(
        copy_records(8, start=100), tokenizer, max_length=max_length, split="validation"
    )
    return (
        TrainingBatches(train_examples, batch_size=SETTINGS.batch_size, pad_id=pad, seed=seed),
        evaluation_batches(validation_examples, batch_size=8, pad_id=pad),
    )


@pytest.fixture(scope="session")
def batches() -> Callable[..., tuple[TrainingBatches, list[dict]]]:
    return make_batches


@pytest.fixture(scope="session")
def run(prepared) -> Callable[..., tuple[Any, Any, Any]]:
    """``run(method, *, seed, steps, log_path, **train_options) -> (model, tokenizer, loss frame)``."""

    def go(method: str, *, seed: int, steps: int, log_path: Path | None, **options: Any):
        model, tokenizer = prepared(method)
        train_batches, validation_batches = make_batches(model, tokenizer, method, seed=seed)
        options.setdefault("learning_rate", SETTINGS.learning_rates[method])
        options.setdefault("eval_every", 10)
        frame = train(
            model, train_batches, validation_batches, steps=steps, seed=seed, log_path=log_path, progress=False,
            **options,
        )
        return model, tokenizer, frame

    return go


@pytest.fixture(scope="session")
def trained(run, tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimpleNamespace]:
    """Every method trained 30 steps with seed 0 (shared: training is the slow part)."""
    out = {}
    for method in ("prompt", "finetune", "lora"):
        log_path = tmp_path_factory.mktemp(f"trained-{method}") / "loss.csv"
        with one_torch_thread():
            model, tokenizer, frame = run(method, seed=0, steps=30, log_path=log_path)
        out[method] = SimpleNamespace(model=model, tokenizer=tokenizer, frame=frame, log_path=log_path)
    return out
