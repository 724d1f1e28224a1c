"""The tuning-curves figure: one panel per checkpoint, one line per candidate, the winner solid."""

import pandas as pd
import pytest

from brainalign.errors import DataError
from brainalign.plots import save_figure
from brainalign.plots_tuning import plot_tuning_curves


def _curves():
    rows = []
    for method, rates, winner in (("prompt", (0.01, 0.03, 0.1), 0.03), ("finetune", (2e-5, 5e-5, 1e-4), 1e-4)):
        for rate in rates:
            for step, loss in ((0, 3.0), (50, 2.0 + rate), (100, 1.5 + rate)):
                rows.append(dict(model="gpt", task="qa", method=method, learning_rate=rate, selected=rate == winner,
                                 step=step, validation_loss=loss))
    return pd.DataFrame(rows)


def test_one_panel_per_checkpoint_one_line_per_candidate_and_the_winner_marked(tmp_path):
    figure = plot_tuning_curves(_curves())
    axes = figure.axes
    assert [ax.get_title() for ax in axes] == ["gpt / qa / finetune", "gpt / qa / prompt"]
    prompt = axes[1]
    assert len(prompt.get_lines()) == 3
    labels = [line.get_label() for line in prompt.get_lines()]
    assert labels == ["lr=0.01", "lr=0.03 (selected)", "lr=0.1"]
    styles = {line.get_label(): line.get_linestyle() for line in prompt.get_lines()}
    assert styles["lr=0.03 (selected)"] == "-" and styles["lr=0.01"] == "--"
    assert list(prompt.get_lines()[0].get_xdata()) == [0, 50, 100]
    paths = save_figure(figure, tmp_path / "tuning_curves")
    assert all((tmp_path / name).stat().st_size > 0 for name in ("tuning_curves.png", "tuning_curves.svg")) and len(paths) == 2


def test_no_curves_is_an_error():
    with pytest.raises(DataError, match="empty"):
        plot_tuning_curves(_curves().iloc[:0])
