"""The bad-input catalogue: every entry stops with one clear error and leaves nothing to trust.

Each case builds one bad input and runs the stage that would consume it the way its
workflow script does (read, check, write under ``results/``). It asserts the exact error
class, that the message names the offending file or config key, and that afterwards no
file exists under ``results/`` that a rerun would take for a finished output. Config-level
cases run ``snakemake --dry-run`` once each: they fail while the config is read, before any
job, and must not create ``results/`` at all.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import yaml
from snakemake.utils import validate
from snakemake_interface_common.exceptions import WorkflowError

from brainalign.alignment import RidgeSettings, read_ridge_inputs, score_subject
from brainalign.brains.bold5000 import load_bold5000, roi_mat_path, stim_list_path
from brainalign.brains.pereira import load_pereira_627, load_pereira_mat
from brainalign.brains.simulate import RoiSimulation, simulate_subject
from brainalign.brains.simulate_bold5000 import Bold5000Simulation, simulate_bold5000
from brainalign.brains.stimuli import load_sentence_stimuli
from brainalign.brains.store import SubjectResponses, write_subject_store
from brainalign.errors import ConfigError, DataError
from brainalign.features import variant_label, write_feature_store
from brainalign.io import check_output_path
from brainalign.models.language import build_tiny_gpt2, load_causal_lm
from brainalign.tables import write_table
from brainalign.tasks.text import prepare_task_splits

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ROOT / "resources" / "stimuli" / "sentences.tsv"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
SMALL_ROIS = {roi: RoiSimulation(n_voxels=12, snr=1.0) for roi in ("language", "dmn", "task", "visual")}


# --------------------------------------------------------------------------- what a rerun would trust


def trusted_outputs(results: Path) -> list[Path]:
    """Files under ``results/`` a rerun would take for finished outputs.

    Logs and benchmarks record what happened and are rewritten by every run; anything else
    (hidden temporary files included: they prove a non-atomic write) counts.
    """
    if not results.exists():
        return []
    return sorted(
        p for p in results.rglob("*") if p.is_file() and p.relative_to(results).parts[0] not in ("logs", "benchmarks")
    )


# --------------------------------------------------------------------------- stages, as the scripts run them


def brains_stage(raw: list[Path], results: Path) -> None:
    """Rule brains_pereira (mat loader): raw files -> response store."""
    responses = load_pereira_mat(raw, subject="S01")
    write_subject_store(results / "brains" / "pereira" / "S01.h5", responses)


def brains_627_stage(
    stimuli: Path, subject: Path, results: Path, *, trust: bool = True, passage_block_size: int | None = 4
) -> None:
    """Rule brains_pereira (npy627 loader)."""
    responses = load_pereira_627(
        stimuli, subject, subject="S01", trust_pickled_subject_files=trust, passage_block_size=passage_block_size
    )
    write_subject_store(results / "brains" / "pereira" / "S01.h5", responses)


def brains_bold5000_stage(raw: Path, image_dir: Path, results: Path) -> None:
    """Rule brains_bold5000: ROI files + stimulus list + image folder -> response store."""
    responses = load_bold5000(
        [roi_mat_path(raw, "CSI1", 3)], stim_list_path(raw, "CSI1"), image_dir, subject="CSI1", simulated=True
    )
    write_subject_store(results / "brains" / "bold5000" / "CSI1.h5", responses)


def simulate_stage(stimuli_tsv: Path, results: Path) -> None:
    """Rule simulate_pereira: shipped stimulus set -> raw files under results/raw."""
    stimuli = load_sentence_stimuli(stimuli_tsv)
    simulate_subject(results / "raw" / "pereira", stimuli, "S01", seed=0, fmt="mat", rois=SMALL_ROIS)


def prepare_task_stage(settings: dict, results: Path) -> None:
    """Rule prepare_task."""
    splits = ("train", "validation", "test")
    prepare_task_splits("demo", settings, {split: results / "tasks" / "demo" / f"{split}.jsonl" for split in splits})


def model_stage(source: Path | str, results: Path) -> None:
    """Rules tune / features / evaluate start by loading the model; they write after that."""
    load_causal_lm(source, device="cpu")
    (results / "features").mkdir(parents=True)  # never reached on bad input


def ridge_stage(responses: Path, features: Path, results: Path, *, n_folds: int = 3) -> None:
    """Rule ridge: both stores checked against the job (subject S01, variant m/none/base)."""
    job = {"model": "m", "task": "none", "method": "base"}
    subject_store, store = read_ridge_inputs(responses, features, subject="S01", **job)
    scores = score_subject(subject_store, store, settings=RidgeSettings(alphas=(1.0,), n_folds=n_folds), **job)
    write_table(scores, results / "ridge" / "m" / "none" / "base" / "S01.csv")


# --------------------------------------------------------------------------- shared good inputs


@pytest.fixture(scope="module")
def good_mat(tmp_path_factory) -> Path:
    """A valid official-layout file (simulated, 128 sentences x 48 voxels)."""
    out = tmp_path_factory.mktemp("raw")
    [path] = simulate_subject(out, load_sentence_stimuli(SENTENCES), "S01", seed=0, fmt="mat", rois=SMALL_ROIS)
    return path


@pytest.fixture(scope="module")
def good_627(tmp_path_factory) -> list[Path]:
    """[stimuli.txt, passages.txt, S01.npy] of the 627-sentence layout."""
    out = tmp_path_factory.mktemp("raw627")
    return simulate_subject(out, load_sentence_stimuli(SENTENCES), "S01", seed=0, fmt="npy627", rois=SMALL_ROIS)


@pytest.fixture(scope="module")
def good_bold5000(tmp_path_factory) -> tuple[Path, Path]:
    """(raw_dir, image_dir) of a small simulated BOLD5000 release (subject CSI1, 6 images)."""
    out = tmp_path_factory.mktemp("bold5000")
    simulate_bold5000(
        out / "raw", out / "images", ["CSI1"], seed=0, settings=Bold5000Simulation(n_images=6, repeated_images=2)
    )
    return out / "raw", out / "images"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("model") / "tiny", n_layer=1, n_embd=16, n_head=2, seed=0)


def mat_contents(path: Path) -> dict:
    return {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}


def write_mat(path: Path, contents: dict) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, contents)
    return [path]


def good_stores(
    folder: Path, *, n_passages: int = 6, subject: str = "S01", variant=("m", "none", "base"), feature_texts=None
) -> tuple[Path, Path]:
    """A response store and a matching feature store (4 stimuli per passage)."""
    rng = np.random.default_rng(0)
    n = 4 * n_passages
    ids = [f"s{i:03d}" for i in range(n)]
    texts = [f"Sentence {i}." for i in range(n)]
    responses = SubjectResponses(
        dataset="pereira", subject=subject, stimulus_ids=ids, stimulus_texts=texts,
        groups=[f"p{i // 4}" for i in range(n)], rois={"language": rng.standard_normal((n, 6))}, simulated=True,
        provenance={},
    )
    write_subject_store(folder / f"{subject}.h5", responses)
    write_feature_store(
        folder / "features.h5", ids, {0: rng.standard_normal((n, 5))},
        identity={"model": variant[0], "variant": variant_label(*variant), "pooling": "mean"},
        stimulus_texts=texts if feature_texts is None else feature_texts,
    )
    return folder / f"{subject}.h5", folder / "features.h5"


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Case:
    """One bad input: ``run(tmp_path, fixtures) -> (stage callable, what the message must name)``."""

    error: type[Exception]
    run: Callable[..., tuple[Callable[[], None], str]]
    message: str = ""  # a further regular expression the message must match


def _missing_file(tmp, fx):
    missing = tmp / "raw" / "S01" / "examples_384sentences.mat"
    return (lambda: brains_stage([missing], tmp / "results")), str(missing)


def _627_without_passages(tmp, fx):
    stimuli_txt, _, subject = fx["good_627"]
    return (lambda: brains_627_stage(stimuli_txt, subject, tmp / "results", passage_block_size=None)), str(stimuli_txt)


def _both_mat_distributions(tmp, fx):
    new = tmp / "raw" / "S01" / "data_simulated.mat"
    new.parent.mkdir(parents=True)
    shutil.copy(fx["good_mat"], new)
    return (lambda: brains_stage([new, fx["good_mat"]], tmp / "results")), str(new)


def _truncated_mat(tmp, fx):
    path = tmp / "raw" / "examples_384sentences.mat"
    path.parent.mkdir(parents=True)
    data = fx["good_mat"].read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return (lambda: brains_stage([path], tmp / "results")), str(path)


def _mat_without(variable):
    def case(tmp, fx):
        contents = mat_contents(fx["good_mat"])
        del contents[variable]
        path = tmp / "raw" / "examples_384sentences.mat"
        write_mat(path, contents)
        return (lambda: brains_stage([path], tmp / "results")), str(path)

    return case


def _roi_index_out_of_range(tmp, fx):
    contents = mat_contents(fx["good_mat"])
    n_voxels = contents["examples"].shape[1]
    columns = contents["meta"]["roiColumns"][0, 0]  # cell (1, n_atlases) of cells of column vectors
    first_roi = columns.flat[0].flat[0]
    columns.flat[0].flat[0] = np.vstack([first_roi, [[n_voxels + 5]]])
    path = tmp / "raw" / "examples_384sentences.mat"
    write_mat(path, contents)
    return (lambda: brains_stage([path], tmp / "results")), str(path)


def _roi_filled_with(value):
    def case(tmp, fx):
        contents = mat_contents(fx["good_mat"])
        atlases = [str(a.flat[0]) for a in contents["meta"]["atlases"][0, 0].flat]
        rois = contents["meta"]["roiColumns"][0, 0].flat[atlases.index("DMN")]
        columns = np.concatenate([np.asarray(c, dtype=int).ravel() for c in rois.flat]) - 1
        contents["examples"][:, columns] = value
        path = tmp / "raw" / "examples_384sentences.mat"
        write_mat(path, contents)
        return (lambda: brains_stage([path], tmp / "results")), str(path)

    return case


def _sentences_not_rows(tmp, fx):
    contents = mat_contents(fx["good_mat"])
    contents["examples"] = contents["examples"][:-3]
    path = tmp / "raw" / "examples_384sentences.mat"
    write_mat(path, contents)
    return (lambda: brains_stage([path], tmp / "results")), str(path)


def _627_lines_not_rows(tmp, fx):
    stimuli_txt, _, subject = fx["good_627"]
    short = tmp / "raw" / "stimuli.txt"
    short.parent.mkdir(parents=True)
    short.write_text("\n".join(stimuli_txt.read_text().splitlines()[:-2]) + "\n")
    return (lambda: brains_627_stage(short, subject, tmp / "results")), str(short)


def _duplicate_stimulus_ids(tmp, fx):
    lines = SENTENCES.read_text().splitlines()
    second = lines[2].split("\t")
    lines[2] = "\t".join([lines[1].split("\t")[0], *second[1:]])
    path = tmp / "sentences.tsv"
    path.write_text("\n".join(lines) + "\n")
    return (lambda: simulate_stage(path, tmp / "results")), str(path)


def _empty_task_split(tmp, fx):
    folder = ROOT / "resources" / "tasks" / "summarization"
    empty = tmp / "validation.jsonl"
    empty.write_text("")
    settings = {
        "kind": "summarization",
        "local": {"train": str(folder / "train.jsonl"), "validation": str(empty), "test": str(folder / "test.jsonl")},
    }
    return (lambda: prepare_task_stage(settings, tmp / "results")), str(empty)


def _image_missing_from_folder(tmp, fx):
    raw, images = fx["good_bold5000"]
    copy = tmp / "images"
    shutil.copytree(images, copy)
    sorted(copy.rglob("*.jpg"))[0].unlink()
    return (lambda: brains_bold5000_stage(raw, copy, tmp / "results")), str(stim_list_path(raw, "CSI1"))


def _unknown_model_offline(tmp, fx):
    return (lambda: model_stage("brainalign-test/no-such-model", tmp / "results")), "brainalign-test/no-such-model"


def _tokenizer_model_mismatch(tmp, fx):
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = tmp / "mismatched"
    config = AutoConfig.from_pretrained(fx["tiny_model"])
    config.vocab_size = 1000  # a model with a smaller vocabulary, saved next to GPT-2's tokenizer
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json"):
        if (fx["tiny_model"] / name).is_file():
            shutil.copy(fx["tiny_model"] / name, folder / name)
    return (lambda: model_stage(folder, tmp / "results")), str(folder)


def _fewer_groups_than_folds(tmp, fx):
    responses, features = good_stores(tmp / "stores", n_passages=3)
    return (lambda: ridge_stage(responses, features, tmp / "results", n_folds=5)), "ridge.n_folds"


def _truncated_feature_store(tmp, fx):
    responses, features = good_stores(tmp / "stores")
    data = features.read_bytes()
    features.write_bytes(data[: len(data) // 2])
    return (lambda: ridge_stage(responses, features, tmp / "results")), str(features)


def _feature_store_of_another_model(tmp, fx):
    responses, _ = good_stores(tmp / "stores")
    _, features = good_stores(tmp / "other", variant=("other-model", "qa", "prompt"))
    return (lambda: ridge_stage(responses, features, tmp / "results")), str(features)


def _feature_store_of_other_sentences(tmp, fx):
    # Same ids, one sentence edited since the features were computed.
    edited = [f"Sentence {i}." for i in range(24)]
    edited[5] = "A sentence that was changed afterwards."
    responses, features = good_stores(tmp / "stores", feature_texts=edited)
    return (lambda: ridge_stage(responses, features, tmp / "results")), str(features)


def _truncated_response_store(tmp, fx):
    responses, features = good_stores(tmp / "stores")
    data = responses.read_bytes()
    responses.write_bytes(data[: len(data) // 2])
    return (lambda: ridge_stage(responses, features, tmp / "results")), str(responses)


def _response_store_of_another_subject(tmp, fx):
    other, features = good_stores(tmp / "stores", subject="S02")
    renamed = other.with_name("S01.h5")
    other.rename(renamed)
    return (lambda: ridge_stage(renamed, features, tmp / "results")), str(renamed)


class Payload:
    """Unpickling this runs code: it creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def malicious_npy(path: Path, marker: Path) -> Path:
    with open(path, "wb") as handle:
        np.save(handle, np.array(Payload(marker), dtype=object), allow_pickle=True)
    return path


