"""Read one task's splits and write them as normalised (prompt, target) lines (rule prepare_task)."""

from brainalign.io import setup_logging
from brainalign.tasks.text import DEFAULT_TEMPLATES, load_task_split, write_split

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
task = snakemake.wildcards.task
settings = snakemake.params.task
template = settings.get("template") or DEFAULT_TEMPLATES[settings["kind"]]
# Every split is read (and checked) before any is written: a bad split leaves no good-looking
# sibling behind.
splits = {output: output.rsplit("/", 1)[-1].removesuffix(".jsonl") for output in snakemake.output}
loaded = {
    output: load_task_split(task, settings, split, local_path=snakemake.input.get(split))
    for output, split in splits.items()
}
for output, examples in loaded.items():
    write_split(output, examples, template)
    logger.info("task %s, split %s: %d examples -> %s", task, splits[output], len(examples), output)
