"""Build and pre-train the embedded default's small GPT-2 or ViT (rule pretrain_base)."""

import torch

from brainalign.io import setup_logging

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.params.torch_threads)
pretraining = snakemake.params.pretrain
if snakemake.params.modality == "vision":
    from brainalign.tuning.vision_recipes import pretrain_vit

    pretrain_vit(
        snakemake.output[0],
        architecture=snakemake.params.build,
        n_images=pretraining["n_images"],
        steps=pretraining["steps"],
        batch_size=pretraining["batch_size"],
        learning_rate=pretraining["learning_rate"],
        warmup_steps=pretraining["warmup_steps"],
        seed=snakemake.params.seed,
    )
else:
    from brainalign.tuning.recipes import pretrain_base_model

    pretrain_base_model(
        snakemake.output[0],
        corpus_path=snakemake.input.corpus,
        architecture=snakemake.params.build,
        steps=pretraining["steps"],
        batch_size=pretraining["batch_size"],
        learning_rate=pretraining["learning_rate"],
        block_size=pretraining["block_size"],
        seed=snakemake.params.seed,
    )
