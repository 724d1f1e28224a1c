"""The tiny ViT, image preprocessing, and visual prompt tuning's tokens, depth and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.errors import ConfigError, DataError
from brainalign.models.vision import build_tiny_vit, load_vit, preprocess_images, replace_head
from brainalign.models.visual_prompt import attach_visual_prompt, num_prompt_tokens, visual_prompt_of
from brainalign.tuning.vision import prepare_vit_for_tuning

P = 3  # prompt tokens
SIZES = dict(image_size=16, patch_size=4, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32)
N_PATCHES = (16 // 4) ** 2


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    return build_tiny_vit(tmp_path_factory.mktemp("vit") / "tiny", num_labels=4, seed=0, **SIZES)


@pytest.fixture(scope="module")
def pixels():
    images = np.random.default_rng(0).integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8)
    return preprocess_images(images, 16)


def test_build_is_deterministic_and_refuses_to_overwrite_other_folders(vit_dir, tmp_path):
    again = build_tiny_vit(tmp_path / "again", num_labels=4, seed=0, **SIZES)
    assert (again / "model.safetensors").read_bytes() == (vit_dir / "model.safetensors").read_bytes()
    other = build_tiny_vit(tmp_path / "other", num_labels=4, seed=1, **SIZES)
    assert (other / "model.safetensors").read_bytes() != (vit_dir / "model.safetensors").read_bytes()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        build_tiny_vit(tmp_path / "data", **SIZES)
    with pytest.raises(ConfigError, match="multiple of patch_size"):
        build_tiny_vit(tmp_path / "bad", image_size=18, patch_size=4)
    with pytest.raises(ConfigError, match="divisible"):
        build_tiny_vit(tmp_path / "bad", hidden_size=15, num_attention_heads=2)


def test_load_errors_name_the_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no config.json"):
        load_vit(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not-a-real/vit-model"):
        load_vit("not-a-real/vit-model")


def test_preprocessing_resizes_and_normalises():
    images = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    images[0] = 255
    pixels = preprocess_images(images, 16)
    assert pixels.shape == (2, 3, 16, 16) and pixels.dtype == torch.float32
    np.testing.assert_allclose(pixels[0].numpy(), 1.0, atol=1e-6)  # white -> (1 - 0.5) / 0.5
    np.testing.assert_allclose(pixels[1].numpy(), -1.0, atol=1e-6)  # black -> -1
    same = preprocess_images(images, 8)  # no resize at the native size
    assert same.shape == (2, 3, 8, 8)
    with pytest.raises(DataError, match="uint8"):
        preprocess_images(images.astype(np.float32), 16)
    with pytest.raises(DataError, match=r"\(n, H, W, 3\)"):
        preprocess_images(images[..., :1], 16)


def test_replace_head_is_reproducible_and_resizes_the_config(vit_dir):
    a, b = load_vit(vit_dir, device="cpu"), load_vit(vit_dir, device="cpu")
    replace_head(a, 7, seed=3)
    replace_head(b, 7, seed=3)
    assert a.config.num_labels == 7 and a.classifier.out_features == 7
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    with pytest.raises(DataError, match="at least 2 classes"):
        replace_head(a, 1, seed=0)


def test_prompt_tokens_sit_at_positions_1_to_P(vit_dir, pixels):
    plain = load_vit(vit_dir, device="cpu")
    prompted = load_vit(vit_dir, device="cpu")
    prompt = attach_visual_prompt(prompted, P, seed=0)
    assert visual_prompt_of(prompted) is prompt and num_prompt_tokens(prompted) == P and num_prompt_tokens(plain) == 0
    with torch.no_grad():
        before = plain.vit(pixel_values=pixels, output_hidden_states=True).hidden_states
        after = prompted.vit(pixel_values=pixels, output_hidden_states=True).hidden_states
    assert after[0].shape == (len(pixels), 1 + P + N_PATCHES, 16)
    assert len(after) == 3 + 1  # Hugging Face's forward is intact: embeddings + every block
    for image in range(len(pixels)):
        assert torch.equal(after[0][image, 1 : 1 + P], prompt.prompts[0])
    assert torch.equal(after[0][:, 0], before[0][:, 0])  # [CLS] first, unchanged
    assert torch.equal(after[0][:, 1 + P :], before[0][:, 1:])  # then the patches, unchanged
    assert not torch.allclose(after[-1][:, 0], before[-1][:, 0])  # the prompts steer [CLS]
    with pytest.raises(ConfigError, match="already has a visual prompt"):
        attach_visual_prompt(prompted, P)


def test_deep_prompts_replace_the_prompt_positions_before_every_block(vit_dir, pixels):
    model = load_vit(vit_dir, device="cpu")
    prompt = attach_visual_prompt(model, P, deep=True, seed=0)
    assert prompt.prompts.shape == (3, P, 16)
    seen = {}
    for k, layer in enumerate(model.vit.layers):  # registered after the prompt's hooks: sees their result
        layer.register_forward_pre_hook(lambda m, args, k=k: seen.__setitem__(k, args[0].detach().clone()))
    with torch.no_grad():
        model(pixel_values=pixels)
    assert sorted(seen) == [0, 1, 2]
    for k in range(3):
        assert seen[k].shape[1] == 1 + P + N_PATCHES
        assert torch.equal(seen[k][:, 1 : 1 + P], prompt.prompts[k].expand(len(pixels), -1, -1))
    shallow = load_vit(vit_dir, device="cpu")
    shallow_prompt = attach_visual_prompt(shallow, P, seed=0)
    assert shallow_prompt.prompts.shape == (1, P, 16)
    torch.testing.assert_close(shallow_prompt.prompts[0], prompt.prompts[0])  # same seed, same first prompts


def _gradients(model, pixels):
    model.zero_grad(set_to_none=True)
    labels = torch.arange(len(pixels)) % model.config.num_labels
    model(pixel_values=pixels, labels=labels).loss.backward()
    return {name: p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("deep", [False, True])
def test_prompt_tuning_trains_prompts_and_head_only(vit_dir, pixels, deep):
    model = prepare_vit_for_tuning(load_vit(vit_dir, device="cpu"), "prompt", num_labels=3, num_prompt_tokens=P, deep=deep)
    grads = _gradients(model, pixels)
    backbone = [name for name in grads if name.startswith("vit.")]
    assert backbone and all(grads[name] is None for name in backbone)
    assert grads["visual_prompt.prompts"].abs().sum(dim=(1, 2)).gt(0).all()  # every prompted layer learns
    assert grads["classifier.weight"].abs().sum() > 0


def test_base_trains_the_head_only_and_finetune_everything(vit_dir, pixels):
    base = prepare_vit_for_tuning(load_vit(vit_dir, device="cpu"), "base", num_labels=3)
    grads = _gradients(base, pixels)
    assert {name for name, g in grads.items() if g is not None} == {"classifier.weight", "classifier.bias"}
    assert visual_prompt_of(base) is None
    finetune = prepare_vit_for_tuning(load_vit(vit_dir, device="cpu"), "finetune", num_labels=3)
    grads = _gradients(finetune, pixels)
    assert all(g is not None for g in grads.values())
    with pytest.raises(ConfigError, match="unknown vision tuning method"):
        prepare_vit_for_tuning(load_vit(vit_dir, device="cpu"), "adapters", num_labels=3)
