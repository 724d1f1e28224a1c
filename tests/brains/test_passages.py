"""The passages command: 627-layout passage labels from the official .mat files."""

from __future__ import annotations

import numpy as np

from brainalign.brains.passages import main
from brainalign.brains.pereira import load_pereira_627, load_pereira_mat

# Experiment 2: passages of 4; experiment 3: passages of 3 and 4 (blocks of 4 would be wrong).
EXPERIMENTS = {"384sentences": [1, 1, 1, 1, 2, 2, 2, 2], "243sentences": [1, 1, 1, 2, 2, 2, 2, 3, 3, 3]}


def _standins(tmp_path, small_mat, atlases):
    rng = np.random.default_rng(0)
    paths, sentences, matrices = [], [], []
    for experiment, passages in EXPERIMENTS.items():
        texts = [f"{experiment} sentence {i}  with   spacing." for i in range(len(passages))]
        matrix = rng.standard_normal((len(passages), 12))
        paths.append(small_mat(
            tmp_path / "M02" / f"data_{experiment}.mat", examples=matrix, atlases=atlases, sentences=texts,
            passages=passages, matrix_variable="examples_passagesentences",
        ))
        sentences += texts
        matrices.append(matrix)
    stimuli = tmp_path / "stimuli.txt"
    stimuli.write_text("".join(" ".join(s.split()) + "\n" for s in sentences))  # whitespace differs: fine
    return paths, stimuli, np.vstack(matrices)


def test_passages_file_gives_the_mat_loaders_groups(tmp_path, small_mat, atlases, capsys):
    paths, stimuli, matrix = _standins(tmp_path, small_mat, atlases)
    out = tmp_path / "passages.txt"
    assert main([*map(str, paths), "--stimuli", str(stimuli), "--out", str(out)]) == 0
    assert "18 sentences in 5 passages; sentence order matches" in capsys.readouterr().out
    labels = out.read_text().splitlines()
    assert labels[3:5] == ["384sentences_p001", "384sentences_p002"]
    assert labels[8:12] == ["243sentences_p001"] * 3 + ["243sentences_p002"]
    # The 627 layout with this file groups exactly as the .mat loader does.
    subject = tmp_path / "subj1.npy"
    cols = {"language": [0, 1, 2, 3, 4], "task": [5, 6], "dmn": [7, 8], "vision": [9, 10, 11]}
    np.save(subject, {key: matrix[:, c] for key, c in cols.items()}, allow_pickle=True)
    from_627 = load_pereira_627(stimuli, subject, subject="M02", trust_pickled_subject_files=True, passages_path=out)
    from_mat = load_pereira_mat(paths, subject="M02")
    assert from_627.groups == from_mat.groups


def test_sentence_order_mismatch_writes_nothing(tmp_path, small_mat, atlases, capsys):
    paths, stimuli, _ = _standins(tmp_path, small_mat, atlases)
    lines = stimuli.read_text().splitlines()
    lines[9], lines[10] = lines[10], lines[9]
    stimuli.write_text("\n".join(lines) + "\n")
    out = tmp_path / "passages.txt"
    assert main([*map(str, paths), "--stimuli", str(stimuli), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "line 10 is '243sentences sentence 2 with spacing.'" in err and "sentence 10 is" in err
    assert not out.exists()
    # The experiments in the wrong order are caught too (same count, other sentences).
    assert main([str(paths[1]), str(paths[0]), "--stimuli", str(stimuli), "--out", str(out)]) == 1
    assert "line 1 is" in capsys.readouterr().err and not out.exists()
