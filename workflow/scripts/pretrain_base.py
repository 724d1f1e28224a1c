"""Build and pre-train the embedded default's small GPT-2 (rule pretrain_base)."""

import torch

from brainalign.io import setup_logging
from brainalign.tuning.recipes import pretrain_base_model

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.params.torch_threads)
pretraining = snakemake.params.pretrain
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