def _untrusted_pickle(tmp, fx):
    stimuli_txt = fx["good_627"][0]
    subject = malicious_npy(tmp / "S01.npy", tmp / "pwned")
    return (lambda: brains_627_stage(stimuli_txt, subject, tmp / "results", trust=False)), str(subject)


def _weights_only_as_pickle(tmp, fx):
    folder = tmp / "pickled-model"
    shutil.copytree(fx["tiny_model"], folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Payload(tmp / "pwned")))
    return (lambda: model_stage(folder, tmp / "results")), str(folder)


def _simulated_raw_dir_outside_results(tmp, fx):
    return (lambda: check_output_path("/tmp/elsewhere", key="datasets.pereira.raw_dir")), "datasets.pereira.raw_dir"


CATALOGUE: dict[str, Case] = {
    "missing-data-file": Case(DataError, _missing_file, "not found"),
    "truncated-mat": Case(DataError, _truncated_mat, "truncated or corrupt"),
    "both-mat-distributions-for-one-experiment": Case(DataError, _both_mat_distributions, "examples_simulated.mat"),
    "627-without-passages": Case(ConfigError, _627_without_passages, "does not guess.*passage_block_size"),
    "mat-without-examples": Case(DataError, _mat_without("examples"), "has no sentence matrix"),
    "mat-without-meta": Case(DataError, _mat_without("meta"), "no variable 'meta'"),
    "roi-index-out-of-range": Case(DataError, _roi_index_out_of_range, "column index"),
    "all-nan-roi": Case(DataError, _roi_filled_with(np.nan), "ROI 'dmn'.*no usable voxels"),
    "constant-voxels-only": Case(DataError, _roi_filled_with(1.5), "ROI 'dmn'.*no usable voxels"),
    "stimulus-count-not-response-rows": Case(DataError, _sentences_not_rows, "rows"),
    "627-stimulus-lines-not-response-rows": Case(DataError, _627_lines_not_rows, "lines"),
    "duplicate-stimulus-ids": Case(DataError, _duplicate_stimulus_ids, "repeats stimulus ids"),
    "empty-task-split": Case(DataError, _empty_task_split, "no examples"),
    "image-missing-from-image-folder": Case(DataError, _image_missing_from_folder, "missing from the image folder"),
    "unknown-model-offline": Case(ConfigError, _unknown_model_offline, "HF_HUB_OFFLINE"),
    "tokenizer-model-mismatch": Case(DataError, _tokenizer_model_mismatch, "tokenizer has 50257 tokens"),
    "fewer-stimuli-than-folds": Case(DataError, _fewer_groups_than_folds, "3 groups for 5 folds"),
    "truncated-feature-store": Case(DataError, _truncated_feature_store, "delete it"),
    "feature-store-of-another-model": Case(DataError, _feature_store_of_another_model, "other-model/qa/prompt"),
    "feature-store-of-other-sentences": Case(DataError, _feature_store_of_other_sentences, "s005.*stale"),
    "truncated-response-store": Case(DataError, _truncated_response_store, "delete it"),
    "response-store-of-another-subject": Case(DataError, _response_store_of_another_subject, "'S02'"),
    "untrusted-pickled-subject-file": Case(ConfigError, _untrusted_pickle, "datasets.pereira.trust_pickled_subject_files: true"),
    "model-weights-only-as-pickle": Case(DataError, _weights_only_as_pickle, "pickled .bin files, which are never loaded"),
    "simulated-raw-dir-outside-results": Case(ConfigError, _simulated_raw_dir_outside_results, "outside the results"),
}


