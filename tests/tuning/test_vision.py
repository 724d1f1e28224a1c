"""Vision tuning: matched batches, the shared loop learns, checkpoints round-trip, pre-training."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from brainalign.errors import ConfigError, DataError
from brainalign.models.synthetic_shapes import SHAPES, synthetic_shapes
from brainalign.models.vision import build_tiny_vit, load_vit, preprocess_images
from brainalign.models.visual_prompt import visual_prompt_of
from brainalign.tuning.loop import classification_objective, train, validation_loss
from brainalign.tuning.vision import (
    ImageBatches,
    image_evaluation_batches,
    load_vision_tuned,
    prepare_vit_for_tuning,
    save_vision_checkpoint,
    vision_checkpoint_identity,
)
from brainalign.tuning.vision_recipes import pretrain_vit, tune_vit_on_task

SIZES = dict(image_size=16, patch_size=4, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)


def colour_split(n: int, seed: int) -> SimpleNamespace:
    """A trivially learnable task: is the image mostly red, green or blue?"""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = rng.integers(0, 80, size=(n, 12, 12, 3)).astype(np.uint8)
    images[np.arange(n), :, :, labels] += 150
    return SimpleNamespace(images=images, labels=labels.astype(np.int64), class_names=["red", "green", "blue"])


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    return build_tiny_vit(tmp_path_factory.mktemp("vit") / "tiny", num_labels=4, seed=0, **SIZES)


SETTINGS = {"steps": 12, "batch_size": 8, "eval_every": 6, "seed": 0, "num_prompt_tokens": 2, "deep": True,
            "rank": 2, "alpha": 4, "dropout": 0.0, "target_modules": None}
RATES = {"base": 0.05, "prompt": 0.05, "finetune": 0.005, "lora": 0.05}


@pytest.fixture(scope="module")
def tuned(vit_dir, tmp_path_factory):
    """Each method tuned 12 steps on the colour task, with its checkpoint and loss curve."""
    out = {}
    root = tmp_path_factory.mktemp("tuned")
    for method in ("base", "prompt", "finetune", "lora"):
        settings = dict(SETTINGS, learning_rate=RATES[method])
        history = tune_vit_on_task(
            vit_dir, colour_split(48, 0), colour_split(12, 1), method=method, settings=settings,
            checkpoint_dir=root / method, loss_path=root / f"{method}.loss.csv", progress=False,
        )
        out[method] = SimpleNamespace(history=history, checkpoint=root / method, loss=root / f"{method}.loss.csv")
    return out


def test_image_batches_are_a_function_of_the_seed_and_preprocessed():
    split = colour_split(20, 0)
    first = ImageBatches(split.images, split.labels, batch_size=8, image_size=16, seed=3)
    batches = [b for _, b in zip(range(5), first)]
    assert all(b["pixel_values"].shape == (8, 3, 16, 16) and b["labels"].dtype == torch.int64 for b in batches)
    again = [b for _, b in zip(range(5), ImageBatches(split.images, split.labels, batch_size=8, image_size=16, seed=3))]
    other = [b for _, b in zip(range(5), ImageBatches(split.images, split.labels, batch_size=8, image_size=16, seed=4))]
    assert all(torch.equal(a["labels"], b["labels"]) for a, b in zip(batches, again))
    assert not all(torch.equal(a["labels"], b["labels"]) for a, b in zip(batches, other))
    # 20 images, batches of 8: two per epoch, the 4 left over rotate with the shuffle.
    epoch = torch.cat([b["labels"] for b in batches[:2]])
    assert len(epoch) == 16
    evaluation = image_evaluation_batches(split.images, split.labels, batch_size=8, image_size=16)
    assert [len(b["labels"]) for b in evaluation] == [8, 8, 4]
    torch.testing.assert_close(evaluation[0]["pixel_values"], preprocess_images(split.images[:8], 16))
    with pytest.raises(DataError, match="as many labels"):
        ImageBatches(split.images, split.labels[:3], batch_size=4, image_size=16, seed=0)


def test_every_method_learns_the_task_in_the_shared_loop(tuned):
    for method, run in tuned.items():
        scored = run.history["validation_loss"].dropna()
        assert scored.index.tolist() == [0, 6, 12]
        assert scored.iloc[-1] < scored.iloc[0] - 0.05, (method, scored.tolist())
        assert pd.read_csv(run.loss)["step"].max() == 12


def test_checkpoints_hold_what_each_method_trains_and_reload_exactly(vit_dir, tuned):
    files = {method: {p.name for p in run.checkpoint.iterdir()} for method, run in tuned.items()}
    assert files["base"] == {"head.safetensors", "tuning.json"}
    assert files["prompt"] == {"head.safetensors", "visual_prompt.safetensors", "tuning.json"}
    assert {"model.safetensors", "config.json", "tuning.json"} <= files["finetune"]
    assert {"adapter_model.safetensors", "adapter_config.json", "tuning.json"} <= files["lora"]
    assert "model.safetensors" not in files["lora"]
    saved = json.loads((tuned["prompt"].checkpoint / "tuning.json").read_text())
    assert saved["method"] == "prompt" and saved["num_labels"] == 3 and saved["num_prompt_tokens"] == 2 and saved["deep"]
    pixels = preprocess_images(colour_split(12, 1).images, 16)
    losses = {}
    for method, run in tuned.items():
        model = load_vision_tuned(vit_dir, run.checkpoint, method, device="cpu")
        assert not any(p.requires_grad for p in model.parameters()) and not model.training
        assert (visual_prompt_of(model) is not None) == (method == "prompt")
        batches = image_evaluation_batches(colour_split(12, 1).images, colour_split(12, 1).labels, batch_size=64, image_size=16)
        losses[method] = validation_loss(model, batches, classification_objective)
        # The reloaded model scores the validation split exactly as at the end of training
        # (LoRA: merged into the weights, equal up to float rounding).
        assert losses[method] == pytest.approx(run.history["validation_loss"].iloc[-1], rel=1e-5)
        with torch.no_grad():
            assert model(pixel_values=pixels).logits.shape == (12, 3)
    with pytest.raises(DataError, match="written by method 'base'"):
        load_vision_tuned(vit_dir, tuned["base"].checkpoint, "prompt")
    with pytest.raises(DataError, match="not found"):
        load_vision_tuned(vit_dir, None, "prompt")


def test_identities_tell_the_variants_apart(vit_dir, tuned):
    base = vision_checkpoint_identity(vit_dir, None, "base")
    head = vision_checkpoint_identity(vit_dir, tuned["base"].checkpoint, "base")
    prompt = vision_checkpoint_identity(vit_dir, tuned["prompt"].checkpoint, "prompt")
    finetune = vision_checkpoint_identity(vit_dir, tuned["finetune"].checkpoint, "finetune")
    lora = vision_checkpoint_identity(vit_dir, tuned["lora"].checkpoint, "lora")
    random = vision_checkpoint_identity(vit_dir, None, "random", seed=5)
    assert base["sha256"] == head["sha256"] == prompt["sha256"] == lora["sha256"] != finetune["sha256"]
    assert len({head["adapter_sha256"], prompt["adapter_sha256"], lora["adapter_sha256"]}) == 3
    assert "adapter_sha256" not in base
    assert random["method"] == "random" and random["seed"] == "5" and random != base


def test_same_seed_gives_byte_identical_checkpoints(vit_dir, tuned, tmp_path):
    settings = dict(SETTINGS, learning_rate=RATES["prompt"])
    tune_vit_on_task(
        vit_dir, colour_split(48, 0), colour_split(12, 1), method="prompt", settings=settings,
        checkpoint_dir=tmp_path / "again", loss_path=tmp_path / "again.csv", progress=False,
    )
    for name in ("visual_prompt.safetensors", "head.safetensors"):
        assert (tmp_path / "again" / name).read_bytes() == (tuned["prompt"].checkpoint / name).read_bytes()
    assert (tmp_path / "again.csv").read_bytes() == tuned["prompt"].loss.read_bytes()


def test_saving_checks_the_method_against_the_model(vit_dir, tmp_path):
    model = prepare_vit_for_tuning(load_vit(vit_dir, device="cpu"), "base", num_labels=3)
    with pytest.raises(ConfigError, match="without a visual prompt"):
        save_vision_checkpoint(model, tmp_path / "x", "prompt", settings={})
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        save_vision_checkpoint(model, tmp_path / "data", "base", settings={})


def test_pretraining_on_synthetic_shapes_learns_and_writes_a_loadable_model(tmp_path):
    images, labels = synthetic_shapes(40, image_size=16, seed=0)
    assert images.shape == (40, 16, 16, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [5] * len(SHAPES)
    assert np.array_equal(synthetic_shapes(40, image_size=16, seed=0)[0], images)
    history = pretrain_vit(
        tmp_path / "model", architecture=SIZES, n_images=200, steps=20, batch_size=16,
        learning_rate=3e-3, warmup_steps=5, seed=0, validation_every=10, progress=False,
    )
    assert history["validation_loss"].notna().sum() == 3
    model = load_vit(tmp_path / "model", device="cpu")
    assert model.config.num_labels == len(SHAPES)
    assert json.loads((tmp_path / "model" / "pretraining.json").read_text())["steps"] == 20
    assert (tmp_path / "model" / "pretraining_loss.csv").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_the_loop_rejects_a_model_without_trainable_parameters(vit_dir):
    model = load_vit(vit_dir, device="cpu").requires_grad_(False)
    split = colour_split(8, 0)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        train(
            model, ImageBatches(split.images, split.labels, batch_size=4, image_size=16, seed=0),
            image_evaluation_batches(split.images, split.labels, batch_size=4, image_size=16),
            steps=1, learning_rate=0.1, seed=0, eval_every=1, log_path=None, progress=False,
            objective=classification_objective,
        )


def test_lora_trains_adapters_on_the_attention_and_the_head_only(vit_dir):
    model = prepare_vit_for_tuning(load_vit(vit_dir, device="cpu"), "lora", num_labels=3, lora={"rank": 2, "alpha": 4})
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    adapters = [n for n in trainable if "lora_" in n]
    # q_proj and v_proj of both blocks, an A and a B each; plus the new head (modules_to_save).
    assert len(adapters) == 8 and all(".attention.q_proj." in n or ".attention.v_proj." in n for n in adapters)
    assert sorted(n for n in trainable if "lora_" not in n) == [
        "base_model.model.classifier.modules_to_save.default.bias",
        "base_model.model.classifier.modules_to_save.default.weight",
    ]
    with pytest.raises(ConfigError, match="without LoRA adapters"):
        save_vision_checkpoint(prepare_vit_for_tuning(load_vit(vit_dir, device="cpu"), "base", num_labels=3),
                               vit_dir.parent / "x", "lora", settings={})


def test_random_is_the_architecture_untrained(vit_dir):
    base = load_vision_tuned(vit_dir, None, "base", device="cpu")
    first = load_vision_tuned(vit_dir, None, "random", device="cpu", seed=1)
    again = load_vision_tuned(vit_dir, None, "random", device="cpu", seed=1)
    other = load_vision_tuned(vit_dir, None, "random", device="cpu", seed=2)
    names = [n for n, _ in base.named_parameters()]
    assert [n for n, _ in first.named_parameters()] == names and not first.training
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), again.parameters()))
    key = "vit.layers.0.attention.q_proj.weight"
    weights = {name: dict(m.named_parameters())[key] for name, m in (("first", first), ("other", other), ("base", base))}
    assert not torch.equal(weights["first"], weights["other"]) and not torch.equal(weights["first"], weights["base"])
    with pytest.raises(DataError, match="not found"):
        load_vision_tuned(vit_dir, None, "lora")
