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


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda c: c["ridge"].update(n_fold=3), "n_fold"),
        (lambda c: c.update(sed=1), "sed"),
        (lambda c: c["ridge"].update(n_folds="five"), "five"),
        (lambda c: c["features"].update(pooling="max"), "max"),
        (lambda c: c["datasets"]["pereira"].update(loader="csv"), "csv"),
        (lambda c: c["models"]["tiny-gpt2"].update(pretrained="gpt2"), "tiny-gpt2"),
    ],
    ids=["unknown-key", "unknown-top-level-key", "wrong-type", "bad-pooling", "bad-loader", "build-and-pretrained"],
)
def test_bad_config_is_rejected_naming_the_key(mutate, named):
    config = copy.deepcopy(_load("config.yaml"))
    mutate(config)
    with pytest.raises(WorkflowError, match=named):
        validate(config, SCHEMA)


def test_default_profile_reruns_jobs_a_killed_run_left_incomplete():
    # A job killed between writing two of its outputs leaves one in place; Snakemake marks
    # it incomplete and, with this setting, reruns the job instead of stopping.
    profile = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    assert profile["rerun-incomplete"] is True
