"""Sentence features from a causal LM and the HDF5 feature store."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from brainalign.errors import ConfigError, DataError
from brainalign.features import (
    extract_features,
    identity_cache_key,
    read_feature_store,
    write_feature_store,
)
from brainalign.models.language import build_tiny_gpt2, load_causal_lm, model_identity

N_LAYER = 4
HIDDEN = 128
SENTENCES = [
    "The cat sat on the mat.",
    "Language models predict the next word from the words that came before it.",
    "Hi",
    "Brains and transformers both build representations of meaning over time.",
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("features") / "gpt2", n_layer=N_LAYER, n_embd=HIDDEN, seed=0)


@pytest.fixture(scope="module")
def lm(tiny_dir: Path):
    return load_causal_lm(tiny_dir, device="cpu")


def _hidden_states(lm, text: str, prefix: bool = True) -> tuple[torch.Tensor, ...]:
    """Hidden states of one unpadded sentence, behind the <|endoftext|> prefix by default."""
    model, tokenizer = lm
    ids = torch.tensor([[tokenizer.bos_token_id] * prefix + tokenizer(text)["input_ids"]])
    with torch.no_grad():
        return model(input_ids=ids, output_hidden_states=True).hidden_states


def test_shapes_dtype_and_normalised_keys(lm) -> None:
    model, tokenizer = lm
    features = extract_features(model, tokenizer, SENTENCES, layers=[0, -1, 2], progress=False)
    assert set(features) == {0, N_LAYER, 2}
    for array in features.values():
        assert array.shape == (len(SENTENCES), HIDDEN)
        assert array.dtype == np.float32
        assert np.isfinite(array).all()
    assert not np.allclose(features[0], features[N_LAYER])


def test_the_language_model_head_never_runs_and_the_hidden_states_are_the_causal_lms(lm) -> None:
    # The head's logits are never read: extraction runs the backbone, whose hidden states are
    # exactly those the whole causal LM returns.
    model, tokenizer = lm
    calls = []
    hook = model.get_output_embeddings().register_forward_hook(lambda *args: calls.append(1))
    try:
        features = extract_features(model, tokenizer, SENTENCES[:1], layers=list(range(N_LAYER + 1)), progress=False)
    finally:
        hook.remove()
    assert calls == []
    hidden = _hidden_states(lm, SENTENCES[0])
    for layer, states in enumerate(hidden):  # position 0 holds the prefix token: not pooled
        np.testing.assert_array_equal(features[layer][0], states[0, 1:].mean(dim=0).numpy())


def test_negative_layer_equals_positive(lm) -> None:
    model, tokenizer = lm
    neg = extract_features(model, tokenizer, SENTENCES, layers=[-1, -(N_LAYER + 1)], progress=False)
    pos = extract_features(model, tokenizer, SENTENCES, layers=[N_LAYER, 0], progress=False)
    assert set(neg) == {N_LAYER, 0}
    np.testing.assert_array_equal(neg[N_LAYER], pos[N_LAYER])
    np.testing.assert_array_equal(neg[0], pos[0])


@pytest.mark.parametrize("prefix", [True, False])
def test_pooling_matches_hand_computation(lm, prefix: bool) -> None:
    model, tokenizer = lm
    text = SENTENCES[1]
    hidden = _hidden_states(lm, text, prefix=prefix)
    options = dict(layers=[1, N_LAYER], progress=False, prefix=prefix)
    mean = extract_features(model, tokenizer, [text], pooling="mean", **options)
    last = extract_features(model, tokenizer, [text], pooling="last", **options)
    for k in (1, N_LAYER):
        np.testing.assert_allclose(mean[k][0], hidden[k][0, int(prefix):].mean(dim=0).numpy(), atol=1e-5)
        np.testing.assert_allclose(last[k][0], hidden[k][0, -1].numpy(), atol=1e-5)
        assert not np.allclose(mean[k], last[k], atol=1e-3)


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_padding_does_not_change_a_sentence(lm, pooling: str) -> None:
    model, tokenizer = lm
    short = SENTENCES[0]
    longer = [SENTENCES[1], SENTENCES[3]]
    n_short = len(tokenizer(short)["input_ids"])
    assert all(len(tokenizer(t)["input_ids"]) > n_short + 3 for t in longer)  # it really is padded
    alone = extract_features(model, tokenizer, [short], layers=[0, 2, N_LAYER], pooling=pooling, progress=False)
    batched = extract_features(
        model, tokenizer, [longer[0], short, longer[1]], layers=[0, 2, N_LAYER], pooling=pooling,
        batch_size=16, progress=False,
    )
    for k in alone:
        np.testing.assert_allclose(batched[k][1], alone[k][0], atol=1e-5, rtol=0)


def test_output_follows_input_order_whatever_the_batching(lm) -> None:
    model, tokenizer = lm
    reference = extract_features(model, tokenizer, SENTENCES, layers=[-1], batch_size=1, progress=False)[N_LAYER]
    order = [2, 0, 3, 1]
    shuffled = extract_features(
        model, tokenizer, [SENTENCES[i] for i in order], layers=[-1], batch_size=3, progress=False
    )[N_LAYER]
    np.testing.assert_allclose(shuffled, reference[order], atol=1e-5, rtol=0)


def test_training_mode_model_gives_eval_features_and_is_restored(lm) -> None:
    model, tokenizer = lm
    reference = extract_features(model, tokenizer, SENTENCES, layers=[-1], progress=False)
    model.train()
    try:
        again = extract_features(model, tokenizer, SENTENCES, layers=[-1], progress=False)
        assert model.training
    finally:
        model.eval()
    np.testing.assert_array_equal(again[N_LAYER], reference[N_LAYER])


def test_too_long_text_is_truncated_with_a_counted_warning(lm, caplog: pytest.LogCaptureFixture) -> None:
    model, tokenizer = lm
    context = model.config.n_positions
    long_a, long_b = "word " * (context + 50), "word " * (context + 200)
    with caplog.at_level(logging.WARNING, logger="brainalign.features"):
        features = extract_features(model, tokenizer, [long_a, "short text", long_b], layers=[-1], progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("2 of 3" in message and "truncated" in message for message in warnings)
    # Both texts are cut to the same first `context` tokens.
    np.testing.assert_allclose(features[N_LAYER][0], features[N_LAYER][2], atol=1e-5, rtol=0)


@pytest.mark.parametrize("layer", [N_LAYER + 1, -(N_LAYER + 2), 100])
def test_layer_out_of_range_names_the_valid_range(lm, layer: int) -> None:
    model, tokenizer = lm
    with pytest.raises(ConfigError, match=f"0..{N_LAYER}"):
        extract_features(model, tokenizer, SENTENCES, layers=[layer], progress=False)


def test_bad_arguments(lm) -> None:
    model, tokenizer = lm
    with pytest.raises(ConfigError, match="pooling"):
        extract_features(model, tokenizer, SENTENCES, layers=[-1], pooling="max", progress=False)
    with pytest.raises(ConfigError):
        extract_features(model, tokenizer, SENTENCES, layers=[], progress=False)
    with pytest.raises(ConfigError):
        extract_features(model, tokenizer, SENTENCES, layers=[1.5], progress=False)
    with pytest.raises(DataError):
        extract_features(model, tokenizer, [], layers=[-1], progress=False)
    with pytest.raises(DataError, match="index 1"):
        extract_features(model, tokenizer, ["fine", ""], layers=[-1], progress=False)


# --------------------------------------------------------------------------- soft prompts

N_VIRTUAL = 5
PROMPT_LAYERS = [0, 1, 2]


@pytest.fixture(scope="module")
def prompt_lm(tmp_path_factory: pytest.TempPathFactory):
    """A PEFT prompt-tuning model on a tiny GPT-2 whose soft prompt is far from its init.

    Random values of unit scale stand in for a trained prompt (the tuning tests use a
    trained one): they make the prompt's effect on the sentence large and easy to see.
    """
    from brainalign.tuning import prepare_for_tuning

    folder = build_tiny_gpt2(
        tmp_path_factory.mktemp("prompt") / "gpt2", n_layer=2, n_embd=32, n_head=2, n_positions=64, seed=1
    )
    model, tokenizer = load_causal_lm(folder, device="cpu")
    peft_model = prepare_for_tuning(model, tokenizer, "prompt", num_virtual_tokens=N_VIRTUAL, init_text="Describe")
    with torch.no_grad():
        weight = peft_model.prompt_encoder["default"].embedding.weight
        weight.copy_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(0)))
    peft_model.eval()
    return peft_model, tokenizer


def _batch(tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    ids = [tokenizer(t)["input_ids"] for t in texts]
    width = max(map(len, ids))
    input_ids = torch.full((len(ids), width), tokenizer.eos_token_id)
    attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        attention_mask[row, : len(seq)] = 1
    return input_ids, attention_mask


def test_prepended_prompt_matches_peft_own_forward(prompt_lm) -> None:
    from brainalign.features import forward_hidden_states
    from brainalign.tuning import soft_prompt

    peft_model, tokenizer = prompt_lm
    input_ids, attention_mask = _batch(tokenizer, [SENTENCES[1], SENTENCES[0], SENTENCES[2]])  # padded rows
    assert not attention_mask.all()
    with torch.no_grad():
        theirs = peft_model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True).hidden_states
        ours, full_mask = forward_hidden_states(
            peft_model.get_base_model(), input_ids, attention_mask, soft_prompt(peft_model)
        )
    assert len(ours) == len(theirs) == 3
    assert torch.equal(full_mask, torch.cat((torch.ones(3, N_VIRTUAL, dtype=torch.long), attention_mask), dim=1))
    attended = full_mask.bool()
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape == (3, N_VIRTUAL + input_ids.shape[1], 32)
        torch.testing.assert_close(a[attended], b[attended], atol=1e-5, rtol=0, msg=f"layer {k}")


def test_soft_prompt_pooling_covers_the_sentence_tokens_only(prompt_lm) -> None:
    peft_model, tokenizer = prompt_lm
    text = SENTENCES[1]
    ids = torch.tensor([[tokenizer.bos_token_id] + tokenizer(text)["input_ids"]])
    with torch.no_grad():  # PEFT's own forward: prompt first, then the prefix token and the sentence
        hidden = peft_model(input_ids=ids, output_hidden_states=True).hidden_states
    mean = extract_features(peft_model, tokenizer, [text], layers=PROMPT_LAYERS, pooling="mean", progress=False)
    last = extract_features(peft_model, tokenizer, [text], layers=PROMPT_LAYERS, pooling="last", progress=False)
    for k in PROMPT_LAYERS:
        np.testing.assert_allclose(mean[k][0], hidden[k][0, N_VIRTUAL + 1 :].mean(dim=0).numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(last[k][0], hidden[k][0, -1].numpy(), atol=1e-5, rtol=0)
        # Including the prompt or prefix positions would give something else.
        assert not np.allclose(mean[k][0], hidden[k][0].mean(dim=0).numpy(), atol=1e-3)
        assert not np.allclose(mean[k][0], hidden[k][0, N_VIRTUAL:].mean(dim=0).numpy(), atol=1e-3)


def test_peft_model_equals_base_with_its_prompt_and_the_prompt_matters(prompt_lm) -> None:
    from brainalign.tuning import soft_prompt

    peft_model, tokenizer = prompt_lm
    base = peft_model.get_base_model()
    through_peft = extract_features(peft_model, tokenizer, SENTENCES, layers=PROMPT_LAYERS, progress=False)
    explicit = extract_features(
        base, tokenizer, SENTENCES, layers=PROMPT_LAYERS, soft_prompt=soft_prompt(peft_model), progress=False
    )
    plain = extract_features(base, tokenizer, SENTENCES, layers=PROMPT_LAYERS, progress=False)
    for k in PROMPT_LAYERS:
        np.testing.assert_array_equal(through_peft[k], explicit[k])
    # Layer 0 (embeddings) only moves by the position shift; deeper layers see the prompt.
    for k in (1, 2):
        assert np.abs(through_peft[k] - plain[k]).max() > 1e-2


def test_soft_prompt_features_do_not_depend_on_batching(prompt_lm) -> None:
    peft_model, tokenizer = prompt_lm
    together = extract_features(peft_model, tokenizer, SENTENCES, layers=[2], batch_size=4, progress=False)[2]
    alone = np.stack(
        [extract_features(peft_model, tokenizer, [t], layers=[2], progress=False)[2][0] for t in SENTENCES]
    )
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)


def test_soft_prompt_shortens_the_room_for_text(prompt_lm, caplog: pytest.LogCaptureFixture) -> None:
    peft_model, tokenizer = prompt_lm
    with caplog.at_level(logging.WARNING, logger="brainalign.features"):
        features = extract_features(peft_model, tokenizer, ["word " * 70], layers=[2], progress=False)
    assert np.isfinite(features[2]).all()
    assert any(f"first {64 - N_VIRTUAL - 1} tokens" in r.getMessage() for r in caplog.records)


def test_bad_soft_prompt_is_config_error(prompt_lm) -> None:
    peft_model, tokenizer = prompt_lm
    base = peft_model.get_base_model()
    for bad in (torch.zeros(3, 31), torch.zeros(32), torch.zeros(0, 32), torch.full((2, 32), float("nan"))):
        with pytest.raises(ConfigError, match="soft_prompt"):
            extract_features(base, tokenizer, SENTENCES, layers=[1], soft_prompt=bad, progress=False)
    with pytest.raises(ConfigError, match="whole context"):
        extract_features(base, tokenizer, SENTENCES, layers=[1], soft_prompt=torch.zeros(64, 32), progress=False)


# --------------------------------------------------------------------------- store


@pytest.fixture()
def store_inputs(tiny_dir: Path):
    rng = np.random.default_rng(0)
    ids = ["s1", "s2", "sentence-ü"]
    features = {0: rng.normal(size=(3, 8)).astype(np.float32), 4: rng.normal(size=(3, 8)).astype(np.float32)}
    identity = {**model_identity(tiny_dir), "pooling": "mean"}
    return ids, features, identity


def test_store_round_trip(tmp_path: Path, store_inputs) -> None:
    ids, features, identity = store_inputs
    path = tmp_path / "features.h5"
    write_feature_store(path, ids, features, identity=identity)
    store = read_feature_store(path, expected_identity=identity)
    assert store.stimulus_ids == tuple(ids)
    assert store.identity == identity
    assert store.cache_key == identity_cache_key(identity)
    assert set(store.layers) == {0, 4}
    for k, array in features.items():
        assert store.layers[k].dtype == np.float32
        np.testing.assert_array_equal(store.layers[k], array)
    with pytest.raises(AttributeError):
        store.identity = {}  # frozen


def test_store_round_trip_of_extracted_features(tmp_path: Path, lm, tiny_dir: Path) -> None:
    model, tokenizer = lm
    features = extract_features(model, tokenizer, SENTENCES, layers=[0, -1], progress=False)
    identity = {**model_identity(tiny_dir), "pooling": "mean"}
    ids = [f"stim{i}" for i in range(len(SENTENCES))]
    write_feature_store(tmp_path / "f.h5", ids, features, identity=identity)
    store = read_feature_store(tmp_path / "f.h5", expected_identity=identity)
    np.testing.assert_array_equal(store.layers[N_LAYER], features[N_LAYER])


def test_cache_key_depends_on_content_not_order() -> None:
    a = {"model": "gpt2", "pooling": "mean"}
    assert identity_cache_key(a) == identity_cache_key(dict(reversed(list(a.items()))))
    assert identity_cache_key(a) != identity_cache_key({**a, "pooling": "last"})


def test_identity_mismatch_is_data_error(tmp_path: Path, store_inputs) -> None:
    ids, features, identity = store_inputs
    path = tmp_path / "features.h5"
    write_feature_store(path, ids, features, identity=identity)
    with pytest.raises(DataError) as info:
        read_feature_store(path, expected_identity={**identity, "pooling": "last"})
    message = str(info.value)
    assert str(path) in message and "pooling=mean" in message and "pooling=last" in message
    assert "delete it or rerun the features rule" in message


@pytest.mark.parametrize("keep_fraction", [0.0, 0.1, 0.5, 0.9])
def test_truncated_store_is_data_error(tmp_path: Path, store_inputs, keep_fraction: float) -> None:
    ids, features, identity = store_inputs
    path = tmp_path / "features.h5"
    write_feature_store(path, ids, features, identity=identity)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    with pytest.raises(DataError, match="features.h5"):
        read_feature_store(path)


def test_missing_or_foreign_store_is_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing.h5"):
        read_feature_store(tmp_path / "missing.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_text("this is not HDF5")
    with pytest.raises(DataError, match="garbage.h5"):
        read_feature_store(garbage)
    import h5py

    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h5:
        h5.create_dataset("x", data=np.zeros(3))
    with pytest.raises(DataError, match="foreign.h5"):
        read_feature_store(foreign)


def test_write_rejects_inconsistent_input_and_keeps_old_file(tmp_path: Path, store_inputs) -> None:
    ids, features, identity = store_inputs
    path = tmp_path / "features.h5"
    write_feature_store(path, ids, features, identity=identity)
    before = path.read_bytes()
    with pytest.raises(DataError, match="shape"):
        write_feature_store(path, ids[:2], features, identity=identity)
    with pytest.raises(DataError, match="duplicate"):
        write_feature_store(path, ["a", "a", "b"], features, identity=identity)
    with pytest.raises(DataError, match="non-finite"):
        write_feature_store(path, ids, {0: np.full((3, 8), np.nan, dtype=np.float32)}, identity=identity)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.h5"]


def test_store_keeps_the_stimulus_texts_when_given(tmp_path: Path, store_inputs) -> None:
    ids, features, identity = store_inputs
    texts = [f"text of {s}" for s in ids]
    write_feature_store(tmp_path / "with.h5", ids, features, identity=identity, stimulus_texts=texts)
    write_feature_store(tmp_path / "without.h5", ids, features, identity=identity)
    assert read_feature_store(tmp_path / "with.h5").stimulus_texts == tuple(texts)
    assert read_feature_store(tmp_path / "without.h5").stimulus_texts is None
    with pytest.raises(DataError, match="2 stimulus texts"):
        write_feature_store(tmp_path / "bad.h5", ids, features, identity=identity, stimulus_texts=texts[:2])


# --------------------------------------------------------------------------- the same prefix for every variant


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory):
    """base, prompt, LoRA and random models on a tiny GPT-2 whose position embeddings are zero.

    Without position embeddings, layer 0 (the embedding output) of a token is its word
    embedding wherever it sits, so a variant's pooled layer-0 vector says exactly which
    tokens it pooled. The fine-tuned model runs through the same code path as base and
    random (a plain causal LM), so base stands for it.
    """
    from brainalign.tuning import prepare_for_tuning

    folder = build_tiny_gpt2(
        tmp_path_factory.mktemp("variants") / "gpt2", n_layer=2, n_embd=32, n_head=2, n_positions=64, seed=2
    )

    def plain(seed: int):
        model, tokenizer = load_causal_lm(folder, device="cpu")
        with torch.no_grad():
            if seed:  # the random baseline: other weights, same architecture and tokenizer
                for parameter in model.parameters():
                    parameter.copy_(torch.randn(parameter.shape, generator=torch.Generator().manual_seed(seed)) * 0.1)
            model.transformer.wpe.weight.zero_()
        return model.eval(), tokenizer

    base, tokenizer = plain(0)
    prompt = prepare_for_tuning(plain(0)[0], tokenizer, "prompt", num_virtual_tokens=N_VIRTUAL, init_text="Describe")
    with torch.no_grad():
        weight = prompt.prompt_encoder["default"].embedding.weight
        weight.copy_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(3)))
    lora = prepare_for_tuning(plain(0)[0], tokenizer, "lora", lora={"rank": 2, "alpha": 4, "dropout": 0.0})
    return {"base": base, "prompt": prompt.eval(), "lora": lora.eval(), "random": plain(7)[0]}, tokenizer


def _backbone_inputs(model, tokenizer, texts: list[str], **options) -> dict:
    """The keyword arguments the GPT-2 backbone (``transformer``) is called with."""
    seen = {}
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    hook = inner.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(kwargs), with_kwargs=True
    )
    try:
        extract_features(model, tokenizer, texts, layers=[0], progress=False, **options)
    finally:
        hook.remove()
    return seen


def test_every_variant_pools_exactly_the_sentence_tokens_behind_the_same_prefix(variants) -> None:
    models, tokenizer = variants
    bos = tokenizer.bos_token_id
    for name, model in models.items():
        inputs = _backbone_inputs(model, tokenizer, SENTENCES, batch_size=len(SENTENCES))
        wte = (model.get_base_model() if hasattr(model, "get_base_model") else model).transformer.wte.weight
        if name == "prompt":  # the prefix token follows the soft prompt
            embeds = inputs["inputs_embeds"]
            assert embeds.shape[1] == N_VIRTUAL + 1 + max(len(tokenizer(t)["input_ids"]) for t in SENTENCES)
            torch.testing.assert_close(embeds[:, N_VIRTUAL], wte[bos].expand(len(SENTENCES), -1), atol=0, rtol=0)
        else:
            assert (inputs["input_ids"][:, 0] == bos).all(), name
    # Layer 0 without position embeddings: the mean of the word embeddings of the pooled tokens.
    pooled = {
        name: extract_features(model, tokenizer, SENTENCES, layers=[0], progress=False)[0]
        for name, model in models.items()
    }
    wte = models["base"].transformer.wte.weight.detach()
    expected = np.stack([wte[tokenizer(t)["input_ids"]].mean(dim=0).numpy() for t in SENTENCES])
    for name in ("base", "prompt", "lora"):  # same word embeddings: the same span gives the same vector
        np.testing.assert_allclose(pooled[name], expected, atol=1e-6, rtol=0, err_msg=name)
    random_wte = models["random"].transformer.wte.weight.detach()
    np.testing.assert_allclose(
        pooled["random"], np.stack([random_wte[tokenizer(t)["input_ids"]].mean(dim=0).numpy() for t in SENTENCES]),
        atol=1e-6, rtol=0,
    )
    # Without the prefix the plain models' layout has no prefix token (the old layout).
    assert (_backbone_inputs(models["base"], tokenizer, SENTENCES[:1], prefix=False)["input_ids"][0, 0] != bos).item()


def _huge_position_zero(model, size: float = 1e4):
    """A hook on GPT-2's final layer norm that makes the last layer's position-0 state huge.

    The stand-in for GPT-2's attention sink: whatever token sits at position 0 gets an
    outsized last-layer state, and no other position is touched.
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model

    def hook(module, args, output):
        output = output.clone()
        output[:, 0] += size
        return output

    return inner.transformer.ln_f.register_forward_hook(hook)


@pytest.mark.parametrize("prefix", [True, False])
def test_a_huge_position_zero_state_reaches_no_variant_behind_the_prefix(variants, prefix: bool) -> None:
    models, tokenizer = variants
    last = 2  # the tiny GPT-2's last layer, after ln_f

    def features(name: str, huge: bool) -> np.ndarray:
        handle = _huge_position_zero(models[name]) if huge else None
        try:
            return extract_features(models[name], tokenizer, SENTENCES, layers=[last], prefix=prefix, progress=False)[last]
        finally:
            if handle is not None:
                handle.remove()

    shift = {name: np.abs(features(name, True) - features(name, False)).max() for name in ("base", "prompt", "lora")}
    # The prompt model's position 0 is a soft-prompt token, never pooled, with or without the prefix.
    assert shift["prompt"] < 1e-5
    if prefix:  # every variant: position 0 holds the prefix token, outside the pooled span
        assert shift["base"] < 1e-5 and shift["lora"] < 1e-5
    else:  # the first word is pooled: base and LoRA features differ from the prompt's through it
        assert shift["base"] > 100 and shift["lora"] > 100
