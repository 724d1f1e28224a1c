"""Time cross-validated ridge and 2v2 scoring on a Pereira-size problem.

Builds a synthetic decoding problem of the size of Pereira et al. (2018) experiment 2/3
(627 sentences in passages of 4, 10,000 voxels -> 768 model dimensions, 5 outer folds
grouped by passage, 10 alphas in logspace(-2, 6)) and times, in the same run:

(a) ``brainalign.ridge.cross_val_predict_ridge`` as ``brainalign.alignment.fit_subject`` calls it
    (issue 12): inner leave-one-passage-out, alpha chosen on training-standardised targets,
    inputs and targets centred per session (two sessions, like Pereira's experiments 2 and 3:
    the first 96 passages and the rest), all from one eigendecomposition per fold;
(a0) the same function with the options of before issue 12 (single-row LOO, targets only
    centred, no sessions): the "before" baseline, timed in the same run, and the model
    that (b) fits (their predictions are compared);
(b) scikit-learn ``RidgeCV`` (also efficient LOO) on ``StandardScaler``-ed training rows,
    fitted per outer fold;
(c) a naive loop: per outer fold and alpha, inner 5-fold grouped CV with ``Ridge``, then a
    refit with the best alpha;
(d) himalaya ``KernelRidgeCV(kernel="linear")``, the field's standard, per outer fold on the
    same standardised training rows, inner 5-fold grouped CV, its default one alpha per
    target (timed against ours with ``per_target_alpha=True`` as well).

(e) ours with ``backend="torch"`` (``brainalign.ridge_torch``, the same algorithm in float64
    torch) on the CPU, and on CUDA when torch sees a GPU, one alpha and per target, as a ratio
    against (a) in the same run, with the largest prediction difference.

(f) the per-score inference ``fit_subject`` adds to (a), per direction: the K(K-1)/2 models
    trained without two folds that score the pairs across folds (``brainalign.fold_pairs``), and
    the refitted permutation null (``brainalign.refit_null``): the setup (each model's linear
    maps) and, timed on ``--permutations`` permutations (default 20), the cost per permutation
    (the null with and without the permutations alternate ``--inference-repeats`` times, default
    3; medians subtracted), each as a ratio to (a).

(a), (a0) and (b) run alternately, repeat by repeat, so that a change of the machine's load
hits all three alike; the ratio (b) / (a) is reported median to median and repeat by repeat.
The baselines live in ``ridge_baselines.py``, the report in ``ridge_2v2_report.py``.

It checks that (a0) and (b) agree where they chose the same alpha, times ``two_vs_two`` on
the out-of-fold predictions (all 196,251 pairs), and also times the encoding direction
(768 dims -> voxels) for (a) and (b). Usage::

    python benchmarks/ridge_2v2.py [--quick] [--json results.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np
import sklearn
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from brainalign.fold_pairs import fold_pair_blocks, fold_strata, standardise_by_training_folds
from brainalign.metrics import two_vs_two
from brainalign.refit_null import refit_permutation_null
from brainalign.resampling import group_layout, group_permutations, pair_mask
from brainalign.ridge import cross_val_predict_ridge, grouped_folds, session_centred_targets
from brainalign.io import write_report_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ridge_2v2_report import markdown_table  # noqa: E402
from ridge_baselines import agreement, himalaya_kernel_ridge_cv, naive_nested_cv, sklearn_ridgecv  # noqa: E402
from wallclock import alternating, paired_ratios, timed  # noqa: E402


def make_problem(
    n_stimuli: int, n_voxels: int, n_dims: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic voxels and embeddings sharing a passage-structured latent.

    Returns
    -------
    voxels : ndarray of shape (n_stimuli, n_voxels)
    embeddings : ndarray of shape (n_stimuli, n_dims)
    groups : ndarray of shape (n_stimuli,)
        Passage of each stimulus, 4 per passage (the last one shorter).
    sessions : ndarray of shape (n_stimuli,)
        ``exp2`` for the first 96 passages (384 sentences at Pereira size), ``exp3`` after.
    """
    rng = np.random.default_rng(seed)
    groups = np.arange(n_stimuli) // 4
    n_latent = 64
    passage_effect = rng.standard_normal((groups.max() + 1, n_latent))
    latent = 0.7 * passage_effect[groups] + rng.standard_normal((n_stimuli, n_latent))
    embeddings = latent @ rng.standard_normal((n_latent, n_dims)) + 2.0 * rng.standard_normal((n_stimuli, n_dims))
    voxel_loadings = rng.standard_normal((n_latent, n_voxels)) / np.sqrt(n_latent)
    # Noisy voxels, so that decoding is far from perfect (2v2 about 0.9 at 10,000 voxels)
    # and the alpha choice matters.
    voxels = latent @ voxel_loadings + 15.0 * rng.standard_normal((n_stimuli, n_voxels))
    sessions = np.where(groups < 96, "exp2", "exp3")
    return voxels, embeddings, groups, sessions