FIXTURES = ("good_mat", "good_627", "good_bold5000", "tiny_model")


class LazyFixtures(dict):
    """``fx[key]`` builds the module fixture ``key`` on first use."""

    def __getitem__(self, key):
        return super().__getitem__(key)()


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_bad_input_stops_with_one_clear_error(name, tmp_path, request, monkeypatch):
    case = CATALOGUE[name]
    monkeypatch.chdir(tmp_path)
    # Only the shared inputs a case uses are built (each is a module fixture).
    fixtures = {key: (lambda key=key: request.getfixturevalue(key)) for key in FIXTURES}
    stage, named = case.run(tmp_path, LazyFixtures(fixtures))
    with pytest.raises(BaseException) as caught:
        stage()
    assert type(caught.value) is case.error, f"{type(caught.value).__name__}: {caught.value}"
    message = str(caught.value)
    assert named in message
    assert re.search(case.message, message), message
    assert trusted_outputs(tmp_path / "results") == []
    assert not (tmp_path / "pwned").exists()  # no pickled payload ran


def test_the_pickle_payloads_of_the_catalogue_would_run_if_loaded(good_627, tmp_path):
    # Proves the two pickle cases above meaningful: their payload runs when unpickled, and
    # the 627 loader does unpickle once trusted (then rejects what it got).
    pickle.loads(pickle.dumps(Payload(tmp_path / "from-bin")))
    assert (tmp_path / "from-bin").exists()
    subject = malicious_npy(tmp_path / "S01.npy", tmp_path / "from-npy")
    with pytest.raises(DataError, match="S01.npy"):
        brains_627_stage(good_627[0], subject, tmp_path / "results", trust=True)
    assert (tmp_path / "from-npy").exists()
    assert trusted_outputs(tmp_path / "results") == []


