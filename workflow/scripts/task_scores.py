"""Summarise every evaluation into task_scores.csv and the paper's Table I (rule task_scores)."""

from brainalign.evaluation import gather_task_scores, task_score_pivot
from brainalign.io import setup_logging
from brainalign.tables import write_frame

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
scores = gather_task_scores(list(snakemake.input))
write_frame(scores, snakemake.output.scores)
write_frame(task_score_pivot(scores, metric=snakemake.params.metric), snakemake.output.table1)
logger.info("%d task scores", len(scores))
