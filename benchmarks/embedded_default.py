"""Wall time and peak memory of the whole embedded default (``config/config.yaml``).

Runs ``snakemake --cores N`` (default 2) in a fresh working directory under GNU
``/usr/bin/time -v`` and reports the wall time, the largest resident set of any process of the
run (``time -v``'s "Maximum resident set size": the largest single descendant, not a sum),
the number of jobs, and each rule's total time and peak memory from the per-rule benchmark
files the workflow writes. Usage::

    python benchmarks/embedded_default.py [--cores 2] [--configfile config/config.yaml] \\
        [--json out.json] [--markdown out.md] [--keep DIR]

The timings depend on what else the machine runs: state the load next to the numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from brainalign.io import write_report_files

ROOT = Path(__file__).resolve().parents[1]


def parse_time_v(text: str) -> dict:
    """Wall seconds and max RSS (MB) from GNU time -v output."""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    seconds = 0.0
    for part in wall.split(":"):
        seconds = 60 * seconds + float(part)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return {"wall_seconds": seconds, "max_rss_mb": rss_kb / 1024}


def per_rule(benchmarks: Path) -> pd.DataFrame:
    """Jobs, summed seconds and the largest max_rss (MB) per rule, from results/benchmarks."""
    rows = []
    for path in sorted(benchmarks.rglob("*.tsv")):
        rule = path.relative_to(benchmarks).parts[0].removesuffix(".tsv")
        frame = pd.read_csv(path, sep="\t")
        rows.append({"rule": rule, "s": float(frame["s"].iloc[0]), "max_rss": float(frame["max_rss"].iloc[0])})
    table = pd.DataFrame(rows)
    return (
        table.groupby("rule")
        .agg(jobs=("s", "size"), seconds=("s", "sum"), max_rss_mb=("max_rss", "max"))
        .sort_values("seconds", ascending=False)
    )


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="run in this folder and keep it")
    args = parser.parse_args()
    if not Path("/usr/bin/time").exists():
        sys.exit("GNU time is needed at /usr/bin/time (apt-get install time)")

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="brainalign-embedded-"))
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    command = [
        "/usr/bin/time", "-v", sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"),
        "--directory", str(workdir), "--cores", str(args.cores), "--configfile", str(args.configfile.resolve()),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        if result.returncode != 0:
            sys.exit(f"the run failed:\n{result.stderr[-4000:]}")
        measured = parse_time_v(result.stderr)
        rules = per_rule(workdir / "results" / "benchmarks")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)

    results = {
        "command": " ".join(["python", "benchmarks/embedded_default.py", *sys.argv[1:]]),
        "cores": args.cores,
        "configfile": str(args.configfile),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        **measured,
        "jobs": int(rules["jobs"].sum()),
        "rules": rules.reset_index().to_dict(orient="records"),
    }
    report = markdown_report(results)
    print(report)
    write_report_files(results, report, markdown=args.markdown, json_path=args.json)


def markdown_report(results: dict) -> str:
    lines = [
        f"Embedded default on {results['cores']} cores: wall time {results['wall_seconds'] / 60:.1f} min, "
        f"largest process {results['max_rss_mb']:.0f} MB, {results['jobs']} jobs "
        f"(1-min load average {results['load_average_before'][0]} before, {results['load_average_after'][0]} after)",
        "",
        "| rule | jobs | total s | largest max_rss (MB) |",
        "|---|---:|---:|---:|",
    ]
    for row in results["rules"]:
        lines.append(f"| {row['rule']} | {row['jobs']} | {row['seconds']:.1f} | {row['max_rss_mb']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
