"""Task evaluation: greedy generation (plain and prompt-tuned GPT-2), BERTScore, task-score tables."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from brainalign import evaluation
from brainalign.errors import ConfigError, DataError
from brainalign.evaluation import (
    bertscore,
    evaluate_generations,
    generate,
    summarise_scores,
    task_score_pivot,
)
from brainalign.models.language import build_tiny_gpt2, load_causal_lm

# Different lengths, so that in a batch most of them are left-padded.
PROMPTS = [
    "The cat sat on",
    "Hello",
    "A much longer prompt, with many more words in it than the other ones have",
    "Summarize: the river flooded the town",
    "Q: what is two plus two? A:",
]
N_VIRTUAL = 4


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gpt2(
        tmp_path_factory.mktemp("eval") / "gpt2", n_layer=2, n_embd=32, n_head=2, n_positions=64, seed=0
    )


@pytest.fixture(scope="module")
def plain(tiny_dir: Path):
    return load_causal_lm(tiny_dir, device="cpu")


@pytest.fixture(scope="module")
def prompt_tuned(tiny_dir: Path):
    from peft import PromptTuningConfig, get_peft_model

    model, tokenizer = load_causal_lm(tiny_dir, device="cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        peft_model = get_peft_model(
            model,
            PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=N_VIRTUAL, prompt_tuning_init="RANDOM"),
        )
    peft_model.eval()
    return peft_model, tokenizer


def reference_greedy(model, tokenizer, prompt: str, max_new_tokens: int) -> str:
    """Greedy decoding the slow, obviously-correct way: one unpadded prompt, full forward per step.

    For a PEFT model this goes through ``PeftModel.forward``, which prepends the soft prompt
    as in training.
    """
    ids = torch.tensor([tokenizer(prompt)["input_ids"]])
    new: list[int] = []
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        token = int(logits[0, -1].argmax())
        if token == tokenizer.eos_token_id:
            break
        new.append(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return tokenizer.decode(new).strip()


# --------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["plain", "prompt_tuned"])
def test_generation_does_not_depend_on_batch_composition(which: str, request: pytest.FixtureRequest) -> None:
    model, tokenizer = request.getfixturevalue(which)
    alone = [generate(model, tokenizer, [p], max_new_tokens=8, progress=False)[0] for p in PROMPTS]
    together = generate(model, tokenizer, PROMPTS, max_new_tokens=8, batch_size=len(PROMPTS), progress=False)
    in_pairs = generate(model, tokenizer, PROMPTS, max_new_tokens=8, batch_size=2, progress=False)
    assert together == alone
    assert in_pairs == alone
    # ... and it is the right greedy decoding, not just a consistent one.
    assert alone == [reference_greedy(model, tokenizer, p, 8) for p in PROMPTS]
    assert all(text for text in alone)


def test_prompt_tuned_generation_uses_the_soft_prompt(plain, prompt_tuned) -> None:
    plain_out = generate(*plain, PROMPTS, max_new_tokens=6, progress=False)
    tuned_out = generate(*prompt_tuned, PROMPTS, max_new_tokens=6, progress=False)
    assert plain_out != tuned_out


def test_generation_restores_training_mode(prompt_tuned) -> None:
    model, tokenizer = prompt_tuned
    model.train()
    try:
        generate(model, tokenizer, PROMPTS[:1], max_new_tokens=2, progress=False)
        assert model.training
    finally:
        model.eval()


@pytest.mark.parametrize("which", ["plain", "prompt_tuned"])
def test_max_new_tokens_is_respected(which: str, request: pytest.FixtureRequest) -> None:
    model, tokenizer = request.getfixturevalue(which)
    for n in (1, 3):
        out = generate(model, tokenizer, PROMPTS, max_new_tokens=n, progress=False)
        assert out == [reference_greedy(model, tokenizer, p, n) for p in PROMPTS]
    short = generate(model, tokenizer, PROMPTS, max_new_tokens=2, progress=False)
    longer = generate(model, tokenizer, PROMPTS, max_new_tokens=7, progress=False)
    for s, l in zip(short, longer):
        assert l.startswith(s) and len(l) > len(s)


@pytest.mark.parametrize("which", ["plain", "prompt_tuned"])
def test_generation_excludes_the_prompt(which: str, request: pytest.FixtureRequest) -> None:
    model, tokenizer = request.getfixturevalue(which)
    out = generate(model, tokenizer, PROMPTS, max_new_tokens=4, progress=False)
    for prompt, text in zip(PROMPTS, out):
        assert not text.startswith(prompt)
        assert prompt not in text
        assert text == text.strip()


def test_decoding_stops_at_eos(plain) -> None:
    _, tokenizer = plain
    eos = tokenizer.eos_token_id
    a, b, c = tokenizer(" one two three")["input_ids"]
    assert evaluation.generation._decode_continuation(tokenizer, [a, b, eos, c], eos) == "one two"
    assert evaluation.generation._decode_continuation(tokenizer, [eos, a], eos) == ""


def test_model_that_emits_eos_gives_empty_continuations(tiny_dir: Path) -> None:
    model, tokenizer = load_causal_lm(tiny_dir, device="cpu")
    with torch.no_grad():
        # Every final hidden state becomes the same vector b, and eos is the token most aligned with it.
        b = torch.randn(model.config.n_embd, generator=torch.Generator().manual_seed(0))
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.copy_(b)
        model.lm_head.weight[tokenizer.eos_token_id] = 10 * b
    assert generate(model, tokenizer, PROMPTS, max_new_tokens=5, batch_size=2, progress=False) == [""] * len(PROMPTS)


@pytest.mark.parametrize(("which", "budget"), [("plain", 64 - 8), ("prompt_tuned", 64 - 8 - N_VIRTUAL)])
def test_long_prompts_are_left_truncated_with_a_warning(
    which: str, budget: int, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    model, tokenizer = request.getfixturevalue(which)
    long_prompt = "word" + " word" * 99  # 100 tokens > 64-token context
    assert len(tokenizer(long_prompt)["input_ids"]) == 100
    with caplog.at_level(logging.WARNING, logger="brainalign.evaluation"):
        out = generate(model, tokenizer, [long_prompt, "Hello"], max_new_tokens=8, progress=False)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("1 of 2 prompts" in m and f"last {budget} tokens" in m for m in messages), messages
    # the kept part is the prompt's last `budget` tokens
    assert out[0] == generate(model, tokenizer, [" word" * budget], max_new_tokens=8, progress=False)[0]
    assert out[1] == generate(model, tokenizer, ["Hello"], max_new_tokens=8, progress=False)[0]


def test_generate_rejects_bad_settings(plain) -> None:
    model, tokenizer = plain
    with pytest.raises(ConfigError, match="max_new_tokens"):
        generate(model, tokenizer, ["a"], max_new_tokens=0, progress=False)
    with pytest.raises(ConfigError, match="no room"):
        generate(model, tokenizer, ["a"], max_new_tokens=64, progress=False)
    assert generate(model, tokenizer, [], progress=False) == []


# --------------------------------------------------------------------------------------
# BERTScore
# --------------------------------------------------------------------------------------

CANDIDATES = [
    "the cat sat on the mat",
    "the cat sat on the mat",
    "the cat sat on the mat",
    "",
    "   ",
    "A quick brown fox jumps over the lazy dog.",
]
REFERENCES = [
    "the cat sat on the mat",
    "a cat was sitting on the mat",
    "stock markets fell sharply on tuesday",
    "something was said",
    "another reference",
    "The fast brown fox leaps over a sleepy dog.",
]


@pytest.fixture(scope="module")
def scored() -> tuple[dict[str, np.ndarray], list[str]]:
    logger = logging.getLogger("brainalign.evaluation")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Keep(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        scores = bertscore(CANDIDATES, REFERENCES)
    finally:
        logger.removeHandler(handler)
    return scores, records


def test_bertscore_identical_sentences_score_one(scored) -> None:
    scores, _ = scored
    for key in ("precision", "recall", "f1"):
        assert scores[key][0] > 0.999
        assert scores[key][0] <= 1.0 + 1e-5


def test_bertscore_paraphrase_beats_unrelated(scored) -> None:
    scores, _ = scored
    for key in ("precision", "recall", "f1"):
        assert scores[key][1] > scores[key][2] + 0.3
    assert scores["f1"][5] > 0.7


def test_bertscore_empty_candidates_score_zero_and_are_counted(scored) -> None:
    scores, messages = scored
    for key in ("precision", "recall", "f1"):
        assert scores[key].shape == (len(CANDIDATES),)
        assert scores[key].dtype == np.float64
        assert np.isfinite(scores[key]).all()
        assert scores[key][3] == 0.0 and scores[key][4] == 0.0
    assert any("2 of 6 candidates are empty" in m for m in messages), messages


def test_bertscore_matches_an_independent_computation(scored) -> None:
    """Raw BERTScore by hand: layer-6 token embeddings, cosine greedy matching, [CLS]/[SEP] weight 0."""
    from transformers import AutoModel, AutoTokenizer

    scores, _ = scored
    path = evaluation.default_scorer_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()

    def embed(text: str) -> torch.Tensor:
        with torch.no_grad():
            hidden = model(**tokenizer(text, return_tensors="pt"), output_hidden_states=True).hidden_states[6][0]
        return torch.nn.functional.normalize(hidden, dim=-1)

    for i in (1, 2, 5):
        sim = embed(CANDIDATES[i]) @ embed(REFERENCES[i]).T  # rows: candidate tokens incl. [CLS], [SEP]
        precision = sim[1:-1].max(dim=1).values.mean().item()
        recall = sim[:, 1:-1].max(dim=0).values.mean().item()
        f1 = 2 * precision * recall / (precision + recall)
        assert scores["precision"][i] == pytest.approx(precision, abs=1e-4)
        assert scores["recall"][i] == pytest.approx(recall, abs=1e-4)
        assert scores["f1"][i] == pytest.approx(f1, abs=1e-4)


def test_bertscore_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="2 candidates but 1 references"):
        bertscore(["a", "b"], ["a"])
    missing = tmp_path / "no_such_scorer"
    with pytest.raises(ConfigError, match=str(missing)):
        bertscore(["a"], ["b"], model_type=missing, num_layers=2)
    not_a_model = tmp_path / "empty_dir"
    not_a_model.mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        bertscore(["a"], ["b"], model_type=not_a_model, num_layers=2)
    with pytest.raises(ConfigError, match="scorer_num_layers"):
        bertscore(["a"], ["b"], model_type=evaluation.default_scorer_path())
    with pytest.raises(ConfigError, match="has 6 layers"):
        bertscore(["a"], ["b"], model_type=evaluation.default_scorer_path(), num_layers=7)
    with pytest.raises(ConfigError, match="not-a-cached-scorer-model"):
        bertscore(["a"], ["b"], model_type="not-a-cached-scorer-model", num_layers=2)


def test_bertscore_of_only_empty_or_no_pairs_needs_no_model() -> None:
    out = bertscore(["", None, float("nan")], ["x", "y", "z"])
    for key in ("precision", "recall", "f1"):
        assert out[key].tolist() == [0.0, 0.0, 0.0]
    assert all(v.shape == (0,) for v in bertscore([], []).values())


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


def test_evaluate_generations_table() -> None:
    records = [
        {"id": "t0", "prompt": "Summarize: a", "target": "the cat sat on the mat"},
        {"id": "t1", "prompt": "Summarize: b", "target": "stock markets fell sharply"},
    ]
    table = evaluate_generations(records, ["the cat sat on the mat", ""])
    assert list(table.columns) == [
        "id", "prompt", "target", "generation", "precision", "recall", "f1", "f1_rescaled",
        "scorer", "scorer_layer", "language", "scorer_valid", "note",
    ]
    assert table["id"].tolist() == ["t0", "t1"]
    assert table["generation"].tolist() == ["the cat sat on the mat", ""]
    assert table.loc[0, "f1"] > 0.999
    assert table.loc[1, ["precision", "recall", "f1"]].tolist() == [0.0, 0.0, 0.0]
    # The offline English scorer on English references: valid, but bert-score has no baseline for it.
    assert set(table["scorer"]) == {"sentence-transformers/all-MiniLM-L6-v2"} and set(table["scorer_layer"]) == {6}
    assert set(table["language"]) == {"en"} and table["scorer_valid"].all()
    assert table["f1_rescaled"].isna().all() and table.loc[0, "note"].startswith("bert-score ships no baseline")
    with pytest.raises(DataError, match="2 records but 1 generations"):
        evaluate_generations(records, ["x"])
    with pytest.raises(DataError, match="lacks"):
        evaluate_generations([{"id": "a", "prompt": "p"}], ["x"])
    with pytest.raises(DataError, match="duplicate"):
        evaluate_generations([records[0], records[0]], ["x", "y"])


def _per_example(f1: list[float], precision: list[float], recall: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"id": range(len(f1)), "precision": precision, "recall": recall, "f1": f1})


def test_summarise_scores_means_and_shape() -> None:
    table = _per_example(f1=[0.2, 0.4, 0.9], precision=[0.1, 0.5, 0.6], recall=[0.3, 0.3, 1.0])
    summary = summarise_scores(table, model="gpt2", task="summarization", method="prompt")
    assert list(summary.columns[:6]) == ["model", "task", "method", "metric", "score", "n"]
    assert summary["metric"].tolist() == ["bertscore_precision", "bertscore_recall", "bertscore_f1"]
    assert summary["score"].tolist() == pytest.approx([0.4, 1.6 / 3, 0.5])
    assert summary["n"].tolist() == [3, 3, 3]
    assert set(summary["model"]) == {"gpt2"} and set(summary["task"]) == {"summarization"}
    assert set(summary["method"]) == {"prompt"}
    assert (summary["ci_low"] <= summary["score"]).all() and (summary["score"] <= summary["ci_high"]).all()
    assert (summary["ci_low"] >= 0.1 - 1e-12).all() and (summary["ci_high"] <= 1.0 + 1e-12).all()
    again = summarise_scores(table, model="gpt2", task="summarization", method="prompt")
    pd.testing.assert_frame_equal(summary, again)
    with pytest.raises(DataError, match="non-finite"):
        summarise_scores(_per_example([math.nan], [0.1], [0.1]), model="m", task="t", method="base")
    with pytest.raises(DataError, match="lacks"):
        summarise_scores(table.drop(columns="recall"), model="m", task="t", method="base")
    with pytest.raises(DataError, match="no examples"):
        summarise_scores(table.iloc[:0], model="m", task="t", method="base")


def test_task_score_pivot_is_paper_table_one() -> None:
    f1 = {
        ("summarization", "base"): 0.10,
        ("summarization", "prompt"): 0.30,
        ("summarization", "finetune"): 0.50,
        ("qa", "base"): 0.20,
        ("qa", "prompt"): 0.40,
        ("qa", "finetune"): 0.60,
    }
    long = pd.concat(
        [
            summarise_scores(
                _per_example(f1=[v, v], precision=[v + 0.01] * 2, recall=[v - 0.01] * 2),
                model="gpt2",
                task=task,
                method=method,
            )
            for (task, method), v in f1.items()
        ],
        ignore_index=True,
    )
    pivot = task_score_pivot(long)
    assert list(pivot.columns) == ["model", "task", "base", "prompt", "finetune"]
    assert pivot["task"].tolist() == ["qa", "summarization"]
    assert pivot[["base", "prompt", "finetune"]].to_numpy() == pytest.approx(np.array([[0.2, 0.4, 0.6], [0.1, 0.3, 0.5]]))
    precision = task_score_pivot(long, metric="bertscore_precision")
    assert precision.loc[precision["task"] == "qa", "prompt"].item() == pytest.approx(0.41)
    with pytest.raises(DataError, match="several"):
        task_score_pivot(pd.concat([long, long.iloc[:3]], ignore_index=True))
    with pytest.raises(DataError, match="no rows"):
        task_score_pivot(long, metric="accuracy")


def test_gather_task_scores_reads_model_task_method_from_the_paths(tmp_path):
    from brainalign.evaluation import gather_task_scores

    paths = []
    for task, method, f1 in (("qa", "base", 0.2), ("qa", "prompt", 0.4)):
        path = tmp_path / "tiny" / task / f"{method}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {"id": ["a", "b"], "prompt": ["p", "q"], "target": ["t", "u"], "generation": ["", "x"],
             "precision": [f1, f1], "recall": [f1, f1], "f1": [f1, f1]}
        ).to_csv(path, index=False)
        paths.append(path)
    scores = gather_task_scores(paths)
    f1 = scores[scores["metric"] == "bertscore_f1"].set_index("method")["score"]
    assert set(scores["model"]) == {"tiny"} and set(scores["task"]) == {"qa"}
    assert f1["base"] == pytest.approx(0.2) and f1["prompt"] == pytest.approx(0.4)
