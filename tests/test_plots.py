"""Figures have the panels, labels and stamps the tables call for (not only a file)."""

import itertools

import numpy as np
import pandas as pd

from brainalign.plots import (
    SIMULATED_STAMP,
    make_figure,
    plot_differences,
    plot_methods_by_task,
    plot_scores_by_layer,
    plot_scores_by_roi,
    plot_task_scores,
    save_figure,
)

ROIS = ("language", "dmn", "visual")


def _scores(direction="decoding", dataset="pereira", model="gpt", tasks=("qa", "summarization"), rois=ROIS,
            layers=(0, 4), simulated=True):
    rng = np.random.default_rng(0)
    variants = [("none", "base")] + [(task, method) for task in tasks for method in ("prompt", "finetune")]
    rows = []
    for (task, method), subject, roi, layer in itertools.product(variants, ("S01", "S02"), rois, layers):
        score = 0.5 + 0.3 * rng.random()
        rows.append(dict(direction=direction, dataset=dataset, simulated=simulated, subject=subject, roi=roi,
                         model=model, task=task, method=method, layer=layer, metric="2v2", score=score,
                         ci_low=score - 0.05, ci_high=score + 0.05, p_value=0.01))
    return pd.DataFrame(rows)


def _comparisons():
    rows = []
    levels = (("S01", "stimuli"), ("S02", "stimuli"), ("all", "stimuli"), ("all", "subjects"))
    for direction, task, (subject, over), roi in itertools.product(("decoding", "encoding"), ("qa",), levels, ROIS):
        diff = 0.1 if roi == "language" else 0.0
        sign_flip = over == "subjects"
        rows.append(dict(direction=direction, dataset="pereira", simulated=True, model="gpt", task=task,
                         contrast="prompt-finetune", method_a="prompt", method_b="finetune", subject=subject, roi=roi,
                         layer=4, metric="2v2", generalises_over=over, n_subjects=2 if subject == "all" else 1,
                         n_stimuli=50, diff=diff, ci_low=diff - 0.02, ci_high=diff + 0.02,
                         p=(0.5 if sign_flip else 0.001) if diff else 0.6,
                         q=(0.5 if sign_flip else 0.01) if diff else 0.7, min_p=0.5 if sign_flip else 0.001,
                         effect=("inconclusive" if sign_flip else "significant") if diff else "negligible", primary=True))
    return pd.DataFrame(rows)


def _texts(figure):
    return [text.get_text() for text in figure.texts]


def test_scores_by_roi_has_one_panel_per_tuned_method_with_roi_ticks_and_chance():
    figure = plot_scores_by_roi(_scores(), dataset="pereira", model="gpt", direction="decoding", layer=4)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["prompt", "finetune"]
    for ax in axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == sorted(ROIS)
        assert ax.get_ylabel() == "2v2 accuracy" and ax.get_xlabel() == "ROI"
        assert any(np.allclose(line.get_ydata(), 0.5) for line in ax.get_lines())  # chance line
    labels = axes[0].get_legend_handles_labels()[1]
    assert {"qa", "summarization", "chance", "base (untuned)"} <= set(labels)
    assert SIMULATED_STAMP in _texts(figure) and "layer 4" in figure._suptitle.get_text()


def test_methods_by_task_shows_the_requested_rois_and_no_stamp_on_real_data():
    scores = _scores(dataset="bold5000", model="vit", tasks=("mnist", "cifar10"), rois=("EarlyVis", "LOC", "OPA"),
                     simulated=False)
    figure = plot_methods_by_task(scores, dataset="bold5000", model="vit", direction="decoding", layer=4, rois=["LOC", "OPA"])
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["LOC", "OPA"]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["cifar10", "mnist"]
    assert {"prompt", "finetune"} <= set(axes[0].get_legend_handles_labels()[1])
    assert SIMULATED_STAMP not in _texts(figure)


