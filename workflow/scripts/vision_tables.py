"""BOLD5000 pivots (paper Tables VII-VIII, all five ROIs, both directions) (rule vision_tables)."""

from brainalign.io import setup_logging
from brainalign.provenance import ConfiguredVariants
from brainalign.tables import read_table, vision_pivot, write_frame
from brainalign.tasks.images import display_name

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
tables = {direction: read_table(snakemake.input[direction]) for direction in ("decoding", "encoding")}
ConfiguredVariants(**snakemake.params.configured).check_scores(tables, f"{snakemake.input.decoding} and {snakemake.input.encoding}")
names = {task: display_name(settings) for task, settings in snakemake.params.task_settings.items()}
pivot = vision_pivot(tables, task_names=names, metric=snakemake.params.pivot_metric)
write_frame(pivot, snakemake.output[0])
logger.info("%s: %d rows (tasks %s)", snakemake.output[0], len(pivot), names)
