"""Read one task's splits and write them as normalised (prompt, target) lines (rule prepare_task)."""

from brainalign.io import setup_logging
from brainalign.tasks.text import prepare_task_splits

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
task = snakemake.wildcards.task
outputs = {output.rsplit("/", 1)[-1].removesuffix(".jsonl"): output for output in snakemake.output}
counts = prepare_task_splits(
    task, snakemake.params.task, outputs, local_paths=snakemake.params.local_paths, seed=snakemake.params.seed
)
for split, count in counts.items():
    logger.info("task %s, split %s: %d examples -> %s", task, split, count, outputs[split])