def machine() -> dict:
    blas = [
        {key: info.get(key) for key in ("internal_api", "num_threads", "version", "architecture")}
        for info in threadpool_info()
    ]
    cpu_model = "unknown"
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu_model,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "blas": blas,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 voxels instead of 10,000 (about 10x faster)")
    parser.add_argument("--voxels", type=int, default=None, help="override the number of voxels")
    parser.add_argument("--dims", type=int, default=768, help="model dimensions (768: GPT-2 small)")
    parser.add_argument("--skip-himalaya", action="store_true", help="skip himalaya's KernelRidgeCV")
    parser.add_argument("--skip-torch", action="store_true", help="skip the torch backend (CPU, and CUDA if present)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the printed report here")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the fast timings (median reported)")
    parser.add_argument("--naive-repeats", type=int, default=1, help="repeats of the slow naive nested CV")
    parser.add_argument("--two-vs-two-repeats", type=int, default=21)
    parser.add_argument("--blas-threads", type=int, default=None, help="limit BLAS threads (default: BLAS's own)")
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow naive nested CV")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inference-repeats", type=int, default=3,
                        help="repeats of (f)'s null with and without permutations (medians subtracted)")
    parser.add_argument("--permutations", type=int, default=20,
                        help="permutations of the refitted null timed in (f); 0 skips (f)")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    n_stimuli, n_dims, n_folds = 627, args.dims, 5
    n_voxels = args.voxels or (2000 if args.quick else 10_000)
    alphas = np.logspace(-2, 6, 10)
    voxels, embeddings, groups, sessions = make_problem(n_stimuli, n_voxels, n_dims, args.seed)
    folds = grouped_folds(groups, n_folds, seed=args.seed)
    # (a): what fit_subject runs; (a0): the options of before issue 12.
    options = {"groups": groups, "sessions": sessions}
    before = {"standardize_targets": False}

    if args.blas_threads is not None:
        torch.set_num_threads(args.blas_threads)
    with threadpool_limits(limits=args.blas_threads):
        results: dict = {
            "command": " ".join(["python", "benchmarks/ridge_2v2.py", *sys.argv[1:]]),
            "machine": machine(),
            "problem": {
                "n_stimuli": n_stimuli,
                "n_groups": int(groups.max() + 1),
                "n_voxels": n_voxels,
                "n_dims": n_dims,
                "n_folds": n_folds,
                "alphas": alphas.tolist(),
            },
            "decoding": {},
            "encoding": {},
        }
        decoding = results["decoding"]

        # (a) ours, as fit_subject runs it, (a0) with the options of before and (b) sklearn
        # RidgeCV, alternating repeat by repeat.
        ours, ours_time = time_against_baselines(decoding, voxels, embeddings, alphas, folds, options, before, args.repeats)
        # (d) himalaya, and ours with one alpha per target as it chooses them.
        if not args.skip_himalaya:
            time_himalaya(results, "decoding", voxels, embeddings, alphas, folds, groups, args.repeats, ours_time, options)
        if not args.skip_torch:
            time_torch(results, "decoding", voxels, embeddings, alphas, folds, args.repeats, ours, options)
        # (c) naive nested CV, once by default: it is the slow reference.
        if not args.skip_naive:
            naive_time, naive_times, (_, naive_alphas) = timed(
                lambda: naive_nested_cv(voxels, embeddings, alphas, folds, groups), args.naive_repeats
            )
            decoding["naive_nested_cv"] = {
                "seconds": naive_time,
                "all_seconds": naive_times,
                "alphas": naive_alphas.tolist(),
                "speedup_of_ours": naive_time / ours_time,
            }

        # 2v2 on the out-of-fold decoding predictions: all n (n - 1) / 2 pairs, against the
        # session-centred embeddings that (a) predicts.
        centred_embeddings = session_centred_targets(embeddings, sessions, folds)
        two_vs_two_time, two_vs_two_times, accuracy = timed(
            lambda: two_vs_two(ours, centred_embeddings), args.two_vs_two_repeats
        )
        results["two_vs_two"] = {
            "milliseconds_median": 1e3 * two_vs_two_time,
            "milliseconds_min": 1e3 * min(two_vs_two_times),
            "n_pairs": n_stimuli * (n_stimuli - 1) // 2,
            "accuracy": accuracy,
        }

        # Encoding: 768 dims -> all voxels; many targets make the pooled LOO shortcut count.
        encoding = results["encoding"]
        enc, enc_time = time_against_baselines(encoding, embeddings, voxels, alphas, folds, options, before, args.repeats)
        if not args.skip_himalaya:
            time_himalaya(results, "encoding", embeddings, voxels, alphas, folds, groups, args.repeats, enc_time, options)
        if not args.skip_torch:
            time_torch(results, "encoding", embeddings, voxels, alphas, folds, args.repeats, enc, options)

        if args.permutations:
            for direction, (X, Y) in (("decoding", (voxels, embeddings)), ("encoding", (embeddings, voxels))):
                time_inference(results, direction, X, Y, alphas, folds, groups, sessions, args.permutations, args.seed,
                               args.inference_repeats)

    report = markdown_table(results)
    print(report)
    write_report_files(results, report, markdown=args.markdown, json_path=args.json)
    if args.json is not None:
        print(f"\nwrote {args.json}")


