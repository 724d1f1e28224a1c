"""Decode and encode every ROI of one subject from one model variant (rule ridge)."""

from threadpoolctl import threadpool_limits

from brainalign.alignment import RidgeSettings, score_subject
from brainalign.brains.store import read_subject_store
from brainalign.features import read_feature_store, variant_label
from brainalign.io import setup_logging
from brainalign.tables import write_table

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
identity = snakemake.params.identity
# Both stores are checked against what this job is for: a stale or foreign file is an error.
responses = read_subject_store(snakemake.input.responses, subject=snakemake.wildcards.subject)
features = read_feature_store(snakemake.input.features, require={"variant": variant_label(**identity)})
with threadpool_limits(snakemake.threads):
    scores = score_subject(
        responses, features, settings=RidgeSettings(**snakemake.params.settings), **identity
    )
write_table(scores, snakemake.output[0])
logger.info("wrote %d scores", len(scores))
