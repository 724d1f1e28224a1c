"""Load one BOLD5000 subject's ROI files into the HDF5 response store (rule brains_bold5000)."""

from brainalign.brains.bold5000 import load_bold5000
from brainalign.brains.store import write_subject_store
from brainalign.io import setup_logging

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
params = snakemake.params
responses = load_bold5000(
    list(snakemake.input.mats),
    snakemake.input.stim_list,
    snakemake.input.images,
    subject=snakemake.wildcards.subject,
    rois=params.rois,
    hemispheres=params.hemispheres,
    cv_groups=params.cv_groups,
    simulated=params.simulated,
)
write_subject_store(snakemake.output[0], responses)
logger.info(
    "subject %s: %d images; ROIs %s",
    responses.subject,
    responses.n_stimuli,
    ", ".join(f"{roi} ({m.shape[1]} voxels)" for roi, m in responses.rois.items()),
)
