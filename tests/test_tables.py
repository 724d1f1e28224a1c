"""Score tables are canonical: fixed columns, sorted rows, fixed float format, no duplicates."""

import pandas as pd
import pytest

from brainalign.errors import DataError
from brainalign.tables import TABLE_COLUMNS, gather_scores, read_table, write_table


def _rows(subject, direction="decoding", score=0.123456789):
    return pd.DataFrame(
        [
            {
                "direction": direction,
                "dataset": "pereira",
                "simulated": True,
                "subject": subject,
                "roi": roi,
                "n_voxels": 10,
                "n_stimuli": 20,
                "model": "m",
                "task": "none",
                "method": "base",
                "layer": 4,
                "metric": "2v2",
                "pairs": "all",
                "score": score,
                "ci_low": score - 0.1,
                "ci_high": score + 0.1,
                "p_value": 0.001,
                "alphas": "100;100;1000",
            }
            for roi in ("visual", "language")
        ]
    )


def test_write_table_is_byte_identical_whatever_the_row_order(tmp_path):
    frame = pd.concat([_rows("S02"), _rows("S01")], ignore_index=True)
    write_table(frame, tmp_path / "a.csv")
    write_table(frame.iloc[::-1], tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert lines[0] == ",".join(TABLE_COLUMNS)
    assert lines[1].startswith("decoding,pereira,True,S01,language,") and lines[1].endswith(",0.123457,0.023457,0.223457,0.001000,100;100;1000")


def test_duplicate_keys_are_rejected(tmp_path):
    with pytest.raises(DataError, match="same key"):
        write_table(pd.concat([_rows("S01"), _rows("S01")]), tmp_path / "t.csv")
    assert not (tmp_path / "t.csv").exists()


def test_gather_splits_directions_and_keeps_every_row(tmp_path):
    write_table(pd.concat([_rows("S01"), _rows("S01", "encoding")]), tmp_path / "s1.csv")
    write_table(_rows("S02"), tmp_path / "s2.csv")
    tables = gather_scores([tmp_path / "s1.csv", tmp_path / "s2.csv"])
    assert len(tables["decoding"]) == 4 and len(tables["encoding"]) == 2
    assert set(tables["decoding"]["subject"]) == {"S01", "S02"}
    assert set(tables["decoding"]["alphas"]) == {"100;100;1000"}  # the chosen alphas survive as text


def test_unreadable_table_names_the_file(tmp_path):
    (tmp_path / "broken.csv").write_text("")
    with pytest.raises(DataError, match="broken.csv"):
        read_table(tmp_path / "broken.csv")


def test_paper_pivot_puts_methods_side_by_side_with_the_base_score_and_a_subject_mean():
    from brainalign.tables import paper_pivot

    rows = []
    for subject, offset in (("S01", 0.0), ("S02", 0.1)):
        for task, method, score in (("none", "base", 0.6), ("qa", "prompt", 0.7), ("qa", "finetune", 0.65)):
            frame = _rows(subject, score=score + offset)
            frame["task"], frame["method"] = task, method
            rows.append(frame)
    pivot = paper_pivot(pd.concat(rows, ignore_index=True))
    assert list(pivot.columns) == [
        "dataset", "simulated", "model", "layer", "roi", "subject", "task", "prompt", "finetune", "base"
    ]
    assert pivot["simulated"].all()  # the rows are simulated, so every pivot row says so
    assert set(pivot["task"]) == {"qa"}
    row = pivot[(pivot["roi"] == "language") & (pivot["subject"] == "mean")].iloc[0]
    assert row["prompt"] == pytest.approx(0.75) and row["finetune"] == pytest.approx(0.70) and row["base"] == pytest.approx(0.65)
    assert len(pivot) == 2 * 3  # 2 ROIs x (2 subjects + mean)
    # Within- and cross-session scores of the same variants never reach the pivot.
    sessions = pd.concat(rows, ignore_index=True).assign(pairs="within_session", score=0.0)
    with_sessions = paper_pivot(pd.concat([*rows, sessions], ignore_index=True))
    pd.testing.assert_frame_equal(with_sessions, pivot)


def _vision_rows(direction="decoding"):
    rows = []
    for subject, offset in (("CSI1", 0.0), ("CSI2", 0.2)):
        for roi in ("EarlyVis", "LOC", "OPA", "PPA", "RSC"):
            for task, method, score in (
                ("none", "base", 0.5), ("mnist", "prompt", 0.6), ("mnist", "finetune", 0.7),
                ("shapes10", "prompt", 0.55), ("shapes10", "finetune", 0.65),
            ):
                rows.append({
                    "direction": direction, "dataset": "bold5000", "simulated": True, "subject": subject, "roi": roi,
                    "n_voxels": 10, "n_stimuli": 120, "model": "vit", "task": task, "method": method, "layer": 2,
                    "metric": "2v2", "pairs": "all", "score": score + offset,
                })
    return pd.DataFrame(rows)


def test_vision_pivot_orders_loc_and_opa_first_names_tasks_honestly_and_labels_simulated():
    from brainalign.tables import VISION_PIVOT_COLUMNS, paper_pivot, vision_pivot

    names = {"mnist": "MNIST", "shapes10": "shapes10 (synthetic stand-in for CIFAR-10)"}
    tables = {
        "decoding": pd.concat([_vision_rows(), _rows("S01")], ignore_index=True),
        "encoding": _vision_rows("encoding"),
    }
    pivot = vision_pivot(tables, task_names=names)
    assert list(pivot.columns) == list(VISION_PIVOT_COLUMNS)
    assert set(pivot["dataset"]) == {"bold5000"} and pivot["simulated"].all()
    assert len(pivot) == 2 * 5 * 3 * 2  # directions x ROIs x (subjects + mean) x tasks
    decoding = pivot[pivot["direction"] == "decoding"]
    assert list(dict.fromkeys(decoding["roi"])) == ["LOC", "OPA", "PPA", "RSC", "EarlyVis"]
    row = decoding[(decoding["roi"] == "LOC") & (decoding["subject"] == "mean") & (decoding["task"] == "shapes10")].iloc[0]
    assert row["task_name"] == names["shapes10"]
    assert (row["prompt"], row["finetune"], row["base"]) == pytest.approx((0.65, 0.75, 0.6))
    assert vision_pivot({"decoding": _rows("S01")}, task_names=names).empty
    # The text arm's pivot can be restricted to its own data set.
    assert set(paper_pivot(tables["decoding"], datasets=["pereira"])["dataset"]) <= {"pereira"}


def test_paper_pivot_adds_lora_after_finetune_and_random_after_base():
    from brainalign.tables import paper_pivot

    rows = []
    for task, method, score in (("none", "base", 0.6), ("none", "random", 0.52), ("qa", "lora", 0.68),
                                ("qa", "prompt", 0.7), ("qa", "finetune", 0.65)):
        frame = _rows("S01", score=score)
        frame["task"], frame["method"] = task, method
        rows.append(frame)
    pivot = paper_pivot(pd.concat(rows, ignore_index=True))
    assert list(pivot.columns)[-5:] == ["prompt", "finetune", "lora", "base", "random"]
    assert set(pivot["task"]) == {"qa"}  # the untrained model is a column, not a task row
    row = pivot[(pivot["roi"] == "language") & (pivot["subject"] == "S01")].iloc[0]
    assert row["random"] == pytest.approx(0.52) and row["lora"] == pytest.approx(0.68)
