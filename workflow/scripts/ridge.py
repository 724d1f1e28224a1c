"""Decode and encode every ROI of one subject from one model variant (rule ridge)."""

from threadpoolctl import threadpool_limits

from brainalign.alignment import RidgeSettings, fit_subject, read_ridge_inputs
from brainalign.io import setup_logging
from brainalign.pairs import write_pair_store
from brainalign.stats import StatisticsSettings
from brainalign.tables import write_table

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
identity = snakemake.params.identity
# Both stores are checked against this job: a stale or foreign file is an error.
responses, features = read_ridge_inputs(
    snakemake.input.responses, snakemake.input.features, subject=snakemake.wildcards.subject, **identity,
    require=snakemake.params.features_require,
)
settings = RidgeSettings(**snakemake.params.settings)
if settings.backend == "torch":
    import torch

    torch.set_num_threads(snakemake.threads)
with threadpool_limits(snakemake.threads):
    fitted = fit_subject(
        responses,
        features,
        settings=settings,
        statistics=StatisticsSettings(**snakemake.params.statistics),
        **identity,
    )
write_pair_store(fitted, snakemake.output.pairs)
write_table(fitted.scores, snakemake.output.scores)
logger.info("wrote %d scores with CIs and p-values, and their pair data", len(fitted.scores))