def time_against_baselines(entry, X, Y, alphas, folds, options, before, repeats):
    """Time (a), (a0) and (b), alternating repeat by repeat so that a change of load hits all alike.

    Fills ``entry`` (one direction of the results) with ``ours``, ``ours_before`` (with
    ``time_ratio_vs_before`` = (a) / (a0), medians), ``sklearn_ridgecv`` (with
    ``speedup_of_ours`` = (b) / (a), medians, and ``paired_speedup``: (b) / (a) repeat by
    repeat) and ``agreement_ours_vs_ridgecv`` ((a0) fits the model (b) fits).

    Returns (a)'s out-of-fold predictions and median time.
    """
    timings = alternating(
        {
            "ours": lambda: cross_val_predict_ridge(X, Y, alphas, folds, return_alphas=True, **options),
            "ours_before": lambda: cross_val_predict_ridge(X, Y, alphas, folds, return_alphas=True, **before),
            "sklearn_ridgecv": lambda: sklearn_ridgecv(X, Y, alphas, folds),
        },
        repeats,
    )
    for name, timing in timings.items():
        entry[name] = {"seconds": timing.median, "all_seconds": timing.seconds, "alphas": timing.result[1].tolist()}
    ours, before_run, sk = (timings[name] for name in ("ours", "ours_before", "sklearn_ridgecv"))
    entry["ours_before"]["time_ratio_vs_before"] = ours.median / before_run.median
    entry["ours_before"]["best_time_ratio_vs_before"] = ours.best / before_run.best
    entry["sklearn_ridgecv"]["speedup_of_ours"] = sk.median / ours.median
    entry["sklearn_ridgecv"]["paired_speedup"] = paired_ratios(sk, ours)
    entry["agreement_ours_vs_ridgecv"] = agreement(
        before_run.result[0], sk.result[0], before_run.result[1], sk.result[1], folds
    )
    return ours.result[0], ours.median


