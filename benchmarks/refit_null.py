"""The refitted permutation null: its alpha choice (blocks of whole groups vs single entries),
and, with ``--cost``, what one fit costs at a given size.

    python benchmarks/refit_null.py [--voxels 10000] [--permutations 20] [--repeats 5] [--json out.json]
    python benchmarks/refit_null.py --cost --stimuli 4916 --group-size 1 --sessions 15 --voxels 1000 --permutations 2

Every permutation of :func:`brainalign.refit_null.refit_permutation_null` re-chooses alpha for
each of the 15 ridge models of the cross-validation (5 fold models, 10 pair models) from the
permuted Gram matrix of its training targets. Permutations move whole passages (members in
order), so the permuted matrix is a gather of (size x size) blocks; this script times that
gather-and-product against the entry-wise gather it replaced (the model with its
``group_blocks`` removed), alternating repeat by repeat in the same run, on the Pereira-size
problem of ``benchmarks/ridge_2v2.py`` (627 sentences in passages of 4, 768 dims, 10 alphas),
for decoding and encoding, and checks that both choose the same alphas.

``--cost`` times, on one BLAS thread, one ``cross_val_predict_ridge`` call, the null's setup
(every model's linear maps) and its cost per permutation, for one direction, on a synthetic
problem of ``--stimuli`` rows in groups of ``--group-size`` (1: one image per group, as
BOLD5000 with ``cv_groups: image``) spread over ``--sessions`` sessions: the numbers behind the
cost of ``paper.yaml`` in ``docs/performance.md``. It also times, in the same run, the null with
the 10 pair models computing their whole similarity matrices (the baseline) against only the
blocks across their two folds, the only pairs they decide, and checks that both give the same null;
and one pair model's similarities four ways (from the target kernels or from the predictions, whole
matrix or blocks across folds): the numbers behind the kernel-form threshold of the null.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ridge_2v2 import make_problem  # noqa: E402
from wallclock import alternating  # noqa: E402

from brainalign.fold_pairs import design_splits, fold_strata  # noqa: E402
from brainalign import refit_null as refit_null_module  # noqa: E402
from brainalign.held_out_models import held_out_model  # noqa: E402
from brainalign.io import write_report_files  # noqa: E402
from brainalign.refit_null import (  # noqa: E402
    _cross_split,
    _local_rows,
    _pooled_alpha_choice,
    _refitted_chunk,
    _similarity_kernels,
    refit_permutation_null,
)
from brainalign.resampling import group_layout, group_permutations, pair_mask  # noqa: E402
from brainalign.ridge import cross_val_predict_ridge, grouped_folds  # noqa: E402


def time_alpha_choice(models, permutations, repeats: int) -> dict:
    """Median seconds per permutation (all models) of the block and the entry-wise choice."""
    rows = [_local_rows(model, permutations)[0] for model in models]
    entry_wise = [replace(model, group_blocks=None) for model in models]
    timings = alternating(
        {name: (lambda variant=variant: [_pooled_alpha_choice(model, train_rows) for model, train_rows in zip(variant, rows)])
         for name, variant in (("blocks", models), ("entries", entry_wise))},
        repeats,
    )
    same = all(np.array_equal(a, b) for a, b in zip(timings["blocks"].result, timings["entries"].result))
    blocks, entries = (timings[name].median / len(permutations) for name in ("blocks", "entries"))
    return {"blocks_seconds": blocks, "entries_seconds": entries, "speedup": entries / blocks, "same_alphas": same}


def time_pair_similarity(X, Y, alphas, folds, groups, sessions, permutations, repeats: int = 3) -> dict:
    """Milliseconds per permutation of the first pair model's refitted chunk (predictor map and
    similarities), four ways in the same run: similarities from the target kernels or directly
    from the predictions, whole matrix or the blocks across folds."""
    split, decides = design_splits(folds, len(Y))[len(folds)]
    model = held_out_model(X, Y, alphas, split, groups=groups, sessions=sessions)
    rows = _local_rows(model, permutations)
    boundary = _cross_split(decides, rows[1])
    options = {"rows": rows, "distance": "correlation", "chosen": _pooled_alpha_choice(model, rows[0]), "pearson": None}
    kernels = _similarity_kernels(model, "correlation")
    ways = {f"{form}_{extent}": {"kernels": kernels if form == "kernel" else None, "split": split_at}
            for form in ("kernel", "direct") for extent, split_at in (("whole", None), ("across", boundary))}
    timings = alternating({name: (lambda way=way: _refitted_chunk(model, permutations, **options, **way))
                           for name, way in ways.items()}, repeats)
    return {"n_train": int(model.train.size), "n_test": int(model.test.size),
            **{f"{name}_ms": 1e3 * timing.median / len(permutations) for name, timing in timings.items()}}


def grouped_problem(n_stimuli: int, group_size: int, n_sessions: int, n_voxels: int, n_dims: int, seed: int):
    """Voxels (n, n_voxels) and features (n, n_dims) sharing a latent, with group and session labels."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_stimuli, 32))
    voxels = latent @ rng.standard_normal((32, n_voxels)) + 3.0 * rng.standard_normal((n_stimuli, n_voxels))
    features = latent @ rng.standard_normal((32, n_dims)) + rng.standard_normal((n_stimuli, n_dims))
    groups = np.array([f"g{i // group_size}" for i in range(n_stimuli)])
    sessions = np.array([f"s{(i // group_size) * group_size * n_sessions // n_stimuli}" for i in range(n_stimuli)])
    return voxels, features, groups, sessions


