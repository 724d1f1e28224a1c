"""The benchmark scripts run in their quick mode and write their reports (no timing is asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script, tmp_path, *args):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args,
         "--json", str(tmp_path / "out.json"), "--markdown", str(tmp_path / "out.md")],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "out.md").read_text()
    assert report.split("\n\n", 1)[1].strip() in result.stdout  # the printed report, also saved
    return json.loads((tmp_path / "out.json").read_text()), report


def test_ridge_benchmark_quick_mode_reports_every_method(tmp_path):
    results, report = run(
        "ridge_2v2.py", tmp_path, "--voxels", "200", "--dims", "32", "--repeats", "1", "--skip-naive",
        "--two-vs-two-repeats", "1", "--blas-threads", "1", "--permutations", "3", "--inference-repeats", "2",
    )
    for direction in ("decoding", "encoding"):
        assert {"ours", "ours_before", "sklearn_ridgecv", "ours_per_target", "himalaya_kernelridgecv"} <= set(results[direction])
        assert results[direction]["ours_before"]["time_ratio_vs_before"] > 0  # (a) against the options of before
        assert results[direction]["himalaya_kernelridgecv"]["speedup_of_ours"] > 0
        # (a), (a0) and (b) alternate, so (b) / (a) is also given repeat by repeat.
        paired = results[direction]["sklearn_ridgecv"]["paired_speedup"]
        seconds = {name: results[direction][name]["all_seconds"] for name in ("ours", "sklearn_ridgecv")}
        assert paired["ratios"] == [b / a for a, b in zip(seconds["ours"], seconds["sklearn_ridgecv"])]
        # The torch backend on the CPU, one alpha and per target, against numpy in the same run.
        rows = results[direction]["torch"]
        assert {(row["device"], row["alphas"]) for row in rows} >= {("cpu", "one alpha"), ("cpu", "per target")}
        assert all(row["max_relative_difference_vs_numpy"] < 1e-9 for row in rows)
    assert "himalaya KernelRidgeCV" in report and "sklearn RidgeCV" in report and "torch on cpu" in report
    assert "the time of the options of before" in report and "repeat by repeat" in report
    for direction in ("decoding", "encoding"):  # (f): the inference fit_subject adds, as ratios to (a)
        inference = results[direction]["inference"]
        assert inference["refit_null_permutations"] == 3 and inference["refit_null_repeats"] == 2
        # Medians of the null with and without the permutations, subtracted (never below 0).
        difference = inference["refit_null_seconds"] - inference["refit_null_setup_seconds"]
        assert inference["refit_null_setup_seconds"] > 0
        assert inference["refit_null_seconds_per_permutation"] == pytest.approx(max(difference, 0.0) / 3)
        assert inference["fold_pair_models_ratio_to_ours"] > 0
    assert "per permutation" in report


def test_features_benchmark_quick_mode_reports_every_method(tmp_path):
    results, report = run("features.py", tmp_path, "--quick")
    methods = results["methods"]
    assert set(methods) == {
        "bucketed_batches_one_pass", "one_sentence_at_a_time", "unbucketed_batches", "one_pass_per_layer",
    }
    # The four ways compute the same features (float error only).
    assert all(entry["max_abs_difference_vs_bucketed"] < 1e-4 for entry in methods.values())
    assert "one sentence at a time" in report


def test_plan_time_benchmark_quick_mode_times_a_no_op_plan_against_snakemakes_floor(tmp_path):
    results, report = run("plan_time.py", tmp_path, "--quick")
    assert set(results["timings"]) == {"python", "empty_workflow", "embedded_default"}
    assert results["ratio_vs_empty_workflow"] > 0
    assert results["phases"]["parse Snakefile and rule files"] > 0 and "snakemake" in results["imports"]
    assert "Nothing to be done" not in report and "one-rule Snakefile" in report  # the script checked it


def test_embedded_default_benchmark_reads_gnu_time_and_rule_benchmarks(tmp_path):
    # The script itself runs the whole workflow (minutes): here only its parsing is checked.
    import importlib.util

    spec = importlib.util.spec_from_file_location("embedded_default", ROOT / "benchmarks" / "embedded_default.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    time_v = (
        "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03.5\n"
        "\tMaximum resident set size (kbytes): 2097152\n"
    )
    assert module.parse_time_v(time_v) == {"wall_seconds": 3723.5, "max_rss_mb": 2048.0}
    header = "s\th:m:s\tmax_rss\tmax_vms\n"
    (tmp_path / "ridge" / "m").mkdir(parents=True)
    (tmp_path / "ridge" / "m" / "S01.tsv").write_text(header + "2.0\t0:00:02\t100.0\t200\n")
    (tmp_path / "ridge" / "m" / "S02.tsv").write_text(header + "3.0\t0:00:03\t150.0\t200\n")
    (tmp_path / "tables.tsv").write_text(header + "1.0\t0:00:01\t50.0\t80\n")
    rules = module.per_rule(tmp_path)
    assert rules.loc["ridge"].tolist() == [2, 5.0, 150.0] and rules.loc["tables"].tolist() == [1, 1.0, 50.0]


def test_refit_null_benchmark_times_the_block_alpha_choice_against_the_entry_wise_one(tmp_path):
    results, report = run("refit_null.py", tmp_path, "--voxels", "200", "--dims", "32", "--permutations", "3",
                          "--repeats", "1")
    for direction in ("decoding", "encoding"):
        entry = results[direction]
        assert entry["same_alphas"] is True  # the block gather changes the cost, never the choice
        assert entry["blocks_seconds"] > 0 and entry["entries_seconds"] > 0
    assert "entry-wise gather" in report


def test_refit_null_benchmark_cost_mode_times_a_fit_with_one_image_per_group(tmp_path):
    results, report = run("refit_null.py", tmp_path, "--cost", "--stimuli", "150", "--group-size", "1",
                          "--sessions", "3", "--voxels", "60", "--dims", "16", "--permutations", "2")
    cost = results["cost"]
    assert cost["ridge_seconds"] > 0 and cost["null_setup_seconds"] > 0 and cost["null_seconds_per_permutation"] > 0
    assert "per permutation" in report and "groups of 1" in report
    assert cost["alpha_choice_same"] is True  # batching the alpha choice changes the cost, never the choice
    assert cost["pair_blocks_same_null"] is True  # the pair models' blocks across folds give the same null
    assert cost["null_whole_matrices_seconds_per_permutation"] > 0 and "blocks across folds" in report
    pair = cost["pair_model_similarity"]
    assert pair["n_test"] > 0 and all(pair[f"{way}_ms"] > 0 for way in ("kernel_whole", "kernel_across",
                                                                         "direct_whole", "direct_across"))
