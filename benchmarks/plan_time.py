"""How long Snakemake takes to plan a no-op rerun of the embedded default, and where it goes.

Completes the embedded default (``config/config.yaml``) in a fresh working directory, then
times ``snakemake -n`` there (it must plan nothing) ``--repeats`` times, against baselines
timed in the same run:

(a) ``python -c pass``: the interpreter alone;
(b) ``python -m snakemake --version``: importing Snakemake's command line;
(c) ``snakemake -n`` of a one-rule Snakefile whose output exists: Snakemake's own floor for
    any plan (startup, plugins, the workflow profile lookup, an empty DAG);
(d) ``snakemake -n`` of the completed embedded default: ours.

One further run of (d) under ``-X importtime`` splits its imports by top-level package, and one
under cProfile splits the rest into parsing the Snakefile (and our rule files), building the
DAG (input functions, wildcards) and deciding what needs to run (file times, the recorded
metadata of every output). Usage::

    python benchmarks/plan_time.py [--touch] [--quick] [--cores 2] [--repeats 5] [--json out.json] [--markdown out.md]

``--touch`` completes the run without executing a job: every output is created empty and
``snakemake --touch`` records the metadata a real run records (seconds instead of minutes;
the plan of the no-op rerun is the same). Without it the workflow really runs (minutes).
``--quick`` (the test suite: ``--touch``, one repeat, no ``--version`` baseline, imports and
phases from one run under both cProfile and ``-X importtime``) needs 5 Snakemake calls.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from brainalign.io import write_report_files

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
SPLIT_PACKAGES = ("snakemake", "snakemake_executor_plugin_slurm")

# cProfile phases: cumulative time of these functions (module path fragment, function name);
# the largest entry counts, as include and update_needrun nest calls of the same name.
PHASES = {
    "parse Snakefile and rule files": [("snakemake/workflow.py", "include")],
    "of which validating the config (schema)": [("snakemake/utils.py", "validate")],
    "build the DAG (input functions, wildcards)": [("snakemake/dag.py", "init")],
    "decide what to run (times, metadata)": [("snakemake/dag.py", "update_needrun")],
}


def run(command: list[str], cwd: Path, check: bool = True, **extra) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=3600, **extra)
    if check and result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


def complete(workdir: Path, touch: bool, cores: int) -> None:
    """Make the embedded default count as finished in ``workdir``."""
    workflow = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", str(cores)]
    if not touch:
        run(workflow, workdir)
        return
    out = run([*workflow, "--summary"], workdir).stdout
    for row in csv.DictReader(io.StringIO(out[out.index("output_file\t"):]), delimiter="\t"):
        path = workdir / row["output_file"]
        if path.suffix:  # directory() outputs (models, checkpoints) have no suffix
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True, exist_ok=True)
    run([*workflow, "--touch", "--forceall"], workdir)


def timed(command: list[str], cwd: Path, repeats: int) -> dict:
    """Median and all wall times (s) of ``repeats`` runs of ``command``, and its last output."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run(command, cwd)
        seconds.append(time.perf_counter() - start)
    return {"seconds": statistics.median(seconds), "all_seconds": seconds, "output": result.stdout + result.stderr}


def import_breakdown(command: list[str], cwd: Path) -> dict[str, float]:
    """Import seconds of each package (``-X importtime``), largest first (:func:`imports_of`)."""
    return imports_of(run([command[0], "-X", "importtime", *command[1:]], cwd).stderr)


def imports_of(stderr: str) -> dict[str, float]:
    """Import seconds of each package in ``-X importtime`` output, largest first.

    A package's time is the cumulative time of its first import wherever it happened, its
    own imports included: pandas imported by the SLURM executor plugin counts under both.
    """
    totals: dict[str, float] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| *(\S+)$", line)
        name = match.group(2) if match else ""
        # Packages, and one level below Snakemake and its plugins (snakemake.api, the SLURM
        # executor's efficiency_report, which imports pandas).
        depth = name.count(".")
        if name and not name.startswith("_") and (depth == 0 or (depth == 1 and name.split(".")[0] in SPLIT_PACKAGES)):
            totals.setdefault(name, int(match.group(1)) / 1e6)
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def profile_breakdown(command: list[str], cwd: Path, scratch: Path) -> dict[str, float]:
    """Cumulative seconds of each phase in :data:`PHASES`, from one run under cProfile."""
    output = scratch / "plan.prof"
    run([command[0], "-m", "cProfile", "-o", str(output), *command[1:]], cwd)
    return phases_of(output)


