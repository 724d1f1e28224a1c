"""What a Snakemake ``benchmark:`` file must record, shared by the workflow tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# Snakemake samples a job's memory about once a second: a job that ends sooner may be seen
# only after it exited (max_rss NA or 0 MiB), so peak memory is required from longer jobs.
SAMPLED_AFTER_SECONDS = 2.0


def check_benchmark_records(folder: Path, *, at_least_sampled: int) -> None:
    """Every ``*.tsv`` under ``folder`` records its time; jobs of 2 s or more their peak memory.

    ``at_least_sampled``: how many jobs must have run long enough to be sampled, so that the
    memory check cannot pass vacuously.
    """
    sampled = 0
    for path in sorted(folder.rglob("*.tsv")):
        row = pd.read_csv(path, sep="\t").iloc[0]
        assert pd.api.types.is_number(row["s"]) and row["s"] >= 0, path
        if row["s"] >= SAMPLED_AFTER_SECONDS:
            assert pd.api.types.is_number(row["max_rss"]) and row["max_rss"] > 0, path
            sampled += 1
    assert sampled >= at_least_sampled, f"only {sampled} jobs ran {SAMPLED_AFTER_SECONDS} s or more in {folder}"