def test_trusted_pickled_subject_file_loads(good_627, tmp_path):
    stimuli_txt, _, subject = good_627
    brains_627_stage(stimuli_txt, subject, tmp_path / "results", trust=True)
    assert trusted_outputs(tmp_path / "results") == [tmp_path / "results" / "brains" / "pereira" / "S01.h5"]


# --------------------------------------------------------------------------- config-level cases


def _default_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _config_text(mutate: Callable[[dict], None]) -> str:
    config = _default_config()
    mutate(config)
    return yaml.safe_dump(config)


CONFIG_CASES = {
    # name: (config file text, error class printed, what the message must name)
    "malformed-yaml": ("seed: 0\ndatasets: [pereira\n  raw_dir: {\n", "WorkflowError", "bad.yaml"),
    "unknown-config-key": (_config_text(lambda c: c["ridge"].update(n_fold=3)), "WorkflowError", "n_fold"),
    "wrong-type": (_config_text(lambda c: c["ridge"].update(n_folds="five")), "WorkflowError", "n_folds"),
    "simulated-raw-dir-outside-results": (
        _config_text(lambda c: c["datasets"]["pereira"].update(raw_dir="../outside")),
        "ConfigError",
        "datasets.pereira.raw_dir",
    ),
    "simulated-bold5000-image-dir-outside-results": (
        _config_text(lambda c: c["datasets"]["bold5000"].update(image_dir="../outside")),
        "ConfigError",
        "datasets.bold5000.image_dir",
    ),
    "no-configuration-name": (_config_text(lambda c: c.pop("name")), "WorkflowError", "'name' is a required property"),
    # Simulated raw files belong to the configuration's own results root.
    "simulated-raw-dir-outside-results-dir": (
        _config_text(lambda c: c.update(results_dir="results/mine")),
        "ConfigError",
        "datasets.pereira.raw_dir",
    ),
    "ceilings-for-no-dataset": (
        _config_text(lambda c: c["ceilings"]["methods"].update(pereria=["cross-subject"])),
        "WorkflowError",
        "pereria",
    ),
}


