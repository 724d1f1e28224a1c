"""Tiny offline GPT-2, model loading and model identity."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from brainalign.errors import ConfigError, DataError
from brainalign.io import sha256_file
from brainalign.models.language import build_tiny_gpt2, load_causal_lm, model_identity


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2", seed=0)


@pytest.fixture(scope="session")
def tiny_gpt2(tiny_gpt2_dir: Path):
    return load_causal_lm(tiny_gpt2_dir, device="cpu")


def test_tiny_model_reloads_through_load_causal_lm(tiny_gpt2_dir: Path, tiny_gpt2) -> None:
    model, tokenizer = tiny_gpt2
    assert (tiny_gpt2_dir / "model.safetensors").is_file()
    assert model.config.model_type == "gpt2"
    config = model.config
    assert (config.n_layer, config.n_embd, config.n_head, config.n_positions) == (4, 128, 4, 128)
    assert model.dtype == torch.float32
    assert not model.training
    assert next(model.parameters()).device.type == "cpu"
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[15496, 995]])).logits
    assert logits.shape == (1, 2, 50257)
    assert torch.isfinite(logits).all()


def test_tokenizer_is_real_gpt2_bpe(tiny_gpt2) -> None:
    _, tokenizer = tiny_gpt2
    # Reference ids of OpenAI's GPT-2 tokenizer.
    assert tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert tokenizer(" Hello world")["input_ids"] == [18435, 995]
    assert tokenizer("The quick brown fox jumps over the lazy dog.")["input_ids"] == [
        464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13,
    ]
    assert len(tokenizer) == 50257
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.eos_token_id == 50256
    assert tokenizer.pad_token == tokenizer.eos_token
    assert tokenizer.model_max_length == 128


def test_same_seed_gives_identical_weight_bytes(tiny_gpt2_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_gpt2(tmp_path / "again", seed=0)
    assert (again / "model.safetensors").read_bytes() == (tiny_gpt2_dir / "model.safetensors").read_bytes()
    assert model_identity(again)["sha256"] == model_identity(tiny_gpt2_dir)["sha256"]


def test_different_seed_differs_and_leaves_global_rng_alone(tiny_gpt2_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(1234)
    expected_draw = torch.rand(3)
    torch.manual_seed(1234)
    other = build_tiny_gpt2(tmp_path / "other", seed=1)
    assert torch.equal(torch.rand(3), expected_draw)
    assert sha256_file(other / "model.safetensors") != sha256_file(tiny_gpt2_dir / "model.safetensors")
    assert model_identity(other)["sha256"] != model_identity(tiny_gpt2_dir)["sha256"]


def test_rebuild_replaces_an_existing_model_dir(tmp_path: Path) -> None:
    out = tmp_path / "model"
    build_tiny_gpt2(out, n_layer=1, n_embd=32, n_head=2, n_positions=16, seed=0)
    first = sha256_file(out / "model.safetensors")
    build_tiny_gpt2(out, n_layer=1, n_embd=32, n_head=2, n_positions=16, seed=5)
    assert sha256_file(out / "model.safetensors") != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temp folders left


def test_build_refuses_to_overwrite_a_non_model_dir(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="precious"):
        build_tiny_gpt2(out, n_layer=1, n_embd=32, n_head=2, n_positions=16)
    assert (out / "notes.txt").read_text() == "keep me"


def test_failed_build_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import GPT2LMHeadModel

    def half_save(self, save_directory, **kwargs):
        (Path(save_directory) / "config.json").write_text("{}")
        raise RuntimeError("simulated crash while saving")

    monkeypatch.setattr(GPT2LMHeadModel, "save_pretrained", half_save)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_tiny_gpt2(tmp_path / "model", n_layer=1, n_embd=32, n_head=2, n_positions=16)
    assert list(tmp_path.iterdir()) == []


def test_bad_sizes_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="divisible"):
        build_tiny_gpt2(tmp_path / "m", n_embd=30, n_head=4)
    assert not (tmp_path / "m").exists()


def test_unknown_hub_name_offline_is_config_error() -> None:
    name = "brainalign-tests/no-such-model"
    with pytest.raises(ConfigError) as info:
        load_causal_lm(name, device="cpu")
    message = str(info.value)
    assert name in message
    assert "HF_HUB_OFFLINE" in message
    assert "hf download" in message


def test_missing_local_path_is_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "not" / "there"
    with pytest.raises(ConfigError, match="neither a local directory"):
        load_causal_lm(missing, device="cpu")


def test_local_dir_that_is_not_a_model_is_data_error(tmp_path: Path, tiny_gpt2_dir: Path) -> None:
    with pytest.raises(DataError, match="config.json"):
        load_causal_lm(tmp_path, device="cpu")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_gpt2_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(DataError, match="broken"):
        load_causal_lm(broken, device="cpu")


def test_model_identity_of_local_dir_tracks_file_content(tiny_gpt2_dir: Path, tmp_path: Path) -> None:
    identity = model_identity(tiny_gpt2_dir)
    assert identity["source"] == "local"
    assert identity == model_identity(tiny_gpt2_dir)  # stable
    copy = tmp_path / "copy"
    shutil.copytree(tiny_gpt2_dir, copy)
    assert model_identity(copy)["sha256"] == identity["sha256"]
    # A tokenizer change changes the features, so it must change the identity.
    config = copy / "tokenizer_config.json"
    config.write_text(config.read_text().replace('"model_max_length": 128', '"model_max_length": 64'))
    assert model_identity(copy)["sha256"] != identity["sha256"]


def test_model_identity_of_dir_without_weights_is_data_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DataError):
        model_identity(tmp_path)


def test_model_identity_of_hub_name_uses_cached_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    assert model_identity("brainalign-tests/not-cached") == {
        "model": "brainalign-tests/not-cached", "source": "hub", "revision": "unresolved",
    }
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--someorg--somemodel"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert model_identity("someorg/somemodel") == {"model": "someorg/somemodel", "source": "hub", "revision": commit}


def test_untied_embeddings_survive_saving_and_reloading(tmp_path: Path) -> None:
    folder = build_tiny_gpt2(tmp_path / "untied", n_layer=1, n_embd=16, n_head=2, n_positions=32, tie_word_embeddings=False)
    model, _ = load_causal_lm(folder, device="cpu")
    assert model.config.tie_word_embeddings is False
    input_embeddings, output_layer = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert input_embeddings.data_ptr() != output_layer.data_ptr()
    assert not torch.equal(input_embeddings, output_layer)
