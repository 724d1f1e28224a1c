"""The markdown report of ``benchmarks/ridge_2v2.py`` from its results dictionary."""

from __future__ import annotations


def torch_table(results: dict) -> list[str]:
    """Markdown rows of (e), empty when the torch backend was skipped."""
    lines = []
    for direction in ("decoding", "encoding"):
        for row in results[direction].get("torch", []):
            lines.append(
                f"| {direction} | torch on {row['device']} | {row['alphas']} | {row['seconds']:.2f} | "
                f"{min(row['all_seconds']):.2f} | {row['numpy_seconds']:.2f} | {row['speedup_vs_numpy']:.2f}x | "
                f"{row['max_relative_difference_vs_numpy']:.1e} |"
            )
    if not lines:
        return []
    header = [
        "",
        "| direction | backend | alphas | median (s) | best (s) | numpy median (s) | numpy time / this time "
        "| max difference / max prediction |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    return header + lines


def folds_label(results: dict) -> range:
    """The K(K-1)/2 pair models of the problem's K outer folds."""
    k = results["problem"]["n_folds"]
    return range(k * (k - 1) // 2)


def markdown_table(results: dict) -> str:
    problem = results["problem"]
    lines = [
        f"Problem: {problem['n_stimuli']} stimuli in {problem['n_groups']} groups, {problem['n_voxels']} voxels, "
        f"{problem['n_dims']} dims, {problem['n_folds']} outer folds, {len(problem['alphas'])} alphas",
        "",
        "| direction | method | wall time, median (s) | best (s) | ours is faster by (median) "
        "| alphas chosen per fold (median over targets when per target) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for direction in ("decoding", "encoding"):
        for method, label in (
            ("ours", "brainalign cross_val_predict_ridge (groups, sessions, standardised targets)"),
            ("ours_before", "brainalign, options of before issue 12 (row LOO, centred targets)"),
            ("sklearn_ridgecv", "sklearn RidgeCV + StandardScaler"),
            ("naive_nested_cv", "naive inner 5-fold CV with Ridge"),
            ("ours_per_target", "brainalign, one alpha per target"),
            ("himalaya_kernelridgecv", "himalaya KernelRidgeCV linear, per target"),
        ):
            entry = results[direction].get(method)
            if entry is None:
                continue
            speedup = f"{entry['speedup_of_ours']:.1f}x" if "speedup_of_ours" in entry else "1x"
            if "time_ratio_vs_before" in entry:
                speedup = f"{1 / entry['time_ratio_vs_before']:.2f}x"
            if "speedup_of_ours_per_target" in entry:
                speedup += f" ({entry['speedup_of_ours_per_target']:.1f}x vs ours per target)"
            chosen = ", ".join(f"{alpha:g}" for alpha in entry["alphas"])
            best = min(entry.get("all_seconds", [entry["seconds"]]))
            lines.append(f"| {direction} | {label} | {entry['seconds']:.2f} | {best:.2f} | {speedup} | {chosen} |")
    lines += torch_table(results)
    two_vs_two_result = results["two_vs_two"]
    lines += [
        "",
        f"2v2 on the out-of-fold decoding predictions ({two_vs_two_result['n_pairs']:,} pairs): "
        f"median {two_vs_two_result['milliseconds_median']:.1f} ms, "
        f"min {two_vs_two_result['milliseconds_min']:.1f} ms, "
        f"accuracy {two_vs_two_result['accuracy']:.3f}",
    ]
    for direction in ("decoding", "encoding"):
        if "himalaya_kernelridgecv" in results[direction]:
            lines.append(
                f"{direction}: out-of-fold 2v2 of the per-target fits: ours "
                f"{results[direction]['ours_per_target']['two_vs_two']:.3f}, himalaya "
                f"{results[direction]['himalaya_kernelridgecv']['two_vs_two']:.3f}"
            )
    for direction in ("decoding", "encoding"):
        before = results[direction]["ours_before"]
        paired = results[direction]["sklearn_ridgecv"]["paired_speedup"]
        lines.append(
            f"{direction}: (a) takes {before['time_ratio_vs_before']:.2f}x the time of the options of before "
            f"(median to median; best to best {before['best_time_ratio_vs_before']:.2f}x); "
            f"sklearn RidgeCV takes {paired['of_medians']:.1f}x the time of (a) (median to median), "
            f"{paired['median']:.1f}x repeat by repeat (median; {paired['min']:.1f}x-{paired['max']:.1f}x "
            f"over {len(paired['ratios'])} alternating repeats)"
        )
    for direction in ("decoding", "encoding"):
        inference = results[direction].get("inference")
        if inference:
            lines.append(
                f"{direction} inference (f): the {len(folds_label(results))} pair models across folds take "
                f"{inference['fold_pair_models_seconds']:.2f} s ({inference['fold_pair_models_ratio_to_ours']:.2f}x (a)); "
                f"the refitted null {inference['refit_null_setup_seconds']:.2f} s to build the models' linear maps "
                f"({inference['refit_null_setup_ratio_to_ours']:.2f}x (a)), then "
                f"{inference['refit_null_seconds_per_permutation']:.3f} s per permutation "
                f"({inference['refit_null_per_permutation_ratio_to_ours']:.3f}x (a); "
                f"{inference['refit_null_permutations']} timed, medians of {inference['refit_null_repeats']}), "
                f"so 1000 permutations take "
                f"{1000 * inference['refit_null_per_permutation_ratio_to_ours']:.0f}x (a)"
            )
    for direction in ("decoding", "encoding"):
        agree = results[direction]["agreement_ours_vs_ridgecv"]
        if agree["max_relative_difference"] is None:
            lines.append(f"{direction}: no fold chose the same alpha in ours (options of before) and RidgeCV")
        else:
            lines.append(
                f"{direction}: ours with the options of before vs RidgeCV on the {agree['folds_same_alpha']} folds "
                "with the same alpha: "
                f"max |difference| / max |prediction| = {agree['max_relative_difference']:.1e}"
            )
    return "\n".join(lines)
