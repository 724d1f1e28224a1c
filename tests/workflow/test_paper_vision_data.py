"""The paper configuration's vision data path, on stand-ins in the published formats.

Stand-ins, in the paths ``config/paper.yaml`` names: two BOLD5000 subjects written by the
simulator in the ROI release layout (``data/bold5000/ROIs/CSI{N}/mat/...``, stimulus lists,
images under ``Presented_Stimuli/{COCO,ImageNet,Scene}``), small MNIST IDX files (gzipped, as
downloaded) and CIFAR-10 binary batches. The shipped paper config has no ``simulate`` block,
so the real loaders read them as real data.
"""

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from brainalign.brains.simulate_bold5000 import Bold5000Simulation, simulate_bold5000
from brainalign.brains.store import read_subject_store
from brainalign.tasks.images import read_image_split

ROOT = Path(__file__).resolve().parents[2]
SUBJECTS = ["CSI1", "CSI2"]
pytestmark = pytest.mark.workflow


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture(scope="module")
def paper_workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("paper_vision")
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    bold5000 = config["datasets"]["bold5000"]
    bold5000["subjects"] = SUBJECTS
    simulate_bold5000(
        workdir / bold5000["raw_dir"], workdir / bold5000["image_dir"], SUBJECTS, seed=1,
        settings=Bold5000Simulation(n_images=40, image_size=24, repeated_images=4),
    )
    rng = np.random.default_rng(0)
    mnist = workdir / config["tasks"]["mnist"]["path"]
    mnist.mkdir(parents=True)
    for prefix, n in (("train", 60), ("t10k", 20)):
        (mnist / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))))
        (mnist / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx((np.arange(n) % 10).astype(np.uint8))))
    cifar = workdir / config["tasks"]["cifar10"]["path"]
    cifar.mkdir(parents=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (cifar / name).write_bytes(rng.integers(0, 10, (8, 3073), dtype=np.uint8).tobytes())
    for task in ("mnist", "cifar10"):
        config["tasks"][task]["n_examples"] = {"validation": 10}
    (workdir / "paper.yaml").write_text(yaml.safe_dump(config))
    return workdir


def _snakemake(workdir, *targets):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(workdir / "paper.yaml"), "--cores", "2", *targets],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )


def test_paper_config_reads_bold5000_mnist_and_cifar10_from_their_published_formats(paper_workdir):
    targets = ["results/paper/brains/bold5000/stimuli.tsv", "results/paper/tasks/mnist/test.h5", "results/paper/tasks/cifar10/train.h5"]
    result = _snakemake(paper_workdir, *targets)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "simulate_bold5000" not in result.stdout + result.stderr
    store = read_subject_store(paper_workdir / "results/paper/brains/bold5000/CSI1.h5")
    assert not store.simulated and store.n_stimuli == 40  # 48 trials, repeats averaged
    assert list(store.rois) == ["EarlyVis", "LOC", "OPA", "PPA", "RSC"]
    mnist = read_image_split(paper_workdir / "results/paper/tasks/mnist/test.h5")
    assert mnist.display_name == "MNIST" and mnist.images.shape == (20, 28, 28, 3)
    cifar = read_image_split(paper_workdir / "results/paper/tasks/cifar10/train.h5")
    assert cifar.display_name == "CIFAR-10" and cifar.images.shape == (30, 32, 32, 3) and cifar.class_names[0] == "airplane"


def test_a_missing_stimulus_image_stops_the_subject_naming_the_image(paper_workdir):
    image_dir = paper_workdir / "data/bold5000/BOLD5000_Stimuli/Scene_Stimuli/Presented_Stimuli"
    victim = sorted((image_dir / "Scene").iterdir())[0]
    victim.unlink()
    (paper_workdir / "results/paper/brains/bold5000/CSI2.h5").unlink(missing_ok=True)
    result = _snakemake(paper_workdir, "results/paper/brains/bold5000/CSI2.h5")
    assert result.returncode != 0
    log = (paper_workdir / "results/paper/logs/brains_bold5000/CSI2.log").read_text()
    assert victim.name in log and "CSI02_stim_lists.txt" in log
    assert not (paper_workdir / "results/paper/brains/bold5000/CSI2.h5").exists()
