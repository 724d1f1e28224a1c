"""Gather every per-subject ridge result into the long-format tables (rule tables)."""

from brainalign.io import setup_logging
from brainalign.provenance import ConfiguredVariants
from brainalign.tables import gather_scores, paper_pivot, write_frame, write_table

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
tables = gather_scores(list(snakemake.input))
ConfiguredVariants(**snakemake.params.configured).check_scores(tables, "the per-subject ridge results")
for direction in ("decoding", "encoding"):
    write_table(tables[direction], snakemake.output[direction])
    logger.info("%s: %d rows", snakemake.output[direction], len(tables[direction]))
pivots = paper_pivot(tables["decoding"], metric=snakemake.params.pivot_metric, datasets=["pereira"])
write_frame(pivots, snakemake.output.pivots)
logger.info("%s: %d rows", snakemake.output.pivots, len(pivots))
