"""Summarise every evaluation into task_scores.csv, the paper's Table I (BERTScore F1, raw and
rescaled, with each task's scorer and layer) and Table VI (image accuracy) (rule task_scores)."""

import pandas as pd

from brainalign.evaluation import bertscore_table, gather_task_scores
from brainalign.image_evaluation import accuracy_pivot
from brainalign.io import setup_logging
from brainalign.provenance import ConfiguredVariants
from brainalign.tables import write_frame
from brainalign.tasks.images import display_name

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
metric = snakemake.params.metric
scores = gather_task_scores(list(snakemake.input))
ConfiguredVariants(**snakemake.params.configured).check_task_scores(scores, "the per-variant evaluations")
write_frame(scores, snakemake.output.scores)
if (scores["metric"] == metric).any():
    table1 = bertscore_table(scores)
else:  # no text task configured
    table1 = pd.DataFrame(
        columns=["model", "task", "scorer", "scorer_layer", "language", "f1", *snakemake.params.methods, "scorer_valid", "note"]
    )
write_frame(table1, snakemake.output.table1)
names = {task: display_name(settings) for task, settings in snakemake.params.image_tasks.items()}
write_frame(accuracy_pivot(scores, names), snakemake.output.table6)
logger.info("%d task scores", len(scores))
