"""Write simulated Pereira subjects in the configured raw format (rules simulate_pereira*)."""

from pathlib import Path

from brainalign.brains.simulate import RoiSimulation, simulate_subject
from brainalign.brains.stimuli import load_sentence_stimuli
from brainalign.io import setup_logging

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
params = snakemake.params
rois = {name: RoiSimulation(**roi) for name, roi in params.simulation["rois"].items()}
stimuli = load_sentence_stimuli(snakemake.input.stimuli)
if params.loader == "mat":
    # output: {raw_dir}/{subject}/examples_{experiment}.mat
    out_dir, subjects = Path(snakemake.output[0]).parents[1], [snakemake.wildcards.subject]
    experiment = params.experiment
else:
    out_dir, subjects, experiment = Path(snakemake.output.stimuli).parent, params.subjects, "simulated"
for subject in subjects:
    written = simulate_subject(
        out_dir,
        stimuli,
        subject,
        seed=params.seed,
        fmt=params.loader,
        rois=rois,
        n_hidden=params.simulation["n_hidden"],
        experiment=experiment,
    )
    logger.info("subject %s: wrote %s", subject, ", ".join(map(str, written)))
