"""Decode and encode every ROI of one subject from one model variant (rule ridge)."""

from threadpoolctl import threadpool_limits

from brainalign.alignment import RidgeSettings, read_ridge_inputs, score_subject
from brainalign.io import setup_logging
from brainalign.tables import write_table

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
identity = snakemake.params.identity
# Both stores are checked against this job: a stale or foreign file is an error.
responses, features = read_ridge_inputs(
    snakemake.input.responses, snakemake.input.features, subject=snakemake.wildcards.subject, **identity
)
with threadpool_limits(snakemake.threads):
    scores = score_subject(responses, features, settings=RidgeSettings(**snakemake.params.settings), **identity)
write_table(scores, snakemake.output[0])
logger.info("wrote %d scores", len(scores))
