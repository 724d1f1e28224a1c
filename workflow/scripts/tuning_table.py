"""Gather every checkpoint's learning-rate search into tables/tuning.csv and tuning_curves.csv (rule tuning_table)."""

from brainalign.io import setup_logging
from brainalign.tuning.table import gather_tuning, write_tuning_tables

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
checkpoints = [(*key, folder) for key, folder in zip(snakemake.params.checkpoints, snakemake.input, strict=True)]
table, curves = gather_tuning(checkpoints)
write_tuning_tables(table, curves, snakemake.output.table, snakemake.output.curves)
logger.info("wrote %d candidates of %d checkpoints", len(table), len(checkpoints))
