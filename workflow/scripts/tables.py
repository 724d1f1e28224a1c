"""Gather every per-subject ridge result into the long-format tables (rule tables); with noise
ceilings on, join each row's ceiling and normalised score."""

from brainalign.ceilings import normalise_scores, read_ceilings
from brainalign.io import setup_logging
from brainalign.provenance import ConfiguredVariants
from brainalign.tables import gather_scores, paper_pivot, write_frame, write_table

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
tables = gather_scores(list(snakemake.input.scores))
ceilings = read_ceilings(snakemake.input.ceilings[0]) if snakemake.input.ceilings else None
ConfiguredVariants(**snakemake.params.configured).check_scores(tables, "the per-subject ridge results")
for direction in ("decoding", "encoding"):
    if ceilings is not None:
        tables[direction], reasons = normalise_scores(tables[direction], ceilings, snakemake.params.ceiling_methods)
        for reason in reasons:
            logger.warning("%s: %s", direction, reason)
    write_table(tables[direction], snakemake.output[direction])
    logger.info("%s: %d rows", snakemake.output[direction], len(tables[direction]))
pivots = paper_pivot(tables["decoding"], metric=snakemake.params.pivot_metric, datasets=["pereira"])
write_frame(pivots, snakemake.output.pivots)
logger.info("%s: %d rows", snakemake.output.pivots, len(pivots))
