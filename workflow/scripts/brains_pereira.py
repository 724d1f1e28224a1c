"""Load one Pereira subject's raw files into the HDF5 response store (rule brains_pereira)."""

from brainalign.brains.pereira import load_pereira_627, load_pereira_mat
from brainalign.brains.store import write_subject_store
from brainalign.io import setup_logging

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
params = snakemake.params
subject = snakemake.wildcards.subject
if params.loader == "mat":
    responses = load_pereira_mat(
        list(snakemake.input), subject=subject, networks=params.networks, simulated=params.simulated
    )
else:
    stimuli_path, subject_path = snakemake.input[:2]
    responses = load_pereira_627(
        stimuli_path,
        subject_path,
        subject=subject,
        trust_pickled_subject_files=params.trust_pickled_subject_files,
        passages_path=params.passages_file,
        passage_block_size=params.passage_block_size,
        simulated=params.simulated,
    )
write_subject_store(snakemake.output[0], responses)
logger.info(
    "subject %s: %d stimuli; ROIs %s",
    subject,
    len(responses.stimulus_ids),
    ", ".join(f"{roi} ({m.shape[1]} voxels)" for roi, m in responses.rois.items()),
)
