"""Draw every figure the workflow lists (rule figures): PNG + SVG in results/figures/."""

import os

from brainalign.ceilings import normalising_ceilings, read_ceilings
from brainalign.comparisons import read_comparisons
from brainalign.io import setup_logging
from brainalign.plots import make_figure, save_figure
from brainalign.provenance import ConfiguredVariants
from brainalign.tables import read_table, read_task_scores

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
scores = {direction: read_table(snakemake.input[direction]) for direction in ("decoding", "encoding")}
comparisons = read_comparisons(snakemake.input.comparisons)
task_scores = read_task_scores(snakemake.input.task_scores) if "task_scores" in snakemake.input.keys() else None
ConfiguredVariants(**snakemake.params.configured).check_report_inputs(scores, comparisons, task_scores, snakemake.input)
ceilings = (
    normalising_ceilings(read_ceilings(snakemake.input.ceilings), snakemake.params.ceiling_methods)
    if "ceilings" in snakemake.input.keys()
    else None
)
folder = os.path.dirname(snakemake.output[0])
for spec in snakemake.params.specs:
    figure = make_figure(
        spec, scores=scores, comparisons=comparisons, task_scores=task_scores, fdr_alpha=snakemake.params.fdr_alpha,
        ceilings=ceilings,
    )
    logger.info("wrote %s", save_figure(figure, os.path.join(folder, spec["name"])))
