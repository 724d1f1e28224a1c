"""Paired contrasts of every pair of model variants, per subject and at the group level (rule comparisons)."""

from brainalign.comparisons import compare_pair_stores
from brainalign.io import setup_logging
from brainalign.provenance import ConfiguredVariants
from brainalign.stats import StatisticsSettings
from brainalign.tables import write_frame

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
statistics = StatisticsSettings(**snakemake.params.statistics)
table = compare_pair_stores(list(snakemake.input), statistics=statistics, seed=snakemake.params.seed)
ConfiguredVariants(**snakemake.params.configured).check_comparisons(table, "the per-subject pair stores")
write_frame(table, snakemake.output[0])
logger.info("%d comparisons, %d with q < %g", len(table), int((table["q"] < statistics.fdr_alpha).sum()),
            statistics.fdr_alpha)
