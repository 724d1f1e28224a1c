# brainalign: prompt-tuned vs fine-tuned representations against brain responses.
#
#   snakemake --cores 8 results/tables/decoding.csv            # embedded default, offline
#   snakemake --cores 8 --configfile config/paper.yaml ...     # the reference paper's setup
#
# This file only loads and validates the config and includes one rule file per stage.
import os

from snakemake.utils import min_version, validate

min_version("9.0")

# The embedded default, unless --configfile names another config: Snakemake would otherwise
# merge the two, and a paper run would inherit the default's simulated subjects and models.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))

# The workflow's own package is importable in every job, whichever environment runs it
# (the local virtual environment, a --use-conda env, or a SLURM job).
# (Setting a variable, not requiring one from the user: hence no envvars directive.)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (workflow.basedir, os.environ.get("PYTHONPATH", "")) if p)
)


# `snakemake --report results/report.html`: this page (methods from the config used) + every
# output flagged with report() in the rules, captioned from workflow/report/*.rst.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/common_vision.smk"
include: "workflow/rules/common_report.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/brains.smk"
include: "workflow/rules/tasks.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/ridge.smk"
include: "workflow/rules/report.smk"


# The results root records each run's configuration (not on dry-runs: a plan leaves no trace).
onstart:
    record_this_run()


rule all:
    input:
        all_targets(),
    default_target: True
