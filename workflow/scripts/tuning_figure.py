"""Draw the validation curves of every candidate learning rate (rule tuning_figure)."""

import os

from brainalign.io import setup_logging
from brainalign.plots import save_figure
from brainalign.plots_tuning import plot_tuning_curves
from brainalign.tuning.table import read_tuning_table

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
figure = plot_tuning_curves(read_tuning_table(snakemake.input.curves))
logger.info("wrote %s", save_figure(figure, os.path.join(os.path.dirname(snakemake.output.png), snakemake.params.name)))
