"""make check-data: the pre-flight check of every configured input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import scipy.io
import yaml

from brainalign import check_data
from brainalign.brains.simulate import simulate_responses, write_pereira_mat
from brainalign.brains.simulate_bold5000 import Bold5000Simulation, simulate_bold5000
from brainalign.brains.stimuli import SentenceStimuli, load_sentence_stimuli

REPO = Path(__file__).resolve().parents[1]
PAPER = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    """No model or dataset in the Hugging Face caches, whatever this machine holds."""
    import datasets.config
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")


def test_embedded_default_passes(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert check_data.main(["config/config.yaml"]) == 0
    out = capsys.readouterr().out
    assert "pereira (simulated)" in out and "bold5000 (simulated)" in out and "written by the workflow" in out
    assert "task qa train" in out and "160 examples" in out and "0 problem(s)" in out


def test_paper_config_without_data_names_every_missing_path(tmp_path, monkeypatch, capsys, empty_hub_cache):
    monkeypatch.chdir(tmp_path)
    assert check_data.main([str(REPO / "config" / "paper.yaml")]) == 1
    out = capsys.readouterr().out
    pereira = PAPER["datasets"]["pereira"]
    expected = [
        f"data/pereira/{subject}/{prefix}_{experiment}.mat"
        for subject in pereira["subjects"] for experiment in pereira["experiments"] for prefix in ("data", "examples")
    ]
    bold = PAPER["datasets"]["bold5000"]
    for subject in bold["subjects"]:
        number = int(subject.removeprefix("CSI"))
        expected += [f"{bold['raw_dir']}/{subject}/mat/{subject}_ROIs_TR34.mat", f"stim_lists/CSI{number:02d}_stim_lists.txt"]
    expected += [bold["image_dir"], "data/mnist", "data/cifar10/cifar-10-batches-bin"]
    expected += ["hub:EdinburghNLP/xsum", "hub:rajpurkar/squad", "hub:wmt/wmt14", "hub:gpt2", "hub:roberta-large"]
    expected += ["hub:bert-base-multilingual-cased"]  # the French references' scorer
    expected += ["hub:google/vit-base-patch16-224-in21k"]
    missing = [path for path in expected if path not in out]
    assert not missing, missing
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 10 + 1 + 8 + 2 + 3 + 4 and all("-> fix: " in line for line in problems)


def _subset(stimuli: SentenceStimuli, rows: slice) -> SentenceStimuli:
    return SentenceStimuli(*(getattr(stimuli, f)[rows] for f in ("stimulus_ids", "passages", "topics", "sentences")))


@pytest.fixture
def standin(tmp_path, monkeypatch, empty_hub_cache):
    """A paper-style data folder: P01 in today's data_*.mat layout, M02 in the older examples_*.mat
    one, one simulated BOLD5000 subject, a local text task and local model folders."""
    stimuli = load_sentence_stimuli(REPO / "resources" / "stimuli" / "sentences.tsv")
    for subject in ("P01", "M02"):
        responses = simulate_responses(stimuli, subject, seed=0)
        for experiment, rows in (("384sentences", slice(0, 64)), ("243sentences", slice(64, None))):
            path = tmp_path / "data" / "pereira" / subject / f"examples_{experiment}.mat"
            write_pereira_mat(path, _subset(stimuli, rows), {roi: m[rows] for roi, m in responses.items()})
            if subject == "P01":  # today's distribution: same content, other names
                contents = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
                contents["examples_passagesentences"] = contents.pop("examples")
                scipy.io.savemat(path.with_name(f"data_{experiment}.mat"), contents)
                path.unlink()
    bold = PAPER["datasets"]["bold5000"]
    simulate_bold5000(
        tmp_path / bold["raw_dir"], tmp_path / bold["image_dir"], ["CSI1"], seed=1,
        settings=Bold5000Simulation(n_images=12, image_size=16, repeated_images=2),
    )
    config = yaml.safe_load(yaml.safe_dump(PAPER))
    config["datasets"]["pereira"]["subjects"] = ["P01", "M02"]
    config["datasets"]["bold5000"]["subjects"] = ["CSI1"]
    summarization = config["tasks"]["summarization"]
    summarization.pop("hub")
    summarization["local"] = {s: f"resources/tasks/summarization/{s}.jsonl" for s in ("train", "validation", "test")}
    config["tasks"] = {"summarization": summarization}
    for model in config["models"]:
        (tmp_path / "models" / model).mkdir(parents=True)
        (tmp_path / "models" / model / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
        config["models"][model]["pretrained"] = f"models/{model}"
    config["evaluation"]["scorer_model"] = None
    (tmp_path / "standin.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_paper_style_standin_passes_with_counts(standin, capsys):
    assert check_data.main(["standin.yaml"]) == 0
    out = capsys.readouterr().out
    p01 = next(line for line in out.splitlines() if "pereira P01 243sentences" in line)
    assert "data/pereira/P01/data_243sentences.mat" in p01 and "64 sentences in 16 passages" in p01
    assert "matrix examples_passagesentences" in p01 and "dmn 300, language 400, task 300, visual 200" in p01
    m02 = next(line for line in out.splitlines() if "pereira M02 384sentences" in line)
    assert "examples_384sentences.mat" in m02 and "matrix examples " in m02
    csi1 = next(line for line in out.splitlines() if "bold5000 CSI1" in line)
    assert "trials = stimulus list, 12 images all present" in csi1 and "EarlyVis" in csi1
    assert "local model directory" in out and "0 problem(s)" in out


def test_standin_problems_each_get_a_row_and_a_fix(standin, capsys):
    bold = PAPER["datasets"]["bold5000"]
    image = next(p for p in (standin / bold["image_dir"]).rglob("*") if p.is_file())
    image.unlink()
    copy = standin / "data" / "pereira" / "M02" / "data_384sentences.mat"
    copy.write_bytes((standin / "data" / "pereira" / "M02" / "examples_384sentences.mat").read_bytes())
    (standin / "models" / "gpt2" / "config.json").unlink()
    assert check_data.main(["standin.yaml"]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 3, problems
    assert "has two files" in problems[0] and "keep one of them" in problems[0]
    assert "1 images of stimulus list" in problems[1] and image.name in problems[1]
    assert "no config.json" in problems[2] and "save_pretrained" in problems[2]


def test_task_source_checks_are_one_function_per_kind():
    assert check_data.task_source_kind({"kind": "qa", "local": {}}) == "local"
    assert check_data.task_source_kind({"kind": "qa", "hub": {"name": "x"}}) == "hub"
    assert check_data.task_source_kind({"kind": "image_classification"}) == "image"
    assert set(check_data.TASK_SOURCE_CHECKS) == {"local", "hub", "image"}


def test_parallel_text_task_is_checked_before_it_is_read(tmp_path):
    """WMT's plain-text files: a line-count mismatch is one problem row naming both files."""
    for split, n_french in (("train", 3), ("validation", 2), ("test", 2)):
        (tmp_path / f"{split}.en").write_text("".join(f"Sentence {i}.\n" for i in range(3 if split == "train" else 2)))
        (tmp_path / f"{split}.fr").write_text("".join(f"Phrase {i}.\n" for i in range(n_french)))
    settings = {
        "kind": "translation", "template": "English: {source}\nFrench:", "source_language": "en",
        "target_language": "fr", "local": {"format": "parallel_text", **{s: str(tmp_path / s) for s in ("train", "validation", "test")}},
    }
    rows = check_data.check_tasks({"wmt": settings})
    assert [row.status for row in rows] == [check_data.OK] * 3 and rows[0].detail == "3 examples"
    (tmp_path / "train.fr").write_text("Une seule.\n")
    rows = check_data.check_tasks({"wmt": settings})
    assert [row.status for row in rows] == [check_data.PROBLEM]
    assert "train.en" in rows[0].detail and "train.fr" in rows[0].detail and "-> fix" not in rows[0].detail
