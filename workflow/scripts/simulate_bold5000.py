"""Write simulated BOLD5000 subjects and their stimulus images (rule simulate_bold5000)."""

from pathlib import Path

from brainalign.brains.simulate import RoiSimulation
from brainalign.brains.simulate_bold5000 import DEFAULT_ROIS, Bold5000Simulation, simulate_bold5000
from brainalign.io import setup_logging

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
params = snakemake.params
simulation = dict(params.simulation)
rois = {name: RoiSimulation(**roi) for name, roi in simulation.pop("rois", {}).items()} or DEFAULT_ROIS
settings = Bold5000Simulation(**simulation, rois=rois)
raw_dir = Path(snakemake.output.raw[0]).parents[2]  # {raw_dir}/{subject}/mat/{subject}_ROIs_TR1.mat
written = simulate_bold5000(raw_dir, snakemake.output.images, params.subjects, seed=params.seed, settings=settings)
logger.info("wrote %d raw files and %d images", len(written), settings.n_images)
