"""Generated narrative of the main contrasts, the hyperparameter search and the methods (rule summary)."""

from pathlib import Path

from brainalign.ceilings import normalising_ceilings, read_ceilings
from brainalign.comparisons import read_comparisons
from brainalign.io import atomic_output, setup_logging
from brainalign.provenance import ConfiguredVariants
from brainalign.report import methods_blocks, summary_blocks, to_html, to_markdown, tuning_blocks
from brainalign.tables import read_table, read_task_scores
from brainalign.tuning.table import read_tuning_table

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
scores = {direction: read_table(snakemake.input[direction]) for direction in ("decoding", "encoding")}
task_scores = read_task_scores(snakemake.input.task_scores) if "task_scores" in snakemake.input.keys() else None
comparisons = read_comparisons(snakemake.input.comparisons)
ConfiguredVariants(**snakemake.params.configured).check_report_inputs(scores, comparisons, task_scores, snakemake.input)
tuning = tuning_blocks(read_tuning_table(snakemake.input.tuning)) if "tuning" in snakemake.input.keys() else []
ceilings = (
    normalising_ceilings(read_ceilings(snakemake.input.ceilings), snakemake.params.ceiling_methods)
    if "ceilings" in snakemake.input.keys()
    else None
)
blocks = (
    summary_blocks(
        scores, comparisons, task_scores=task_scores, fdr_alpha=snakemake.params.fdr_alpha, ceilings=ceilings
    )
    + tuning
    + methods_blocks(snakemake.params.config)
)
for path, text in ((snakemake.output.markdown, to_markdown(blocks)), (snakemake.output.html, to_html(blocks, title="brainalign summary"))):
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    logger.info("wrote %s", path)
