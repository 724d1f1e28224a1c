"""Build one image task's train/validation/test splits as HDF5 (rule prepare_image_task)."""

from pathlib import Path

from brainalign.io import setup_logging
from brainalign.tasks.images import load_image_task, write_image_split

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
task = snakemake.wildcards.task
splits = load_image_task(task, snakemake.params.task, seed=snakemake.params.seed)
for output in snakemake.output:
    split = splits[Path(output).stem]
    write_image_split(output, split)
    logger.info("task %s (%s): %s %d images of %s", task, split.display_name, Path(output).stem, len(split), split.images.shape[1:])
