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
                "score": score,
                "ci_low": score - 0.1,
                "ci_high": score + 0.1,
                "p_value": 0.001,
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
    assert lines[1].startswith("decoding,pereira,True,S01,language,") and lines[1].endswith(",0.123457,0.023457,0.223457,0.001000")


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
    assert list(pivot.columns) == ["dataset", "model", "layer", "roi", "subject", "task", "prompt", "finetune", "base"]
    assert set(pivot["task"]) == {"qa"}
    row = pivot[(pivot["roi"] == "language") & (pivot["subject"] == "mean")].iloc[0]
    assert row["prompt"] == pytest.approx(0.75) and row["finetune"] == pytest.approx(0.70) and row["base"] == pytest.approx(0.65)
    assert len(pivot) == 2 * 3  # 2 ROIs x (2 subjects + mean)
