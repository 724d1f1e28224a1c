"""Prompt-tune or fine-tune one model on one task and save the checkpoint (rule tune)."""

import torch

from brainalign.io import setup_logging
from brainalign.tasks.text import read_split
from brainalign.tuning.recipes import tune_on_task

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
history = tune_on_task(
    snakemake.params.model_source,
    read_split(snakemake.input.train),
    read_split(snakemake.input.validation),
    method=snakemake.wildcards.method,
    checkpoint_dir=snakemake.output.checkpoint,
    loss_path=snakemake.output.loss,
    settings=snakemake.params.settings,
)
validation = history["validation_loss"].dropna()
logger.info("validation loss %.4f -> %.4f", validation.iloc[0], validation.iloc[-1])
