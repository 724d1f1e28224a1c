"""Time feature extraction: length-bucketed batches vs one sentence at a time, all layers in
one pass vs one pass per layer.

A randomly initialised GPT-2 with the real GPT-2 tokenizer (default: 6 layers x 384 dims,
``--layers``/``--embd`` to change; GPT-2 small is 12 x 768) represents 627 sentences (the
shipped stimulus sentences repeated to Pereira's 627), mean-pooled, at every hidden state.
In the same run it times, with ``brainalign.features.extract_features``:

(a) the workflow's way: batches of ``--batch-size`` sentences of similar length (sorted by
    token count), every layer from one forward pass;
(b) one sentence at a time (batch size 1), every layer from one pass;
(c) batches of ``--batch-size`` in presentation order (no length bucketing: each batch is
    padded to its longest sentence), every layer from one pass;
(d) batched as (a), but one pass per layer (what extracting layer by layer costs).

and checks that all four give the same features (max |difference|). Usage::

    python benchmarks/features.py [--quick] [--json out.json] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from brainalign.brains.stimuli import load_sentence_stimuli
from brainalign.features import extract_features
from brainalign.models.language import build_tiny_gpt2, load_causal_lm
from brainalign.io import write_report_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wallclock import timed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def max_difference(a: dict[int, np.ndarray], b: dict[int, np.ndarray]) -> float:
    """Largest absolute difference over every layer (both: layer -> (n, d))."""
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 2-layer, 64-dim model and 64 sentences")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--embd", type=int, default=384)
    parser.add_argument("--sentences", type=int, default=627)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each timing (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the features rule uses 1)")
    parser.add_argument("--skip-per-layer", action="store_true", help="skip (d), the slowest (one pass per layer)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.layers, args.embd, args.sentences, args.repeats = 2, 64, 64, 1

    torch.set_num_threads(args.threads)
    shipped = load_sentence_stimuli(ROOT / "resources" / "stimuli" / "sentences.tsv").sentences
    texts = [shipped[i % len(shipped)] for i in range(args.sentences)]
    with tempfile.TemporaryDirectory() as folder:
        model_dir = build_tiny_gpt2(
            Path(folder) / "model", n_layer=args.layers, n_embd=args.embd, n_head=max(1, args.embd // 64),
            n_positions=128, seed=0,
        )
        model, tokenizer = load_causal_lm(model_dir, device="cpu")
    all_layers = list(range(args.layers + 1))

    def extract(batch_size, layers=all_layers, subset=texts):
        return extract_features(model, tokenizer, subset, layers=layers, batch_size=batch_size, progress=False)

    def unbucketed():
        # One call per batch of consecutive sentences: each call's single batch keeps
        # presentation order, so every batch is padded to its own longest sentence.
        parts = [extract(args.batch_size, subset=texts[i : i + args.batch_size])
                 for i in range(0, len(texts), args.batch_size)]
        return {k: np.concatenate([part[k] for part in parts]) for k in all_layers}

    def per_layer():
        return {k: extract(args.batch_size, layers=[k])[k] for k in all_layers}

    runs = {
        "bucketed_batches_one_pass": lambda: extract(args.batch_size),
        "one_sentence_at_a_time": lambda: extract(1),
        "unbucketed_batches": unbucketed,
        "one_pass_per_layer": per_layer,
    }
    if args.skip_per_layer:
        del runs["one_pass_per_layer"]
    results: dict = {
        "command": " ".join(["python", "benchmarks/features.py", *sys.argv[1:]]),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                    "torch_threads": args.threads},
        "problem": {"n_sentences": len(texts), "n_layer": args.layers, "n_embd": args.embd,
                    "hidden_states": len(all_layers), "batch_size": args.batch_size},
        "methods": {},
    }
    reference = None
    for name, run in runs.items():
        seconds, all_seconds, features = timed(run, args.repeats)
        reference = features if reference is None else reference
        results["methods"][name] = {
            "seconds": seconds,
            "all_seconds": all_seconds,
            "max_abs_difference_vs_bucketed": max_difference(features, reference),
        }
    ours = results["methods"]["bucketed_batches_one_pass"]["seconds"]
    for entry in results["methods"].values():
        entry["slower_than_bucketed_one_pass"] = entry["seconds"] / ours

    report = markdown_table(results)
    print(report)
    write_report_files(results, report, markdown=args.markdown, json_path=args.json)


def markdown_table(results: dict) -> str:
    problem = results["problem"]
    lines = [
        f"Feature extraction: {problem['n_sentences']} sentences, GPT-2 with {problem['n_layer']} layers x "
        f"{problem['n_embd']} dims ({problem['hidden_states']} hidden states, mean pooling), "
        f"batch size {problem['batch_size']}, {results['machine']['torch_threads']} torch thread(s)",
        "",
        "| method | wall time, median (s) | best (s) | x the workflow's way (medians) | max abs difference |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = {
        "bucketed_batches_one_pass": "length-bucketed batches, all layers in one pass (the workflow)",
        "one_sentence_at_a_time": "one sentence at a time",
        "unbucketed_batches": "batches in presentation order (no length bucketing)",
        "one_pass_per_layer": "length-bucketed batches, one pass per layer",
    }
    for name, entry in results["methods"].items():
        lines.append(
            f"| {labels[name]} | {entry['seconds']:.2f} | {min(entry['all_seconds']):.2f} "
            f"| {entry['slower_than_bucketed_one_pass']:.1f}x "
            f"| {entry['max_abs_difference_vs_bucketed']:.1e} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
