"""Generate on a task's test split and score the generations with BERTScore (rule evaluate)."""

import torch

from brainalign.evaluation import evaluate_generations, generate
from brainalign.io import setup_logging
from brainalign.tables import write_frame
from brainalign.tasks.text import read_split
from brainalign.tuning.methods import load_tuned

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
settings = params.evaluation
records = read_split(snakemake.input.test)
model, tokenizer = load_tuned(params.model_source, snakemake.input.checkpoint or None, snakemake.wildcards.method)
generations = generate(
    model, tokenizer, [r["prompt"] for r in records], max_new_tokens=settings["max_new_tokens"], batch_size=settings["batch_size"]
)
per_example = evaluate_generations(
    records, generations, model_type=settings["scorer_model"], num_layers=settings["scorer_num_layers"]
)
write_frame(per_example, snakemake.output[0])
logger.info("%d examples, mean BERTScore F1 %.4f", len(per_example), per_example["f1"].mean())
