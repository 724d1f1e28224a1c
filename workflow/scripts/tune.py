"""Tune one model on one task and save the checkpoint (rule tune).

Text: prompt tuning or fine-tuning a causal LM; vision: a linear head (base), visual prompts
or fine-tuning a ViT. Both run the one training loop, once per candidate learning rate, and
save the winner (brainalign.tuning.search).
"""

import torch

from brainalign.io import setup_logging

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
options = dict(
    method=snakemake.wildcards.method,
    checkpoint_dir=snakemake.output.checkpoint,
    loss_path=snakemake.output.loss,
    settings=snakemake.params.settings,
)
if snakemake.params.modality == "vision":
    from brainalign.tasks.images import read_image_split
    from brainalign.tuning.vision_recipes import tune_vit_on_task

    train, validation = read_image_split(snakemake.input.train), read_image_split(snakemake.input.validation)
    history = tune_vit_on_task(snakemake.params.model_source, train, validation, **options)
else:
    from brainalign.tasks.text import read_split
    from brainalign.tuning.recipes import tune_on_task

    train, validation = read_split(snakemake.input.train), read_split(snakemake.input.validation)
    history = tune_on_task(snakemake.params.model_source, train, validation, **options)
validation_losses = history["validation_loss"].dropna()
logger.info("validation loss %.4f -> %.4f", validation_losses.iloc[0], validation_losses.iloc[-1])
