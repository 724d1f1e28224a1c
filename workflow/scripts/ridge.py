"""Decode and encode every ROI of one subject from one model variant (rule ridge)."""

from threadpoolctl import threadpool_limits

from brainalign.alignment import RidgeSettings, score_subject
from brainalign.brains.store import read_subject_store
from brainalign.features import read_feature_store
from brainalign.io import setup_logging
from brainalign.tables import write_table

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
responses = read_subject_store(snakemake.input.responses)
features = read_feature_store(snakemake.input.features)
with threadpool_limits(snakemake.threads):
    scores = score_subject(
        responses, features, settings=RidgeSettings(**snakemake.params.settings), **snakemake.params.identity
    )
write_table(scores, snakemake.output[0])
logger.info("wrote %d scores", len(scores))
