"""What each method trains, checkpoints and reloading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from brainalign.errors import ConfigError, DataError
from brainalign.features import extract_features
from brainalign.models.language import load_causal_lm
from brainalign.tuning import (
    checkpoint_identity,
    collate,
    load_tuned,
    prepare_for_tuning,
    save_checkpoint,
    soft_prompt,
    tokenize_examples,
)

TEXTS = ["The cat sat on the mat.", "Brains build meaning over time.", "Hi"]


def _backward_once(model, tokenizer, records) -> None:
    batch = collate(tokenize_examples(records(4), tokenizer, max_length=60), tokenizer.eos_token_id)
    model.zero_grad(set_to_none=True)
    model(**batch).loss.backward()


def test_prompt_tuning_sends_gradients_to_the_soft_prompt_only(prepared, records) -> None:
    model, tokenizer = prepared("prompt")
    _backward_once(model, tokenizer, records)
    named = dict(model.named_parameters())
    prompt_names = [n for n in named if n.startswith("prompt_encoder.")]
    assert prompt_names == ["prompt_encoder.default.embedding.weight"]
    assert named[prompt_names[0]].grad is not None and named[prompt_names[0]].grad.abs().sum() > 0
    backbone = {n: p for n, p in named.items() if n not in prompt_names}
    assert len(backbone) > 20
    for name, p in backbone.items():
        assert not p.requires_grad, name
        assert p.grad is None or not p.grad.any(), name


def test_fine_tuning_sends_gradients_to_every_parameter(prepared, records) -> None:
    model, tokenizer = prepared("finetune")
    _backward_once(model, tokenizer, records)
    for name, p in model.named_parameters():
        assert p.requires_grad, name
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_unfrozen_backbone_is_refused(tiny_dir, monkeypatch) -> None:
    import peft

    original = peft.get_peft_model

    def leaky(model, config, *args, **kwargs):
        wrapped = original(model, config, *args, **kwargs)
        wrapped.get_base_model().transformer.ln_f.weight.requires_grad_(True)
        return wrapped

    monkeypatch.setattr(peft, "get_peft_model", leaky)
    model, tokenizer = load_causal_lm(tiny_dir, device="cpu")
    with pytest.raises(RuntimeError, match="ln_f"):
        prepare_for_tuning(model, tokenizer, "prompt", num_virtual_tokens=4, init_text="Copy")


def test_soft_prompt_starts_from_the_init_text_embeddings(prepared, settings) -> None:
    model, tokenizer = prepared("prompt")
    ids = tokenizer(settings.init_text)["input_ids"]
    ids = (ids * settings.num_virtual_tokens)[: settings.num_virtual_tokens]  # PEFT cuts or repeats
    expected = model.get_base_model().get_input_embeddings().weight[ids]
    prompt = soft_prompt(model)
    assert prompt.shape == (settings.num_virtual_tokens, 32)
    assert torch.equal(prompt, expected)
    assert soft_prompt(model.get_base_model()) is None


def test_bad_settings_are_config_errors(tiny_dir) -> None:
    model, tokenizer = load_causal_lm(tiny_dir, device="cpu")
    with pytest.raises(ConfigError, match="unknown tuning method"):
        prepare_for_tuning(model, tokenizer, "adapters", num_virtual_tokens=4, init_text="Copy")
    with pytest.raises(ConfigError, match="rank"):
        prepare_for_tuning(model, tokenizer, "lora", lora={"rank": 0, "alpha": 8})
    with pytest.raises(ConfigError, match="target_modules"):
        prepare_for_tuning(model, tokenizer, "lora", lora={"rank": 2, "alpha": 8, "target_modules": ["nope"]})
    with pytest.raises(ConfigError, match="num_virtual_tokens"):
        prepare_for_tuning(model, tokenizer, "prompt", num_virtual_tokens=0, init_text="Copy")
    with pytest.raises(ConfigError, match="init_text"):
        prepare_for_tuning(model, tokenizer, "prompt", num_virtual_tokens=4, init_text="")


def test_lora_sends_gradients_to_the_low_rank_adapters_only(prepared, records) -> None:
    model, tokenizer = prepared("lora")
    _backward_once(model, tokenizer, records)
    named = dict(model.named_parameters())
    adapters = [n for n in named if "lora_" in n]
    # GPT-2's fused query/key/value projection in each of the 2 blocks gets an A and a B.
    assert len(adapters) == 4 and all(".attn.c_attn.lora_" in n for n in adapters)
    for name in adapters:
        assert named[name].requires_grad
    # B starts at zero, so only B receives a gradient on the first step (A's is B^T-weighted).
    assert any(named[n].grad is not None and named[n].grad.abs().sum() > 0 for n in adapters if "lora_B" in n)
    for name, p in named.items():
        if name not in adapters:
            assert not p.requires_grad, name
            assert p.grad is None, name


@pytest.mark.parametrize("method", ["prompt", "finetune", "lora"])
def test_checkpoint_reloads_and_reproduces_features_bit_for_bit(trained, tiny_dir, tmp_path, method) -> None:
    run = trained[method]
    before = extract_features(run.model, run.tokenizer, TEXTS, layers=[0, 1, 2], progress=False)
    settings = {"steps": 30, "learning_rate": 0.1, "seed": 0}
    out = save_checkpoint(run.model, tmp_path / method, method, settings=settings, tokenizer=run.tokenizer)

    files = sorted(p.name for p in out.iterdir())
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".tmp"))]
    assert json.loads((out / "tuning.json").read_text()) == {"method": method, **settings}
    assert not list(tmp_path.glob(".*"))  # no temporary folder left behind
    if method == "prompt":
        assert "adapter_model.safetensors" in files and "model.safetensors" not in files
        with safe_open(out / "adapter_model.safetensors", "pt") as f:
            keys = list(f.keys())
            assert len(keys) == 1 and f.get_tensor(keys[0]).shape == (4, 32)  # the soft prompt only
    elif method == "lora":
        assert "adapter_model.safetensors" in files and "model.safetensors" not in files
        with safe_open(out / "adapter_model.safetensors", "pt") as f:
            shapes = sorted(tuple(f.get_tensor(k).shape) for k in f.keys())
        assert shapes == [(4, 32), (4, 32), (96, 4), (96, 4)]  # A (r x d_in), B (3d x r) per block
    else:
        assert {"model.safetensors", "config.json", "tokenizer_config.json"} <= set(files)

    model, tokenizer = load_tuned(tiny_dir, out, method, device="cpu")
    assert not model.training
    if method == "prompt":
        assert not any(p.requires_grad for p in model.parameters())
    after = extract_features(model, tokenizer, TEXTS, layers=[0, 1, 2], progress=False)
    for k in before:
        if method == "lora":  # reloaded merged into the weights: W + BA instead of Wx + B(Ax)
            assert type(model).__name__ == "GPT2LMHeadModel"
            np.testing.assert_allclose(after[k], before[k], rtol=1e-4, atol=1e-5)
        else:
            assert np.array_equal(before[k], after[k]), k
    if method == "prompt":
        assert torch.equal(soft_prompt(model), soft_prompt(run.model))


@pytest.mark.parametrize("method", ["prompt", "finetune", "lora"])
def test_tuning_changes_the_representation(trained, tiny_dir, method) -> None:
    base, tokenizer = load_tuned(tiny_dir, None, "base", device="cpu")
    reference = extract_features(base, tokenizer, TEXTS, layers=[2], progress=False)[2]
    tuned = extract_features(trained[method].model, tokenizer, TEXTS, layers=[2], progress=False)[2]
    assert np.abs(tuned - reference).max() > 1e-3
    backbone = trained[method].model
    if method in ("prompt", "lora"):
        frozen = {n.replace("base_layer.", ""): p for n, p in backbone.get_base_model().named_parameters() if "lora_" not in n}
        for name, p in base.named_parameters():
            assert torch.equal(p, frozen[name]), name  # the frozen backbone did not move


def test_load_tuned_refuses_a_checkpoint_of_another_method(trained, tiny_dir, tmp_path) -> None:
    out = save_checkpoint(trained["prompt"].model, tmp_path / "ckpt", "prompt", settings={"seed": 0})
    with pytest.raises(DataError, match="'prompt'"):
        load_tuned(tiny_dir, out, "finetune", device="cpu")
    with pytest.raises(DataError, match="not found"):
        load_tuned(tiny_dir, tmp_path / "missing", "prompt", device="cpu")
    with pytest.raises(ConfigError):
        save_checkpoint(trained["finetune"].model, tmp_path / "x", "prompt", settings={})


def test_checkpoint_save_replaces_an_old_one_but_not_a_foreign_folder(trained, tmp_path) -> None:
    model = trained["prompt"].model
    out = tmp_path / "ckpt"
    save_checkpoint(model, out, "prompt", settings={"seed": 1})
    save_checkpoint(model, out, "prompt", settings={"seed": 2})
    assert json.loads((out / "tuning.json").read_text())["seed"] == 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="refusing"):
        save_checkpoint(model, foreign, "prompt", settings={})
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_checkpoint_identity_tracks_what_the_features_depend_on(trained, tiny_dir, tmp_path) -> None:
    base = checkpoint_identity(tiny_dir, None, "base")
    prompt_dir = save_checkpoint(trained["prompt"].model, tmp_path / "p", "prompt", settings={"seed": 0})
    finetune_dir = save_checkpoint(
        trained["finetune"].model, tmp_path / "f", "finetune", settings={"seed": 0},
        tokenizer=trained["finetune"].tokenizer,
    )
    prompt = checkpoint_identity(tiny_dir, prompt_dir, "prompt")
    finetune = checkpoint_identity(tiny_dir, finetune_dir, "finetune")
    assert prompt["sha256"] == base["sha256"]  # same frozen backbone
    assert finetune["sha256"] != base["sha256"]
    assert len({base["method"], prompt["method"], finetune["method"]}) == 3
    # A different soft prompt is a different identity.
    again = save_checkpoint(trained["prompt"].model, tmp_path / "p2", "prompt", settings={"seed": 0})
    assert checkpoint_identity(tiny_dir, again, "prompt")["adapter_sha256"] == prompt["adapter_sha256"]
    with torch.no_grad():
        trained_model = trained["prompt"].model
        weight = trained_model.prompt_encoder["default"].embedding.weight
        saved = weight.detach().clone()
        weight.add_(1.0)
        try:
            moved = save_checkpoint(trained_model, tmp_path / "p3", "prompt", settings={"seed": 0})
        finally:
            weight.copy_(saved)
    assert checkpoint_identity(tiny_dir, moved, "prompt")["adapter_sha256"] != prompt["adapter_sha256"]


def test_random_is_the_base_architecture_untrained_and_a_function_of_the_seed(tiny_dir) -> None:
    base, tokenizer = load_tuned(tiny_dir, None, "base", device="cpu")
    first, random_tokenizer = load_tuned(tiny_dir, None, "random", device="cpu", seed=3)
    again, _ = load_tuned(tiny_dir, None, "random", device="cpu", seed=3)
    other, _ = load_tuned(tiny_dir, None, "random", device="cpu", seed=4)
    assert type(first) is type(base) and len(random_tokenizer) == len(tokenizer)
    assert not first.training and not any(p.requires_grad for p in first.parameters())
    shapes = {n: tuple(p.shape) for n, p in base.named_parameters()}
    assert {n: tuple(p.shape) for n, p in first.named_parameters()} == shapes
    weights = dict(first.named_parameters())
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), again.parameters()))
    assert not torch.equal(weights["transformer.h.0.attn.c_attn.weight"], dict(other.named_parameters())["transformer.h.0.attn.c_attn.weight"])
    assert not torch.equal(weights["transformer.h.0.attn.c_attn.weight"], dict(base.named_parameters())["transformer.h.0.attn.c_attn.weight"])
    # GPT-2's own initialiser: linear weights ~ N(0, 0.02), layer norms at 1.
    assert abs(float(weights["transformer.h.0.mlp.c_fc.weight"].std()) - 0.02) < 0.002
    assert torch.equal(weights["transformer.h.0.ln_1.weight"], torch.ones_like(weights["transformer.h.0.ln_1.weight"]))
    untrained = extract_features(first, tokenizer, TEXTS, layers=[2], progress=False)[2]
    pretrained = extract_features(base, tokenizer, TEXTS, layers=[2], progress=False)[2]
    assert untrained.shape == pretrained.shape and np.abs(untrained - pretrained).max() > 1e-2
    identity = checkpoint_identity(tiny_dir, None, "random", seed=3)
    assert identity["method"] == "random" and identity["seed"] == "3"
    assert identity != checkpoint_identity(tiny_dir, None, "random", seed=4)
