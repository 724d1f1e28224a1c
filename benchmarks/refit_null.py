"""The alpha choice of the refitted permutation null: blocks of whole groups vs single entries.

    python benchmarks/refit_null.py [--voxels 10000] [--permutations 20] [--repeats 5] [--json out.json]

Every permutation of :func:`brainalign.refit_null.refit_permutation_null` re-chooses alpha for
each of the 15 ridge models of the cross-validation (5 fold models, 10 pair models) from the
permuted Gram matrix of its training targets. Permutations move whole passages (members in
order), so the permuted matrix is a gather of (size x size) blocks; this script times that
gather-and-product against the entry-wise gather it replaced (the model with its
``group_blocks`` removed), alternating repeat by repeat in the same run, on the Pereira-size
problem of ``benchmarks/ridge_2v2.py`` (627 sentences in passages of 4, 768 dims, 10 alphas),
for decoding and encoding, and checks that both choose the same alphas.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ridge_2v2 import make_problem  # noqa: E402

from brainalign.fold_pairs import design_splits, fold_strata  # noqa: E402
from brainalign.held_out_models import held_out_model  # noqa: E402
from brainalign.io import write_report_files  # noqa: E402
from brainalign.refit_null import _local_rows, _pooled_alpha_choice  # noqa: E402
from brainalign.resampling import group_layout, group_permutations  # noqa: E402
from brainalign.ridge import grouped_folds  # noqa: E402


def time_alpha_choice(models, permutations, repeats: int) -> dict:
    """Median seconds per permutation (all models) of the block and the entry-wise choice."""
    rows = [_local_rows(model, permutations)[0] for model in models]
    entry_wise = [replace(model, group_blocks=None) for model in models]
    times: dict[str, list[float]] = {"blocks": [], "entries": []}
    chosen: dict[str, list] = {}
    for _ in range(repeats):
        for name, variant in (("blocks", models), ("entries", entry_wise)):
            start = time.perf_counter()
            chosen[name] = [_pooled_alpha_choice(model, train_rows) for model, train_rows in zip(variant, rows)]
            times[name].append((time.perf_counter() - start) / len(permutations))
    same = all(np.array_equal(a, b) for a, b in zip(chosen["blocks"], chosen["entries"]))
    blocks, entries = statistics.median(times["blocks"]), statistics.median(times["entries"])
    return {"blocks_seconds": blocks, "entries_seconds": entries, "speedup": entries / blocks, "same_alphas": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voxels", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=768)
    parser.add_argument("--permutations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()

    n_stimuli, alphas = 627, np.logspace(-2, 6, 10)
    voxels, embeddings, groups, sessions = make_problem(n_stimuli, args.voxels, args.dims, args.seed)
    folds = grouped_folds(groups, 5, seed=args.seed)
    labels = sessions.astype(str)
    layout = group_layout(n_stimuli, groups, fold_strata(labels, folds))
    permutations = group_permutations(np.random.default_rng(args.seed), layout, args.permutations)
    results: dict = {
        "command": " ".join(["python", "benchmarks/refit_null.py", *sys.argv[1:]]),
        "problem": {"n_stimuli": n_stimuli, "n_voxels": args.voxels, "n_dims": args.dims,
                    "permutations": args.permutations, "repeats": args.repeats},
    }
    lines = [f"Problem: {n_stimuli} stimuli, {args.voxels} voxels, {args.dims} dims, 15 models, "
             f"{args.permutations} permutations, medians of {args.repeats} alternating repeats, 1 BLAS thread", "",
             "| direction | block gather (ms per permutation) | entry-wise gather (ms) | speed-up | same alphas |",
             "|---|---:|---:|---:|---|"]
    with threadpool_limits(limits=1):
        for direction, (X, Y) in (("decoding", (voxels, embeddings)), ("encoding", (embeddings, voxels))):
            models = [held_out_model(X, Y, alphas, split, groups=groups, sessions=labels)
                      for split, _ in design_splits(folds, n_stimuli)]
            for model in models:  # built once per model, outside the timed permutations
                model.block_gram, model.target_gram, model.flat_loo_forms
            entry = results[direction] = time_alpha_choice(models, permutations, args.repeats)
            lines.append(f"| {direction} | {1e3 * entry['blocks_seconds']:.2f} | {1e3 * entry['entries_seconds']:.2f} "
                         f"| {entry['speedup']:.1f}x | {'yes' if entry['same_alphas'] else 'NO'} |")
    report = "\n".join(lines)
    print(report)
    write_report_files(results, report, markdown=args.markdown, json_path=args.json)


if __name__ == "__main__":
    main()
