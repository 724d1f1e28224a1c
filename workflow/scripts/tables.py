"""Gather every per-subject ridge result into the long-format tables (rule tables)."""

from brainalign.io import setup_logging
from brainalign.tables import gather_scores, write_table

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
tables = gather_scores(list(snakemake.input))
for direction, path in snakemake.output.items():
    write_table(tables[direction], path)
    logger.info("%s: %d rows", path, len(tables[direction]))
