"""Gather the stimuli of all subjects of a dataset into one table (rule stimulus_table)."""

from brainalign.brains.stimuli import write_stimulus_table
from brainalign.brains.store import read_subject_store
from brainalign.io import setup_logging

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
stores = [read_subject_store(path) for path in snakemake.input]
table = write_stimulus_table(snakemake.output[0], stores)
logger.info("%s: %d distinct stimuli over %d subjects", snakemake.params.dataset, len(table), len(stores))
