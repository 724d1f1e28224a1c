"""Noise ceilings of every subject x ROI of the datasets with ceilings (rule ceilings)."""

from threadpoolctl import threadpool_limits

from brainalign.alignment import RidgeSettings
from brainalign.brains.store import read_subject_store
from brainalign.ceilings import compute_ceilings, write_ceilings
from brainalign.io import setup_logging
from brainalign.stats import StatisticsSettings

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
methods = snakemake.params.methods
stores = {}
for dataset in methods:
    paths = snakemake.input[dataset]
    stores[dataset] = [read_subject_store(path) for path in ([paths] if isinstance(paths, str) else paths)]
with threadpool_limits(snakemake.threads):
    ceilings = compute_ceilings(
        stores,
        methods=methods,
        settings=RidgeSettings(**snakemake.params.settings),
        statistics=StatisticsSettings(**snakemake.params.statistics),
    )
write_ceilings(ceilings, snakemake.output[0])
logger.info("wrote %d ceilings to %s", len(ceilings), snakemake.output[0])