def phases_of(output: Path) -> dict[str, float]:
    """Cumulative seconds of each phase in :data:`PHASES` in a cProfile output file."""
    stats = pstats.Stats(str(output)).stats
    total = max(entry[3] for entry in stats.values())
    phases = {"total under cProfile": total}
    for phase, functions in PHASES.items():
        phases[phase] = max(
            (
                entry[3]
                for (path, _, name), entry in stats.items()
                if any(path.endswith(fragment) and name == function for fragment, function in functions)
            ),
            default=0.0,
        )
    ours = sum(entry[3] for (path, _, name), entry in stats.items() if name == "<module>" and "/brainalign/" in path)
    phases["of which importing brainalign (our package)"] = ours
    return phases


def empty_workflow(directory: Path) -> Path:
    """A one-rule Snakefile whose only output exists: the smallest no-op plan."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "done.txt").write_text("done\n")
    snakefile = directory / "Snakefile"
    snakefile.write_text('rule all:\n    input:\n        "done.txt",\n')
    return snakefile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--touch", action="store_true", help="complete the run by touching outputs (seconds)")
    parser.add_argument("--cores", type=int, default=2, help="cores of the real run (without --touch)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="--touch, one repeat, fewer baselines (the test suite)")
    parser.add_argument("--keep", type=Path, default=None, help="use (and keep) this working directory")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.touch, args.repeats = True, 1

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="brainalign-plan-"))
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="brainalign-plan-scratch-"))
    try:
        if not (workdir / "results" / "summary.md").exists():
            complete(workdir, args.touch, args.cores)
        ours = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "-n", "--cores", "1"]
        empty = [*SNAKEMAKE, "-s", str(empty_workflow(scratch / "empty")), "-n", "--cores", "1"]
        results = {
            "command": " ".join(["python", "benchmarks/plan_time.py", *sys.argv[1:]]),
            "completed_by": "touch" if args.touch else "a real run",
            "load_average_before": [round(value, 2) for value in os.getloadavg()],
            "timings": {
                "python": timed([sys.executable, "-c", "pass"], scratch, args.repeats),
                "empty_workflow": timed(empty, scratch / "empty", args.repeats),
                "embedded_default": timed(ours, workdir, args.repeats),
            },
        }
        if not args.quick:
            results["timings"]["snakemake_version"] = timed([*SNAKEMAKE, "--version"], scratch, args.repeats)
        if "Nothing to be done" not in results["timings"]["embedded_default"]["output"]:
            sys.exit("the no-op rerun planned jobs:\n" + results["timings"]["embedded_default"]["output"][-3000:])
        for entry in results["timings"].values():
            del entry["output"]
        if args.quick:  # one run under both: its times are inflated by the profiler
            profiled = run([ours[0], "-X", "importtime", "-m", "cProfile", "-o", str(scratch / "plan.prof"),
                            *ours[1:]], workdir)
            results["imports"], results["imports_empty_workflow"] = imports_of(profiled.stderr), {}
            results["phases"] = phases_of(scratch / "plan.prof")
        else:
            results["imports"] = import_breakdown(ours, workdir)
            results["imports_empty_workflow"] = import_breakdown(empty, scratch / "empty")
            results["phases"] = profile_breakdown(ours, workdir, scratch)
        results["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)

    timings = results["timings"]
    results["ratio_vs_empty_workflow"] = timings["embedded_default"]["seconds"] / timings["empty_workflow"]["seconds"]
    report = markdown_report(results)
    print(report)
    write_report_files(results, report, markdown=args.markdown, json_path=args.json)


def markdown_report(results: dict) -> str:
    timings = results["timings"]
    labels = {
        "python": "`python -c pass`",
        "snakemake_version": "`snakemake --version`",
        "empty_workflow": "`snakemake -n`, one-rule Snakefile, nothing to do",
        "embedded_default": "`snakemake -n`, completed embedded default, nothing to do",
    }
    lines = [
        f"No-op plan of the embedded default (completed by {results['completed_by']}; 1-min load average "
        f"{results['load_average_before'][0]} before, {results['load_average_after'][0]} after)",
        "",
        "| command | median (s) | best (s) |",
        "|---|---:|---:|",
    ]
    for key, label in labels.items():
        if key not in timings:
            continue
        lines.append(f"| {label} | {timings[key]['seconds']:.2f} | {min(timings[key]['all_seconds']):.2f} |")
    lines += [
        "",
        f"Our no-op plan takes {results['ratio_vs_empty_workflow']:.2f}x the time of Snakemake's own floor "
        "(the one-rule Snakefile).",
        "",
        "| one run under cProfile | s |",
        "|---|---:|",
    ]
    lines += [f"| {phase} | {seconds:.2f} |" for phase, seconds in results["phases"].items()]
    lines += [
        "",
        "| package imported (`-X importtime`, cumulative, nested packages counted in their importer too) "
        "| ours (s) | one-rule Snakefile (s) |",
        "|---|---:|---:|",
    ]
    for package, seconds in list(results["imports"].items())[:15]:
        lines.append(f"| {package} | {seconds:.2f} | {results['imports_empty_workflow'].get(package, 0.0):.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
