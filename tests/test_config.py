"""The shipped configs validate; a wrong key or type is rejected naming the key."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate
from snakemake_interface_common.exceptions import WorkflowError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def _load(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_validate(name):
    validate(_load(name), SCHEMA)


def test_schema_is_draft_2020_12():
    # Snakemake skips validation (with only a warning) for older drafts.
    assert yaml.safe_load(Path(SCHEMA).read_text())["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_defaults_are_filled_in():
    config = _load("config.yaml")
    del config["ridge"]["n_folds"]
    validate(config, SCHEMA)
    assert config["ridge"]["n_folds"] == 5
    assert config["datasets"]["pereira"]["trust_pickled_subject_files"] is False


def test_bold5000_and_image_task_defaults_are_filled_in():
    config = _load("config.yaml")
    for key in ("trs", "rois", "hemispheres", "cv_groups"):
        del config["datasets"]["bold5000"][key]
    validate(config, SCHEMA)
    bold5000 = config["datasets"]["bold5000"]
    assert bold5000["trs"] == [34] and bold5000["hemispheres"] == "combined" and bold5000["cv_groups"] == "image"
    assert config["tasks"]["shapes10"]["cifar10_format"] == "binary"
    assert "cifar10_format" not in config["tasks"]["summarization"]  # text tasks get no image defaults


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda c: c["ridge"].update(n_fold=3), "n_fold"),
        (lambda c: c.update(sed=1), "sed"),
        (lambda c: c["ridge"].update(n_folds="five"), "five"),
        (lambda c: c["features"].update(pooling="max"), "max"),
        (lambda c: c["datasets"]["pereira"].update(loader="csv"), "csv"),
        (lambda c: c["models"]["tiny-gpt2"].update(pretrained="gpt2"), "tiny-gpt2"),
        (lambda c: c["datasets"]["bold5000"].update(rois=["LOC", "FFA"]), "FFA"),
        (lambda c: c["datasets"]["bold5000"].update(subjects=["S01"]), "S01"),
        (lambda c: c["datasets"]["bold5000"].update(trs=[6]), "6"),
        (lambda c: c["tasks"]["mnist"].update(source="mnist_idx"), "path"),
        (lambda c: c["tasks"]["shapes10"].update(n_examples={"train": 10}), "validation"),
        (lambda c: c["tasks"]["shapes10"].update(local={}), "local"),
        (lambda c: c["models"]["tiny-vit"]["build"].update(n_layer=2), "n_layer"),
        (lambda c: c["models"]["tiny-vit"].update(dataset="pereira"), "bold5000"),
        (lambda c: c["tuning"]["vision"]["prompt"].update(num_virtual_tokens=4), "num_virtual_tokens"),
        (lambda c: c["features"]["vision"].update(pooling="last"), "last"),
    ],
    ids=[
        "unknown-key", "unknown-top-level-key", "wrong-type", "bad-pooling", "bad-loader", "build-and-pretrained",
        "bold5000-unknown-roi", "bold5000-subject-name", "bold5000-tr", "mnist-idx-needs-path",
        "synthetic-needs-split-sizes", "image-task-unknown-key", "vit-gets-no-gpt2-keys", "vit-needs-bold5000",
        "vision-prompt-key", "vision-pooling",
    ],
)
def test_bad_config_is_rejected_naming_the_key(mutate, named):
    config = copy.deepcopy(_load("config.yaml"))
    mutate(config)
    with pytest.raises(WorkflowError, match=named):
        validate(config, SCHEMA)


def test_vision_model_defaults_are_the_vit_ones():
    config = _load("config.yaml")
    del config["models"]["tiny-vit"]["build"]["patch_size"]
    del config["tuning"]["vision"]["prompt"]["deep"]
    validate(config, SCHEMA)
    assert config["models"]["tiny-vit"]["build"]["patch_size"] == 8 and "n_layer" not in config["models"]["tiny-vit"]["build"]
    assert config["models"]["tiny-gpt2"]["modality"] == "language" and "patch_size" not in config["models"]["tiny-gpt2"]["build"]
    assert config["tuning"]["vision"]["prompt"]["deep"] is False


def test_default_profile_reruns_jobs_a_killed_run_left_incomplete():
    # A job killed between writing two of its outputs leaves one in place; Snakemake marks
    # it incomplete and, with this setting, reruns the job instead of stopping.
    profile = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    assert profile["rerun-incomplete"] is True