def time_inference(results, direction, X, Y, alphas, folds, groups, sessions, n_permutations, seed,
                   repeats) -> None:
    """Time (f): the pair models across folds and the refitted permutation null, as ratios to (a).

    The null's setup (no permutations) and the whole null alternate ``repeats`` times; the cost per
    permutation is the difference of their medians over the permutations.
    """
    predicted = cross_val_predict_ridge(X, Y, alphas, folds, groups=groups, sessions=sessions)
    within = standardise_by_training_folds(predicted, Y, folds, sessions)
    pair_seconds, _, _ = timed(
        lambda: fold_pair_blocks(X, Y, alphas, folds, within, distance="correlation", groups=groups, sessions=sessions),
        1,
    )
    labels = sessions.astype(str)
    layout = group_layout(len(Y), groups, fold_strata(labels, folds))
    permutations = group_permutations(np.random.default_rng(seed), layout, n_permutations)
    masks = {name: pair_mask(labels, len(Y), name) for name in ("all", "within_session", "cross_session")}
    def null(rows):
        return refit_permutation_null(X, Y, alphas, folds, rows, masks=masks, groups=groups, sessions=labels,
                                      pearson=direction == "encoding")

    # With no permutations the null only builds each model's linear maps: the setup. The two
    # alternate, so that the setup subtracted was timed under the same load (medians).
    timings = alternating({"setup": lambda: null(permutations[:0]), "null": lambda: null(permutations)}, repeats)
    setup_seconds, null_seconds = timings["setup"].median, timings["null"].median
    per_permutation = max(null_seconds - setup_seconds, 0.0) / n_permutations
    ours = results[direction]["ours"]["seconds"]
    results[direction]["inference"] = {
        "fold_pair_models_seconds": pair_seconds,
        "fold_pair_models_ratio_to_ours": pair_seconds / ours,
        "refit_null_permutations": n_permutations,
        "refit_null_repeats": repeats,
        "refit_null_setup_seconds": setup_seconds,
        "refit_null_setup_ratio_to_ours": setup_seconds / ours,
        "refit_null_seconds": null_seconds,
        "refit_null_seconds_per_permutation": per_permutation,
        "refit_null_per_permutation_ratio_to_ours": per_permutation / ours,
    }


def time_himalaya(results, direction, X, Y, alphas, folds, groups, repeats, ours_time, options) -> None:
    """Time (d) and ours with per-target alphas (options of (a)); record times, ratios and out-of-fold 2v2."""
    entry = results[direction]
    him_time, him_times, (him, him_alphas) = timed(
        lambda: himalaya_kernel_ridge_cv(X, Y, alphas, folds, groups), repeats
    )
    per_time, per_times, (per, per_alphas) = timed(
        lambda: cross_val_predict_ridge(X, Y, alphas, folds, per_target_alpha=True, return_alphas=True, **options),
        repeats,
    )
    entry["ours_per_target"] = {
        "seconds": per_time,
        "all_seconds": per_times,
        "alphas": [float(np.median(fold)) for fold in per_alphas],
        "two_vs_two": two_vs_two(per, Y),
    }
    entry["himalaya_kernelridgecv"] = {
        "seconds": him_time,
        "all_seconds": him_times,
        "alphas": [float(np.median(fold)) for fold in him_alphas],
        "speedup_of_ours": him_time / ours_time,
        "speedup_of_ours_per_target": him_time / per_time,
        "two_vs_two": two_vs_two(him, Y),
    }


def time_torch(results, direction, X, Y, alphas, folds, repeats, ours_predictions, options) -> None:
    """Time (e), the torch backend on the CPU (and CUDA when present), against numpy (a), same options.

    One alpha for all targets always; per target as well when (d) timed ours per target.
    Records ``results[direction]["torch"]`` as a list of rows with the ratio numpy / torch.
    """
    entry = results[direction]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    settings = [("one alpha", False, entry["ours"]["seconds"], ours_predictions)]
    if "ours_per_target" in entry:
        per_target = cross_val_predict_ridge(X, Y, alphas, folds, per_target_alpha=True, **options)
        settings.append(("per target", True, entry["ours_per_target"]["seconds"], per_target))
    rows = []
    for device in devices:
        for label, per_target_alpha, numpy_seconds, numpy_predictions in settings:
            seconds, times, predictions = timed(
                lambda: cross_val_predict_ridge(
                    X, Y, alphas, folds, per_target_alpha=per_target_alpha, backend="torch", device=device, **options
                ),
                repeats,
            )
            difference = np.abs(predictions - numpy_predictions).max() / np.abs(numpy_predictions).max()
            rows.append({
                "device": device, "alphas": label, "seconds": seconds, "all_seconds": times,
                "numpy_seconds": numpy_seconds, "speedup_vs_numpy": numpy_seconds / seconds,
                "max_relative_difference_vs_numpy": float(difference),
            })
    entry["torch"] = rows


if __name__ == "__main__":
    main()
