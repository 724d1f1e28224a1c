"""Build and save the embedded default's small GPT-2 (rule build_base_model)."""

from brainalign.io import setup_logging
from brainalign.models.language import build_tiny_gpt2

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
path = build_tiny_gpt2(snakemake.output[0], seed=snakemake.params.seed, **snakemake.params.build)
logger.info("saved %s with %s", path, snakemake.params.build)