def time_cost(args) -> tuple[dict, str]:
    """Seconds of one ridge call, of the null's setup and per permutation (``--cost``)."""
    voxels, features, groups, sessions = grouped_problem(
        args.stimuli, args.group_size, args.sessions, args.voxels, args.dims, args.seed
    )
    X, Y = (voxels, features) if args.direction == "decoding" else (features, voxels)
    alphas = np.logspace(-2, 7, 10)
    folds = grouped_folds(groups, 5, seed=args.seed)
    layout = group_layout(args.stimuli, groups, fold_strata(sessions, folds))
    permutations = group_permutations(np.random.default_rng(args.seed), layout, args.permutations)
    masks = {"all": pair_mask(sessions, args.stimuli, "all")}

    def null(rows):
        return refit_permutation_null(X, Y, alphas, folds, rows, masks=masks, groups=groups, sessions=sessions,
                                      pearson=args.direction == "encoding")

    with threadpool_limits(limits=1):
        start = time.perf_counter()
        cross_val_predict_ridge(X, Y, alphas, folds, groups=groups, sessions=sessions)
        ridge = time.perf_counter() - start
        start = time.perf_counter()
        null(permutations[:0])
        setup = time.perf_counter() - start
        start = time.perf_counter()
        across = null(permutations)
        per_permutation = max(time.perf_counter() - start - setup, 0.0) / args.permutations
        # Baseline: every model computes its whole similarity matrix.
        with mock.patch.object(refit_null_module, "_cross_split", lambda decides, test_rows: None):
            start = time.perf_counter()
            whole = null(permutations)
            whole_per_permutation = max(time.perf_counter() - start - setup, 0.0) / args.permutations
        # The alpha choice of the first fold model, all timed permutations in one batch against
        # one permutation at a time (each call then reads every LOO form once per permutation).
        model = held_out_model(X, Y, alphas, folds[0], groups=groups, sessions=sessions)
        model.target_gram
        rows = _local_rows(model, permutations)[0]
        start = time.perf_counter()
        batched = _pooled_alpha_choice(model, rows)
        batched_seconds = (time.perf_counter() - start) / args.permutations
        start = time.perf_counter()
        single = np.concatenate([_pooled_alpha_choice(model, rows[b : b + 1]) for b in range(len(rows))])
        single_seconds = (time.perf_counter() - start) / args.permutations
        pair = time_pair_similarity(X, Y, alphas, folds, groups, sessions, permutations)
    entry = {"ridge_seconds": ridge, "null_setup_seconds": setup, "null_seconds_per_permutation": per_permutation,
             "hours_for_1000_permutations": (setup + 1000 * per_permutation) / 3600,
             "alpha_choice_batched_seconds": batched_seconds, "alpha_choice_single_seconds": single_seconds,
             "alpha_choice_same": bool(np.array_equal(batched, single)),
             "null_whole_matrices_seconds_per_permutation": whole_per_permutation,
             "pair_blocks_speedup": whole_per_permutation / per_permutation if per_permutation else float("nan"),
             "pair_blocks_same_null": bool(np.array_equal(across.two_vs_two["all"], whole.two_vs_two["all"])),
             "pair_model_similarity": pair}
    report = (
        f"{args.direction}, {args.stimuli} stimuli in groups of {args.group_size}, {args.sessions} sessions, "
        f"{args.voxels} voxels, {args.dims} dims, 5 folds, 10 alphas, 1 BLAS thread: ridge {ridge:.1f} s; "
        f"refitted null: setup {setup:.1f} s, then {per_permutation:.2f} s per permutation "
        f"({args.permutations} timed), so one fit with 1000 permutations takes "
        f"{entry['hours_for_1000_permutations']:.2f} h. Alpha choice of one fold model "
        f"({model.train.size} training rows): {1e3 * batched_seconds:.1f} ms per permutation with the "
        f"{args.permutations} permutations in one batch, {1e3 * single_seconds:.1f} ms one at a time "
        f"(same alphas: {'yes' if entry['alpha_choice_same'] else 'NO'}). With the pair models' whole "
        f"similarity matrices (baseline): {whole_per_permutation:.2f} s per permutation, so the blocks across "
        f"folds are {entry['pair_blocks_speedup']:.2f}x faster (same null: "
        f"{'yes' if entry['pair_blocks_same_null'] else 'NO'}). One pair model's refit (predictor map and similarities) "
        f"({pair['n_train']} training rows, {pair['n_test']} test rows, {Y.shape[1]} targets), ms per permutation: "
        f"from target kernels {pair['kernel_whole_ms']:.1f} (whole matrix) and {pair['kernel_across_ms']:.1f} "
        f"(blocks across folds), from the predictions {pair['direct_whole_ms']:.1f} and {pair['direct_across_ms']:.1f}"
    )
    return entry, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voxels", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=768)
    parser.add_argument("--permutations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cost", action="store_true", help="time one fit's ridge and refitted null instead")
    parser.add_argument("--stimuli", type=int, default=627, help="--cost: number of stimuli")
    parser.add_argument("--group-size", type=int, default=4, help="--cost: stimuli per CV group")
    parser.add_argument("--sessions", type=int, default=2, help="--cost: number of sessions")
    parser.add_argument("--direction", choices=("decoding", "encoding"), default="decoding", help="--cost")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    command = " ".join(["python", "benchmarks/refit_null.py", *sys.argv[1:]])
    if args.cost:
        entry, report = time_cost(args)
        print(report)
        write_report_files({"command": command, "cost": entry}, report, markdown=args.markdown, json_path=args.json)
        return

    n_stimuli, alphas = 627, np.logspace(-2, 6, 10)
    voxels, embeddings, groups, sessions = make_problem(n_stimuli, args.voxels, args.dims, args.seed)
    folds = grouped_folds(groups, 5, seed=args.seed)
    labels = sessions.astype(str)
    layout = group_layout(n_stimuli, groups, fold_strata(labels, folds))
    permutations = group_permutations(np.random.default_rng(args.seed), layout, args.permutations)
    results: dict = {
        "command": command,
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
                model.block_gram, model.target_gram
            entry = results[direction] = time_alpha_choice(models, permutations, args.repeats)
            lines.append(f"| {direction} | {1e3 * entry['blocks_seconds']:.2f} | {1e3 * entry['entries_seconds']:.2f} "
                         f"| {entry['speedup']:.1f}x | {'yes' if entry['same_alphas'] else 'NO'} |")
    report = "\n".join(lines)
    print(report)
    write_report_files(results, report, markdown=args.markdown, json_path=args.json)


if __name__ == "__main__":
    main()
