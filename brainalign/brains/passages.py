"""Passage labels of the 627-sentence layout, from the official Pereira ``.mat`` files.

The reference paper's ``stimuli.txt`` lists experiment 2's 384 sentences, then experiment 3's
243, without passage labels. The official files carry them (``labelsPassageForEachSentence``,
next to ``keySentences``). This command writes one label per sentence, the same labels the
``.mat`` loader uses (``{experiment}_p{passage:03d}``), and, given ``stimuli.txt``, checks that
its lines are the ``.mat`` sentences in the same order (whitespace-insensitive)::

    python -m brainalign.brains.passages data/pereira/M02/data_384sentences.mat \\
        data/pereira/M02/data_243sentences.mat --stimuli data/pereira627/stimuli.txt \\
        --out data/pereira627/passages.txt

Any subject's files serve: every subject saw the same sentences.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from brainalign.brains.pereira_627 import read_627_stimuli
from brainalign.brains.pereira_mat import read_experiment
from brainalign.errors import BrainalignError, DataError
from brainalign.io import atomic_output


def mat_passages(mat_paths: Sequence[str | os.PathLike]) -> tuple[list[str], list[str]]:
    """Sentences and passage labels of official ``.mat`` files, concatenated in the given order.

    Returns
    -------
    sentences, passages : list of str, length n each
        ``passages[i]`` is ``"{experiment}_p{passage:03d}"``, as :func:`load_pereira_mat` groups.
    """
    sentences: list[str] = []
    passages: list[str] = []
    for path in mat_paths:
        experiment = read_experiment(path, matrix=False)
        sentences += experiment.sentences
        passages += [f"{experiment.experiment}_p{p:03d}" for p in experiment.passages]
    return sentences, passages


def _normalise(sentence: str) -> str:
    return " ".join(sentence.split())


def check_sentence_order(stimuli_path: str | os.PathLike, mat_sentences: Sequence[str]) -> None:
    """Check that ``stimuli.txt`` holds ``mat_sentences`` in the same order.

    Raises
    ------
    DataError
        Another number of lines, or the first line that differs (quoting both sentences).
    """
    lines, _ = read_627_stimuli(stimuli_path, passage_block_size=1)
    if len(lines) != len(mat_sentences):
        raise DataError(
            f"stimulus file {stimuli_path} has {len(lines)} lines but the .mat files hold {len(mat_sentences)} "
            "sentences; give the experiments' files in the order of stimuli.txt (384sentences, then 243sentences)."
        )
    for number, (line, sentence) in enumerate(zip(lines, mat_sentences, strict=True), start=1):
        if _normalise(line) != _normalise(sentence):
            raise DataError(
                f"stimulus file {stimuli_path} line {number} is {line!r} but the .mat files' sentence {number} is "
                f"{sentence!r}; the 627 layout's rows must follow the .mat sentence order."
            )


def write_passages(
    mat_paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    stimuli_path: str | os.PathLike | None = None,
) -> list[str]:
    """Write the passages file (one label per line, atomically) after checking the order.

    Returns
    -------
    list of str
        The labels written.
    """
    sentences, passages = mat_passages(mat_paths)
    if stimuli_path is not None:
        check_sentence_order(stimuli_path, sentences)
    with atomic_output(out) as tmp:
        Path(tmp).write_text("".join(f"{label}\n" for label in passages), encoding="utf-8")
    return passages


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m brainalign.brains.passages", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("mat", nargs="+", help="official .mat files, in the order of stimuli.txt")
    parser.add_argument("--out", required=True, help="passages file to write (datasets.pereira.passages_file)")
    parser.add_argument("--stimuli", help="stimuli.txt of the 627 layout: checked against the .mat sentence order")
    args = parser.parse_args(argv)
    try:
        passages = write_passages(args.mat, args.out, stimuli_path=args.stimuli)
    except BrainalignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    checked = f"; sentence order matches {args.stimuli}" if args.stimuli else ""
    print(f"wrote {args.out}: {len(passages)} sentences in {len(set(passages))} passages{checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
