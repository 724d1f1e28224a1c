"""ViT image features: pooling excludes prompt tokens, layers, and the shared feature store."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.errors import ConfigError
from brainalign.features import read_feature_store, write_feature_store
from brainalign.image_features import extract_image_features, pool_tokens
from brainalign.models.vision import build_tiny_vit, load_vit, preprocess_images
from brainalign.models.visual_prompt import attach_visual_prompt

SIZES = dict(image_size=16, patch_size=4, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    return build_tiny_vit(tmp_path_factory.mktemp("vit") / "tiny", num_labels=3, seed=0, **SIZES)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).integers(0, 256, size=(7, 20, 20, 3), dtype=np.uint8)


def test_pooling_known_answer():
    hidden = torch.arange(2 * 6 * 2, dtype=torch.float32).reshape(2, 6, 2)  # [CLS], 2 prompts, 3 patches
    torch.testing.assert_close(pool_tokens(hidden, "cls", 2), hidden[:, 0])
    torch.testing.assert_close(pool_tokens(hidden, "mean", 2), hidden[:, 3:].mean(dim=1))
    torch.testing.assert_close(pool_tokens(hidden, "mean", 0), hidden[:, 1:].mean(dim=1))
    with pytest.raises(ConfigError, match="unknown image pooling"):
        pool_tokens(hidden, "last", 0)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_features_match_a_manual_forward_and_do_not_depend_on_batching(vit_dir, images, pooling):
    model = load_vit(vit_dir, device="cpu")
    features = extract_image_features(model, images, layers=[1, -1], pooling=pooling, batch_size=3)
    assert sorted(features) == [1, 2] and features[2].shape == (7, 16) and features[2].dtype == np.float32
    with torch.no_grad():
        hidden = model.vit(pixel_values=preprocess_images(images, 16), output_hidden_states=True).hidden_states
    expected = hidden[2][:, 0] if pooling == "cls" else hidden[2][:, 1:].mean(dim=1)
    np.testing.assert_allclose(features[2], expected.numpy(), atol=1e-5)
    whole = extract_image_features(model, images, layers=[-1], pooling=pooling, batch_size=7)
    np.testing.assert_allclose(whole[2], features[2], atol=1e-5)


def test_prompt_tokens_are_left_out_of_pooling(vit_dir, images):
    plain = load_vit(vit_dir, device="cpu")
    prompted = load_vit(vit_dir, device="cpu")
    with torch.no_grad():
        attach_visual_prompt(prompted, 4, seed=0).prompts.mul_(100.0)  # prompts far from every patch
    base = extract_image_features(plain, images, layers=[0, 2], pooling="mean")
    tuned = extract_image_features(prompted, images, layers=[0, 2], pooling="mean")
    # At the embeddings the patch tokens do not see the prompts: pooled, they are identical.
    np.testing.assert_allclose(tuned[0], base[0], atol=1e-6)
    # Pooling the prompt tokens too would add 4 x 100-scale vectors: far from these.
    assert np.abs(tuned[0]).max() < 10
    assert not np.allclose(tuned[2], base[2], atol=1e-3)  # deeper, the prompts steer the patches


def test_features_round_trip_through_the_shared_store(vit_dir, images, tmp_path):
    features = extract_image_features(load_vit(vit_dir, device="cpu"), images, layers=[-1], pooling="cls")
    ids = [f"img{i}.jpg" for i in range(7)]
    identity = {"model": str(vit_dir), "method": "base", "pooling": "cls"}
    write_feature_store(tmp_path / "f.h5", ids, features, identity=identity)
    store = read_feature_store(tmp_path / "f.h5", expected_identity=identity)
    assert store.stimulus_ids == tuple(ids)
    np.testing.assert_array_equal(store.layers[2], features[2])


def test_bad_settings_are_refused(vit_dir, images):
    model = load_vit(vit_dir, device="cpu")
    with pytest.raises(ConfigError, match="out of range"):
        extract_image_features(model, images, layers=[5])
    with pytest.raises(ConfigError, match="batch_size"):
        extract_image_features(model, images, layers=[1], batch_size=0)
    with pytest.raises(ConfigError, match="same for every image"):
        extract_image_features(model, images, layers=[0], pooling="cls")
