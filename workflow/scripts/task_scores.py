"""Summarise every evaluation into task_scores.csv and the paper's Table I (rule task_scores)."""

from pathlib import Path

import pandas as pd

from brainalign.evaluation import summarise_scores, task_score_pivot
from brainalign.io import setup_logging
from brainalign.tables import write_frame

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
summaries = []
for path in map(Path, snakemake.input):
    # results/evaluation/{model}/{task}/{method}.csv
    model, task, method = path.parts[-3], path.parts[-2], path.stem
    per_example = pd.read_csv(path, keep_default_na=False)
    summaries.append(summarise_scores(per_example, model=model, task=task, method=method))
scores = pd.concat(summaries, ignore_index=True).sort_values(["model", "task", "method", "metric"], kind="stable")
write_frame(scores, snakemake.output.scores)
write_frame(task_score_pivot(scores, metric=snakemake.params.metric), snakemake.output.table1)
logger.info("%d task scores", len(scores))