def test_differences_mark_fdr_significant_contrasts():
    figure = plot_differences(_comparisons(), dataset="pereira", model="gpt", contrast="prompt-finetune", layer=4)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["decoding", "encoding"]
    assert "prompt − finetune" in axes[0].get_ylabel()
    stars = [child for child in axes[0].get_children() if getattr(child, "get_text", lambda: "")() == "*"]
    assert len(stars) == 1  # only the language ROI's over-subject contrast has q < 0.05


def test_layer_and_task_score_figures():
    figure = plot_scores_by_layer(_scores(), dataset="pereira", model="gpt", direction="decoding")
    axes = figure.get_axes()
    assert len(axes) == 3 and all(ax.get_xlabel() == "layer" for ax in axes)
    assert [line.get_label() for line in axes[0].get_lines()][:3] == ["base", "prompt", "finetune"]
    task_scores = pd.DataFrame(
        [dict(model="gpt", task=task, method=method, metric=metric, score=0.5, n=10, ci_low=0.4, ci_high=0.6)
         for task in ("qa", "summarization") for method in ("base", "prompt", "finetune")
         for metric in ("bertscore_f1", "bertscore_recall")]
    )
    figure = plot_task_scores(task_scores, simulated=True)
    (ax,) = figure.get_axes()
    assert ax.get_ylabel() == "bertscore_f1" and ax.get_title() == "gpt"
    assert ax.get_legend_handles_labels()[1] == ["base", "prompt", "finetune"]


def test_make_figure_dispatches_and_saves_png_and_svg(tmp_path):
    scores = {"decoding": _scores(), "encoding": _scores("encoding")}
    spec = {"kind": "by_task", "dataset": "pereira", "model": "gpt", "direction": "encoding"}
    figure = make_figure(spec, scores=scores)
    assert len(figure.get_axes()) == 3 and "layer 4" in figure._suptitle.get_text()
    paths = save_figure(figure, tmp_path / "f")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "f.svg").stat().st_size > 1000
    assert paths == [str(tmp_path / "f.png"), str(tmp_path / "f.svg")]
    figure = make_figure({"kind": "difference", "dataset": "pereira", "model": "gpt"}, scores=scores,
                         comparisons=_comparisons())
    assert len(figure.get_axes()) == 2
    empty = make_figure({"kind": "by_roi", "dataset": "bold5000", "model": "vit", "direction": "decoding"}, scores=scores)
    assert "no rows" in empty.get_axes()[0].texts[0].get_text()


def test_the_same_figure_saves_to_identical_bytes(tmp_path):
    import matplotlib.pyplot as plt

    saved = []
    for run in ("a", "b"):
        figure, ax = plt.subplots()
        ax.plot([0, 1, 2], [0.5, 0.7, 0.6])
        save_figure(figure, tmp_path / run)
        saved.append(((tmp_path / f"{run}.svg").read_bytes(), (tmp_path / f"{run}.png").read_bytes()))
    assert saved[0] == saved[1]


def test_random_and_lora_variants_are_drawn_as_floor_and_third_arm():
    scores = _scores()
    extra = scores[scores["method"] == "finetune"].assign(method="lora", score=0.6)
    floor = scores[scores["method"] == "base"].assign(method="random", score=0.51)
    scores = pd.concat([scores, extra, floor], ignore_index=True)
    by_roi = plot_scores_by_roi(scores, dataset="pereira", model="gpt", direction="decoding", layer=4)
    assert [ax.get_title() for ax in by_roi.get_axes()] == ["prompt", "finetune", "lora"]
    assert {"base (untuned)", "random (untrained)"} <= set(by_roi.get_axes()[0].get_legend_handles_labels()[1])
    by_task = plot_methods_by_task(scores, dataset="pereira", model="gpt", direction="decoding", layer=4)
    ax = by_task.get_axes()[0]
    labels = ax.get_legend_handles_labels()[1]
    assert [label for label in labels if label in ("prompt", "finetune", "lora")] == ["prompt", "finetune", "lora"]
    assert {"prompt", "finetune", "lora", "random (untrained)"} <= set(labels) and "random" not in labels
    assert any(np.allclose(line.get_ydata(), 0.51) for line in ax.get_lines())  # the untrained floor
