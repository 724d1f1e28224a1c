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
    assert "4321 permutations" in text and "primary contrast is prompt-finetune" in text and "layers 0, 2, -1" in text and "tiny-gpt2" in text
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
    # The headline is the primary contrast at the group level over stimuli, before anything else;
    # a negligible difference is stated as negligible, and the over-subject test states its floor.
    headline = text.index("## Headline: prompt-finetune (primary contrast), group level over stimuli, layer 4")
    assert headline < text.index("## Decoding: the untuned model")
    assert "decoding / pereira / gpt / dmn / qa: negligible difference (+0.000 [-0.020, 0.020]" in text
    assert "with 2 subject(s) its p cannot go below 0.500" in text
    assert "above chance at q < 0.05" in text and "at p < 0.05" not in text
    html = to_html(blocks + [Block("p", "a < b & c")], title="t")
    assert "<h1>brainalign: summary of results</h1>" in html and "a &lt; b &amp; c" in html


def test_summary_without_comparisons_or_simulation():
    scores = {"decoding": _scores(simulated=False), "encoding": _scores("encoding", simulated=False)}
    text = to_markdown(summary_blocks(scores, pd.DataFrame()))
    assert "SIMULATED" not in text and "the untuned model (layer 4)" in text


def test_above_chance_is_decided_on_q_not_on_the_raw_p():
    scores = _scores()
    # every score has p = 0.04: below 0.05 alone, but not once BH accounts for the many scores
    # with p = 1 in the same direction
    scores["p_value"] = 1.0
    scores.loc[(scores["method"] == "base") & (scores["layer"] == 4), "p_value"] = 0.04
    text = to_markdown(summary_blocks({"decoding": scores}, pd.DataFrame()))
    assert "0 of 2 above chance at q < 0.05" in text
    scores["p_value"] = 0.04
    text = to_markdown(summary_blocks({"decoding": scores}, pd.DataFrame()))
    assert "2 of 2 above chance at q < 0.05" in text


def _tuning_table():
    """Two checkpoints' searches of 3 learning rates: text (by loss) and vision (by accuracy)."""
    rows = []
    for rate, loss in ((0.01, 2.5), (0.03, 2.1), (0.1, 2.3)):  # text: the middle one wins
        rows.append(dict(model="gpt", task="qa", method="prompt", learning_rate=rate, selected=rate == 0.03,
                         best_validation_loss=loss - 0.05, steps=100, validation_loss=loss,
                         validation_accuracy=float("nan"), optimizer="adamw", criterion="validation_loss"))
    for rate, accuracy in ((1e-5, 0.7), (3e-5, 0.8), (1e-4, 0.9)):  # vision: the largest rate wins, at the edge
        rows.append(dict(model="vit", task="mnist", method="finetune", learning_rate=rate, selected=rate == 1e-4,
                         best_validation_loss=1.0 - accuracy, steps=859, validation_loss=1.0 - accuracy,
                         validation_accuracy=accuracy, optimizer="adamw", criterion="validation_accuracy"))
    return pd.DataFrame(rows)


def test_tuning_section_names_the_chosen_rate_its_grid_and_choices_at_the_edge():
    from brainalign.report import tuning_blocks

    text = to_markdown(tuning_blocks(_tuning_table()))
    assert "## Hyperparameter search" in text and "grid of 3 value(s)" in text
    assert "gpt / qa / prompt: learning rate 0.03 of [0.01, 0.03, 0.1] (adamw, 100 steps); validation loss 2.100" in text
    assert "vit / mnist / finetune: learning rate 0.0001 of [1e-05, 3e-05, 0.0001] (adamw, 859 steps); " \
           "validation accuracy 0.900, loss 0.100" in text
    assert "edge of its grid" in text and "vit / mnist / finetune." in text and "gpt / qa / prompt." not in text
    assert tuning_blocks(_tuning_table().iloc[:0]) == []


def test_methods_section_lists_each_methods_grid_and_the_epoch_budget():
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "paper.yaml").read_text())
    text = to_markdown(methods_blocks(config))
    assert "prompt: learning rates searched 0.01, 0.03, 0.1 (adamw)" in text
    assert "finetune: learning rates searched 2e-05, 5e-05, 0.0001 (adamw)" in text


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