@pytest.mark.parametrize("name", list(CONFIG_CASES))
def test_bad_config_stops_the_workflow_before_any_job(name, tmp_path):
    text, error, named = CONFIG_CASES[name]
    (tmp_path / "bad.yaml").write_text(text)
    # --verbose: for a config file that is not YAML at all, Snakemake 9 prints the file,
    # line and column of the YAML error only in its verbose traceback.
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         "--cores", "1", "--dry-run", "--verbose", "--configfile", str(tmp_path / "bad.yaml")],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(rf"\b{error}\b", output), output[-3000:]
    assert named in output, output[-3000:]
    assert not (tmp_path / "results").exists()
    assert not (tmp_path.parent / "outside").exists()


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda c: c["ridge"].update(n_fold=3), "n_fold"),
        (lambda c: c["ridge"].update(n_folds="five"), "n_folds"),
    ],
    ids=["unknown-config-key", "wrong-type"],
)
def test_schema_errors_are_workflow_errors_naming_the_key(mutate, named):
    config = _default_config()
    mutate(config)
    with pytest.raises(WorkflowError, match=named):
        validate(config, str(SCHEMA))


@pytest.mark.parametrize("path", ["results/raw/pereira", "results/../results/raw/pereira", "{tmp}/results/raw/pereira"])
def test_output_paths_inside_results_pass(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    resolved = check_output_path(path.format(tmp=tmp_path), key="k")
    assert resolved == (tmp_path / "results" / "raw" / "pereira").resolve()


@pytest.mark.parametrize("path", ["results", "results/../data", "/tmp", "raw", "{tmp}/results-other/raw"])
def test_output_paths_outside_results_fail(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="config key k"):
        check_output_path(path.format(tmp=tmp_path), key="k")
