"""The paper configuration's code path, on local stand-ins for what cannot be downloaded here.

Stand-ins: two subjects written in the official Pereira format, each with both experiment
files (``examples_384sentences.mat`` and ``examples_243sentences.mat``, smaller than the real
ones), and a model directory saved with ``save_pretrained`` in place of the hub's ``gpt2``;
for the vision arm one BOLD5000 subject written by the simulator in the ROI release layout,
the MNIST / CIFAR-10 folders (empty: only planned here) and a tiny ViT folder in place of
``google/vit-base-patch16-224-in21k``. Everything else is ``config/paper.yaml`` as shipped.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from brainalign.brains.simulate import simulate_responses, write_pereira_mat
from brainalign.brains.simulate_bold5000 import Bold5000Simulation, simulate_bold5000
from brainalign.brains.stimuli import SentenceStimuli, load_sentence_stimuli
from brainalign.models.language import build_tiny_gpt2
from brainalign.models.vision import build_tiny_vit

ROOT = Path(__file__).resolve().parents[2]
SUBJECTS = ["P01", "M02"]
pytestmark = pytest.mark.workflow


def _subset(stimuli: SentenceStimuli, rows: slice) -> SentenceStimuli:
    return SentenceStimuli(
        stimuli.stimulus_ids[rows], stimuli.passages[rows], stimuli.topics[rows], stimuli.sentences[rows]
    )


@pytest.fixture(scope="module")
def paper_workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("paper")
    stimuli = load_sentence_stimuli(ROOT / "resources" / "stimuli" / "sentences.tsv")
    half = len(stimuli.stimulus_ids) // 2
    for subject in SUBJECTS:
        responses = simulate_responses(stimuli, subject, seed=0)
        for experiment, rows in (("384sentences", slice(0, half)), ("243sentences", slice(half, None))):
            write_pereira_mat(
                workdir / "data" / "pereira" / subject / f"examples_{experiment}.mat",
                _subset(stimuli, rows),
                {roi: matrix[rows] for roi, matrix in responses.items()},
            )
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    config["datasets"]["pereira"]["subjects"] = SUBJECTS
    config["models"]["gpt2"]["pretrained"] = str(build_tiny_gpt2(workdir / "standin-gpt2", seed=0))
    config["features"]["layers"] = [2, -1]
    bold5000 = config["datasets"]["bold5000"]
    bold5000["subjects"] = ["CSI1"]
    simulate_bold5000(
        workdir / bold5000["raw_dir"], workdir / bold5000["image_dir"], ["CSI1"], seed=1,
        settings=Bold5000Simulation(n_images=40, image_size=24, repeated_images=4),
    )
    for task in ("mnist", "cifar10"):
        (workdir / config["tasks"][task]["path"]).mkdir(parents=True)
    config["models"]["vit-b16"]["pretrained"] = str(build_tiny_vit(workdir / "standin-vit", seed=0))
    # As shipped, with its hub datasets for the tasks (they cannot be fetched here) ...
    (workdir / "paper-hub.yaml").write_text(yaml.safe_dump(config))
    # ... and without tasks, so the base model's brain-alignment path runs end to end.
    config["tasks"] = {}
    (workdir / "paper-standin.yaml").write_text(yaml.safe_dump(config))
    return workdir


def _snakemake(workdir, *args, config="paper-standin.yaml"):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(workdir / config), "--cores", "2", *args],
        capture_output=True, text=True, timeout=900, env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )


def test_paper_config_plans_every_stage_without_simulation_or_pretraining(paper_workdir):
    result = _snakemake(paper_workdir, "--dry-run", config="paper-hub.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    plan = result.stdout + result.stderr
    assert "simulate_pereira" not in plan and "pretrain_base" not in plan
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", plan, flags=re.MULTILINE))
    # Text: 3 tasks x (prompt, finetune), base and tuned variants evaluated, 8 feature sets
    # (base, random, 6 tuned). Vision: 2 image tasks x (base head, prompt, finetune), 6 feature
    # sets, one subject.
    assert jobs["prepare_task"] == "3" and jobs["prepare_image_task"] == "2"
    assert jobs["tune"] == str(6 + 6) and jobs["evaluate"] == str(9 + 6)
    assert jobs["features"] == str(8 + 6) and jobs["ridge"] == str(8 * len(SUBJECTS) + 6)


def test_hub_task_offline_stops_naming_the_config_key(paper_workdir):
    result = _snakemake(paper_workdir, "results/paper/tasks/summarization/train.jsonl", config="paper-hub.yaml")
    assert result.returncode != 0
    log = (paper_workdir / "results/paper/logs/prepare_task/summarization.log").read_text()
    assert "tasks.summarization.hub.name" in log and "EdinburghNLP/xsum" in log
    assert not (paper_workdir / "results/paper/tasks/summarization/train.jsonl").exists()


def test_paper_config_runs_on_real_format_files_and_a_saved_model(paper_workdir):
    result = _snakemake(paper_workdir, "results/paper/tables/decoding.csv", "results/paper/tables/encoding.csv")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    everything = pd.read_csv(paper_workdir / "results/paper/tables/decoding.csv", dtype={"subject": str})
    assert set(everything["model"]) == {"gpt2", "vit-b16"}
    vision = everything[everything["model"] == "vit-b16"]  # without tasks: the base ViT only
    assert set(vision["subject"]) == {"CSI1"} and set(vision["task"]) == {"none"} and not vision["simulated"].any()
    assert set(vision["layer"]) == {3} and set(vision["n_stimuli"]) == {40}  # features.vision.layers [-1]
    decoding = everything[everything["model"] == "gpt2"]
    assert set(decoding["subject"]) == set(SUBJECTS)
    assert set(decoding["layer"]) == {2, 4}
    assert not decoding["simulated"].any()  # loaded as real data: no simulate block in the config
    assert set(decoding["n_stimuli"]) == {128}  # both experiment files, concatenated
    assert set(decoding["method"]) == {"base", "random"}  # without tasks: the pre-trained and untrained model
    # two experiments, scanned apart: 2v2 also over within- and cross-session pairs
    assert set(decoding["pairs"]) == {"all", "within_session", "cross_session"}
    base = decoding[(decoding["method"] == "base") & (decoding["pairs"] == "all")]
    score = base[base["layer"] == 4].set_index(["subject", "roi"])["score"]
    for subject in SUBJECTS:  # the ROI with signal beats the pure-noise ROI
        assert score[(subject, "language")] > score[(subject, "visual")]


def test_a_corrupt_raw_file_stops_its_job_naming_the_file_and_leaves_no_store(paper_workdir):
    broken = paper_workdir / "data" / "pereira" / "M04"
    broken.mkdir(parents=True)
    good = (paper_workdir / "data" / "pereira" / "P01" / "examples_384sentences.mat").read_bytes()
    (broken / "examples_384sentences.mat").write_bytes(good[: len(good) // 3])  # truncated download
    (broken / "examples_243sentences.mat").write_bytes(good)
    result = _snakemake(paper_workdir, "results/paper/brains/pereira/M04.h5")
    assert result.returncode != 0
    log = (paper_workdir / "results/paper/logs/brains_pereira/M04.log").read_text()
    assert "M04/examples_384sentences.mat" in log
    assert not (paper_workdir / "results/paper/brains/pereira/M04.h5").exists()
    assert not list((paper_workdir / "results/paper/brains/pereira").glob(".M04*"))  # no temporary left either


def _tune_runtimes(plan):
    """Planned runtime (minutes) of every tune job, by its checkpoint wildcards."""
    runtimes = {}
    for block in plan.split("\n\n"):
        if re.search(r"^rule tune:", block, flags=re.MULTILINE):
            wildcards = re.search(r"wildcards: model=([\w-]+), task=(\w+), method=(\w+)", block).groups()
            runtimes[wildcards] = int(re.search(r"runtime=(\d+)", block).group(1))
    return runtimes


def test_paper_config_plans_grids_of_three_for_every_method_and_one_vision_epoch(paper_workdir):
    from brainalign.tuning.grid import learning_rate_grid, steps_for_epochs

    config = yaml.safe_load((paper_workdir / "paper-hub.yaml").read_text())
    tuning = config["tuning"]
    grids = {f"tuning.{m}": learning_rate_grid(tuning[m]) for m in tuning["methods"]}
    grids.update({f"tuning.vision.{m}": learning_rate_grid(tuning["vision"][m]) for m in ["base", *tuning["methods"]]})
    assert {len(grid) for grid in grids.values()} == {3}
    assert 0.03 in grids["tuning.prompt"] and 5e-5 in grids["tuning.finetune"]  # centred on the literature
    assert tuning["vision"]["epochs"] == 1 and "steps" not in tuning["vision"]
    result = _snakemake(paper_workdir, "--dry-run", config="paper-hub.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    plan = result.stdout + result.stderr
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", plan, flags=re.MULTILINE))
    assert jobs["tuning_table"] == "1" and jobs["tuning_figure"] == "1"
    runtimes = _tune_runtimes(plan)
    assert len(runtimes) == 12
    # Every job trains 3 candidates: text 2,500 steps each; vision one epoch of the (uncapped,
    # estimated at 60,000 images) training split in batches of 64.
    assert runtimes[("gpt2", "qa", "prompt")] == 10 + 3 * 2500 // 10
    assert runtimes[("vit-b16", "mnist", "finetune")] == 10 + 3 * steps_for_epochs(1, 60000, 64) // 10


def test_grids_of_different_sizes_stop_the_plan_naming_the_keys(paper_workdir):
    config = yaml.safe_load((paper_workdir / "paper-hub.yaml").read_text())
    config["tuning"]["finetune"] = {"learning_rate": 5e-5}
    (paper_workdir / "unequal.yaml").write_text(yaml.safe_dump(config))
    result = _snakemake(paper_workdir, "--dry-run", config="unequal.yaml")
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "ConfigError" in message and "same size" in message
    assert "tuning.prompt.learning_rates (3 values)" in message and "tuning.finetune.learning_rate (1 value)" in message
