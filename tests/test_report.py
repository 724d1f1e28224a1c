"""Generated methods and summary text: numbers come from the tables, settings from the config."""

from pathlib import Path

import pandas as pd
import yaml

from brainalign.report import Block, methods_blocks, summary_blocks, to_html, to_markdown

from tests.test_plots import _comparisons, _scores  # the same synthetic tables as the figure tests


def test_methods_are_generated_from_the_config():
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
    config["statistics"]["n_permutations"] = 4321
    text = to_markdown(methods_blocks(config))
    assert "subjects S01, S02" in text and "simulated subjects" in text
    assert "4321 permutations" in text and "layers 0, 2, -1" in text and "tiny-gpt2" in text
    assert "summarization, qa, translation" in text
    assert "untrained weights drawn from seed 0" in text and "LoRA" not in text
    config["tuning"]["methods"].append("lora")
    config["tuning"]["lora"] = {"learning_rate": 0.001, "rank": 4, "alpha": 8}
    config["baselines"] = []
    text = to_markdown(methods_blocks(config))
    assert "LoRA of rank 4 (alpha 8)" in text and "untrained" not in text


def test_summary_reports_contrasts_with_numbers_and_q_values():
    scores = {"decoding": _scores(), "encoding": _scores("encoding")}
    comparisons = _comparisons()
    blocks = summary_blocks(scores, comparisons, fdr_alpha=0.05)
    text = to_markdown(blocks)
    assert text.startswith("# brainalign: summary of results")
    assert "SIMULATED DATA" in text
    # the language ROI's planted +0.1 over subjects with its CI and q
    assert "decoding / pereira / gpt / language / qa: +0.100 [0.080, 0.120], p = 0.001, q = 0.010 (" in text
    assert "decoding, prompt-finetune: 2 per-subject contrasts significantly positive and 0 significantly negative" in text
    html = to_html(blocks + [Block("p", "a < b & c")], title="t")
    assert "<h1>brainalign: summary of results</h1>" in html and "a &lt; b &amp; c" in html


def test_summary_without_comparisons_or_simulation():
    scores = {"decoding": _scores(simulated=False), "encoding": _scores("encoding", simulated=False)}
    text = to_markdown(summary_blocks(scores, pd.DataFrame()))
    assert "SIMULATED" not in text and "the untuned model (layer 4)" in text


def test_summary_names_each_tasks_scorer_and_says_when_it_is_not_valid():
    rows = [
        {"model": "gpt", "task": task, "method": method, "metric": "bertscore_f1", "score": 0.5, "n": 4,
         "ci_low": 0.4, "ci_high": 0.6, "scorer": "sentence-transformers/all-MiniLM-L6-v2", "scorer_layer": 6,
         "language": language, "scorer_valid": language == "en", "note": "" if language == "en" else "NOT VALID: why"}
        for task, language in (("qa", "en"), ("translation", "fr")) for method in ("base", "prompt")
    ]
    scores = {"decoding": _scores(simulated=False)}
    text = to_markdown(summary_blocks(scores, pd.DataFrame(), task_scores=pd.DataFrame(rows)))
    assert "gpt / qa: BERTScore by sentence-transformers/all-MiniLM-L6-v2, layer 6, en references\n" in text
    assert "gpt / translation: BERTScore by sentence-transformers/all-MiniLM-L6-v2, layer 6, fr references — NOT VALID: why" in text
    assert "gpt / translation / prompt: bertscore_f1 0.500 [0.400, 0.600] (NOT VALID" in text
    assert "gpt / qa / prompt: bertscore_f1 0.500 [0.400, 0.600]\n" in text
