"""Bootstrap and permutation statistics of 2v2 at Pereira size: vectorised vs a per-resample loop.

    python benchmarks/stats_resampling.py [--stimuli 627] [--resamples 1000] [--naive 50] [--json out.json]

One synthetic decoding result (``--stimuli`` x 768 predicted and actual rows, a planted
signal) is scored, then, in the same run, each statistic of ``brainalign.stats`` is timed
against the obvious loop over resamples it replaces (the loop runs ``--naive`` resamples and
is scaled to ``--resamples``; both give the same kind of estimate):

| statistic | ours | naive loop, per resample |
|---|---|---|
| bootstrap CI of 2v2 | ``bootstrap_two_vs_two`` (multiplicities x pair matrix) | sub-matrix of the pair outcomes of the drawn stimuli, pairs of one stimulus masked |
| permutation p vs chance | ``permutation_two_vs_two`` | ``two_vs_two(predicted, actual[perm])`` |
| paired permutation p | ``paired_permutation_two_vs_two`` (matrix products) | mix the half-margin rows of A and B, recompute both outcome matrices |

Timings are CPU-bound and single-threaded where BLAS allows; the ratios are what to read.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from brainalign.metrics import half_margins, outcomes_from_half_margins, pair_outcomes, similarity_matrix, two_vs_two
from brainalign.paired_stats import paired_permutation_two_vs_two
from brainalign.stats import bootstrap_two_vs_two, permutation_two_vs_two, rng_for


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stimuli", type=int, default=627)
    parser.add_argument("--dims", type=int, default=768)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive", type=int, default=50, help="resamples the naive loops run (scaled up)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    actual = rng.standard_normal((args.stimuli, args.dims))
    predicted_a = actual + 6.0 * rng.standard_normal(actual.shape)
    predicted_b = actual + 8.0 * rng.standard_normal(actual.shape)
    similarity_a = similarity_matrix(predicted_a, actual)
    similarity_b = similarity_matrix(predicted_b, actual)
    outcomes = pair_outcomes(similarity_a)
    half_a, half_b = half_margins(similarity_a), half_margins(similarity_b)
    n, scale = args.stimuli, args.resamples / args.naive

    def naive_bootstrap() -> None:
        draw = np.random.default_rng(1)
        for _ in range(args.naive):
            index = draw.integers(0, n, n)
            sub = outcomes[np.ix_(index, index)]
            distinct = index[:, None] != index[None, :]
            sub[distinct].mean()

    def naive_permutation() -> None:
        draw = np.random.default_rng(1)
        for _ in range(args.naive):
            two_vs_two(predicted_a, actual[draw.permutation(n)])

    def naive_paired() -> None:
        draw = np.random.default_rng(1)
        tolerance = 1e-10 * max(np.abs(half_a).max(), np.abs(half_b).max())
        for _ in range(args.naive):
            swap = draw.random(n) < 0.5
            mixed_a = np.where(swap[:, None], half_b, half_a)
            mixed_b = np.where(swap[:, None], half_a, half_b)
            outcomes_from_half_margins(mixed_a, tolerance).mean() - outcomes_from_half_margins(mixed_b, tolerance).mean()

    cases = {
        "bootstrap_ci": (
            lambda: bootstrap_two_vs_two(outcomes, n_resamples=args.resamples, level=0.95, rng=rng_for(0, "b")),
            naive_bootstrap,
        ),
        "permutation_p": (
            lambda: permutation_two_vs_two(similarity_a, n_permutations=args.resamples, rng=rng_for(0, "p")),
            naive_permutation,
        ),
        "paired_permutation_p": (
            lambda: paired_permutation_two_vs_two(half_a, half_b, n_permutations=args.resamples, rng=rng_for(0, "q")),
            naive_paired,
        ),
    }
    results = {"stimuli": n, "resamples": args.resamples, "naive_resamples": args.naive,
               "two_vs_two": two_vs_two(predicted_a, actual)}
    with threadpool_limits(1):
        for name, (ours, naive) in cases.items():
            ours_s, naive_s = _timed(ours), _timed(naive) * scale
            results[name] = {"ours_s": ours_s, "naive_s_scaled": naive_s, "speedup": naive_s / ours_s}
            print(f"{name:22s} ours {ours_s:7.2f} s   naive loop {naive_s:8.2f} s   ratio {naive_s / ours_s:6.1f}x")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
