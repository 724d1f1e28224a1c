"""Generated narrative of the main contrasts and the methods section (rule summary)."""

from pathlib import Path

from brainalign.ceilings import normalising_ceilings, read_ceilings
from brainalign.comparisons import read_comparisons
from brainalign.io import atomic_output, setup_logging
from brainalign.report import methods_blocks, summary_blocks, to_html, to_markdown
from brainalign.tables import read_table, read_task_scores

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
scores = {direction: read_table(snakemake.input[direction]) for direction in ("decoding", "encoding")}
task_scores = read_task_scores(snakemake.input.task_scores) if "task_scores" in snakemake.input.keys() else None
ceilings = (
    normalising_ceilings(read_ceilings(snakemake.input.ceilings), snakemake.params.ceiling_methods)
    if "ceilings" in snakemake.input.keys()
    else None
)
blocks = summary_blocks(
    scores, read_comparisons(snakemake.input.comparisons), task_scores=task_scores, fdr_alpha=snakemake.params.fdr_alpha,
    ceilings=ceilings,
) + methods_blocks(snakemake.params.config)
for path, text in ((snakemake.output.markdown, to_markdown(blocks)), (snakemake.output.html, to_html(blocks, title="brainalign summary"))):
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    logger.info("wrote %s", path)
