"""Pre-flight check of every input a configuration reads, in seconds and without training.

``make check-data CONFIG=config/paper.yaml`` (or ``python -m brainalign.check_data
config/paper.yaml``) validates the config against the workflow's schema, then checks, with the
workflow's own readers:

- Pereira: each subject's experiment files (either ``.mat`` distribution), their variables,
  atlases and the voxel columns of every configured network, sentences and passages per
  experiment (metadata only: the sentence matrices are not loaded); or the 627 layout's
  ``stimuli.txt``, passages and subject files;
- BOLD5000: stimulus lists against the ROI files' trial counts, and every presented image;
- tasks: local files exist and parse, image folders read, or a hub dataset is in the local
  Hugging Face cache (one small function per source kind, :data:`TASK_SOURCE_CHECKS`);
- models: a local directory, or the hub cache.

It prints one table (status, input, path, what was found or what is wrong, and the fix) and
exits 1 when anything is wrong. Simulated data and models the workflow builds are reported
as written by the workflow. Relative paths are read as the workflow reads them: from the
working directory, shipped files (``resources/...``) also from the repository.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from brainalign.errors import BrainalignError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SPLITS = ("train", "validation", "test")
OK, PROBLEM, WORKFLOW = "ok", "PROBLEM", "workflow"


@dataclass(frozen=True)
class Check:
    """One row of the report.

    Attributes
    ----------
    status : {"ok", "PROBLEM", "workflow"}
        ``workflow``: written by the workflow itself (simulated data, built models).
    item : str
        What was checked, e.g. ``"pereira P01 384sentences"``.
    path : str
        The file, folder or hub name.
    detail : str
        What was found, or the error.
    fix : str
        How to fix a problem (empty when ok).
    """

    status: str
    item: str
    path: str
    detail: str
    fix: str = ""


def resolve(path: str | os.PathLike) -> Path:
    """A config path as the workflow reads it: from the working directory, else the repository."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    shipped = REPO / path
    return shipped if shipped.exists() else path


def _problem(item: str, path: Any, exc: BaseException | str, fix: str) -> Check:
    return Check(PROBLEM, item, str(path), str(exc), fix)


# --------------------------------------------------------------------------- Pereira


def check_pereira(cfg: Mapping[str, Any]) -> list[Check]:
    """Rows for ``datasets.pereira`` (either loader)."""
    if cfg.get("simulate"):
        return [Check(WORKFLOW, "pereira (simulated)", cfg["raw_dir"], "written by the workflow (rule simulate_pereira)")]
    if cfg["loader"] == "mat":
        return _check_pereira_mat(cfg)
    return _check_pereira_627(cfg)


def _check_pereira_mat(cfg: Mapping[str, Any]) -> list[Check]:
    from brainalign.brains.pereira import DEFAULT_NETWORKS, check_networks, check_same_voxels, network_columns
    from brainalign.brains.pereira_mat import experiment_candidates, find_experiment_file, read_experiment

    raw_dir = resolve(cfg["raw_dir"])
    networks = check_networks(cfg.get("networks") or DEFAULT_NETWORKS)
    rows: list[Check] = []
    sentences_of: dict[str, tuple[str, tuple[str, ...]]] = {}  # experiment -> (first subject, sentences)
    for subject in cfg["subjects"]:
        reference = None
        for name in cfg["experiments"]:
            item = f"pereira {subject} {name}"
            folder = raw_dir / subject
            try:
                path = find_experiment_file(folder, name)
            except BrainalignError as exc:
                candidates = experiment_candidates(folder, name)
                both = " or ".join(str(p) for p in candidates)
                if not any(p.exists() for p in candidates):
                    exc = "not found (under either name)"
                rows.append(_problem(item, both, exc, f"put the subject's {name} file in {folder}/ (one of the two names)"))
                continue
            try:
                experiment = read_experiment(path, matrix=False)
                columns = network_columns(experiment, networks)
                if reference is None:
                    reference = (path, experiment.n_voxels, columns)
                else:
                    check_same_voxels(reference, path, experiment.n_voxels, columns)
            except BrainalignError as exc:
                rows.append(_problem(item, path, exc, "download the subject's file again (an official Pereira .mat)"))
                continue
            first = sentences_of.setdefault(name, (subject, experiment.sentences))
            if first[1] != experiment.sentences:
                rows.append(_problem(
                    item, path, f"its sentences differ from subject {first[0]}'s {name} sentences",
                    "every subject must have seen the same sentences: check that the file is this experiment's",
                ))
                continue
            voxels = ", ".join(f"{roi} {cols.size}" for roi, cols in columns.items())
            rois = sum(len(experiment.atlases[a]) for atlases in networks.values() for a in atlases)
            rows.append(Check(
                OK, item, str(path),
                f"{len(experiment.sentences)} sentences in {len(set(experiment.passages))} passages; matrix "
                f"{experiment.variable} ({experiment.n_voxels} voxels); {len(experiment.atlases)} atlases, "
                f"{rois} ROIs in the networks; voxels per network (before NaN/constant voxels are dropped): {voxels}",
            ))
    return rows


def _check_pereira_627(cfg: Mapping[str, Any]) -> list[Check]:
    from brainalign.brains.pereira import load_pereira_627, sessions_627
    from brainalign.brains.pereira_627 import read_627_stimuli

    raw_dir = resolve(cfg["raw_dir"])
    stimuli = raw_dir / "stimuli.txt"
    passages = resolve(cfg["passages_file"]) if cfg.get("passages_file") else None
    rows: list[Check] = []
    try:
        sentences, groups = read_627_stimuli(
            stimuli, passages_path=passages, passage_block_size=cfg.get("passage_block_size")
        )
    except BrainalignError as exc:
        fix = "see docs/data.md: the 627 layout needs stimuli.txt and a passages file (make pereira-passages)"
        rows.append(_problem("pereira stimuli and passages", f"{stimuli}, {passages}", exc, fix))
        sentences = []
    else:
        sessions = sessions_627(len(sentences))
        split = "384 (experiment 2) + 243 (experiment 3)" if sessions else "one session (not 627 lines)"
        source = f"passages from {passages}" if passages else f"blocks of {cfg['passage_block_size']} (set explicitly)"
        rows.append(Check(
            OK, "pereira stimuli and passages", f"{stimuli}, {passages or '-'}",
            f"{len(sentences)} sentences = {split}; {len(set(groups))} passages, {source}",
        ))
    for subject in cfg["subjects"]:
        path = raw_dir / f"{subject}.npy"
        item = f"pereira {subject}"
        if not path.is_file():
            rows.append(_problem(item, path, "not found", f"put {subject}.npy in {raw_dir}/"))
        elif not cfg.get("trust_pickled_subject_files"):
            rows.append(_problem(
                item, path, "a pickled .npy file: not opened (unpickling can run code)",
                "set datasets.pereira.trust_pickled_subject_files: true if the file comes from a trusted source",
            ))
        elif sentences:
            try:
                loaded = load_pereira_627(
                    stimuli, path, subject=subject, trust_pickled_subject_files=True, passages_path=passages,
                    passage_block_size=cfg.get("passage_block_size"),
                )
            except BrainalignError as exc:
                rows.append(_problem(item, path, exc, "use the subject file that matches stimuli.txt (one row a line)"))
            else:
                voxels = ", ".join(f"{roi} {m.shape[1]}" for roi, m in loaded.rois.items())
                rows.append(Check(OK, item, str(path), f"voxels per ROI (usable): {voxels}"))
    return rows


# --------------------------------------------------------------------------- BOLD5000


def check_bold5000(cfg: Mapping[str, Any]) -> list[Check]:
    """Rows for ``datasets.bold5000``: stimulus lists vs ROI trial counts, presented images."""
    from brainalign.brains.bold5000 import load_bold5000, mat_files, stim_list_path

    if cfg.get("simulate"):
        return [Check(WORKFLOW, "bold5000 (simulated)", cfg["raw_dir"], "written by the workflow (rule simulate_bold5000)")]
    raw_dir, image_dir = resolve(cfg["raw_dir"]), resolve(cfg["image_dir"])
    rows: list[Check] = []
    if not image_dir.is_dir():
        rows.append(_problem("bold5000 images", image_dir, "not found", "unpack BOLD5000_Stimuli.zip and set image_dir"))
    for subject in cfg["subjects"]:
        item = f"bold5000 {subject}"
        paths = [*mat_files(raw_dir, subject, cfg["trs"]), stim_list_path(raw_dir, subject)]
        missing = [p for p in paths if not p.is_file()]
        for path in missing:
            rows.append(_problem(item, path, "not found", "unpack BOLD5000_ROIs.zip into raw_dir (see config/README.md)"))
        if missing or not image_dir.is_dir():
            continue
        try:
            loaded = load_bold5000(
                paths[:-1], paths[-1], image_dir, subject=subject, rois=cfg["rois"],
                hemispheres=cfg["hemispheres"], cv_groups=cfg["cv_groups"],
            )
        except BrainalignError as exc:
            rows.append(_problem(item, raw_dir / subject, exc, "use the same subject's stimulus list and ROI files"))
            continue
        voxels = ", ".join(f"{roi} {m.shape[1]}" for roi, m in loaded.rois.items())
        rows.append(Check(
            OK, item, str(raw_dir / subject),
            f"{loaded.provenance['n_trials']} trials = stimulus list, {len(loaded.stimulus_ids)} images all present; "
            f"voxels per ROI (usable): {voxels}",
        ))
    return rows


# --------------------------------------------------------------------------- tasks


def hub_cache_has_dataset(name: str) -> Path | None:
    """The local cache folder of hub dataset ``name`` (huggingface_hub or datasets cache), or None."""
    from huggingface_hub import constants

    candidates = [Path(constants.HF_HUB_CACHE) / f"datasets--{name.replace('/', '--')}"]
    try:
        import datasets.config

        candidates.append(Path(datasets.config.HF_DATASETS_CACHE) / name.replace("/", "___"))
    except ImportError:
        pass
    return next((path for path in candidates if path.is_dir() and any(path.iterdir())), None)


def _check_local_text_task(task: str, settings: Mapping[str, Any]) -> list[Check]:
    """The cheap file checks first (format, files, line counts), then each split through the real reader."""
    from brainalign.tasks.text import load_task_split
    from brainalign.tasks.text_local import local_split_paths, local_task_problems

    fix = f"fix tasks.{task}.local (formats: docs/tasks.md)"
    problems = local_task_problems(task, settings, resolve=lambda path: str(resolve(path)))
    if problems:
        return [_problem(f"task {task}", f"tasks.{task}.local", problem, fix) for problem in problems]
    rows = []
    for split, path in local_split_paths(settings, resolve=lambda p: str(resolve(p)), task=task).items():
        item = f"task {task} {split}"
        try:
            examples = load_task_split(task, settings, split, local_path=path)
        except BrainalignError as exc:
            rows.append(_problem(item, path, exc, fix))
        else:
            rows.append(Check(OK, item, str(path), f"{len(examples)} examples"))
    return rows


def _check_hub_text_task(task: str, settings: Mapping[str, Any]) -> list[Check]:
    name = settings["hub"]["name"]
    found = hub_cache_has_dataset(name)
    if found is None:
        return [_problem(
            f"task {task}", f"hub:{name}", "not in the local Hugging Face cache",
            f"run once online (e.g. the workflow's prepare_task jobs) or point tasks.{task}.local at files",
        )]
    return [Check(OK, f"task {task}", f"hub:{name}", f"in the cache ({found})")]


def _check_image_task(task: str, settings: Mapping[str, Any]) -> list[Check]:
    from brainalign.tasks.images import load_image_task

    if not settings.get("path"):
        return [Check(WORKFLOW, f"task {task}", f"source:{settings.get('source')}", "built in (no files to read)")]
    path = resolve(settings["path"])
    try:
        splits = load_image_task(task, {**settings, "path": str(path)}, seed=0)
    except BrainalignError as exc:
        return [_problem(f"task {task}", path, exc, f"download the published files into tasks.{task}.path")]
    sizes = ", ".join(f"{split} {len(s.labels)}" for split, s in splits.items())
    return [Check(OK, f"task {task}", str(path), f"images: {sizes}")]


TASK_SOURCE_CHECKS: dict[str, Callable[[str, Mapping[str, Any]], list[Check]]] = {
    "local": _check_local_text_task,
    "hub": _check_hub_text_task,
    "image": _check_image_task,
}
"""Source kind (:func:`task_source_kind`) -> function giving the rows of one task."""


def task_source_kind(settings: Mapping[str, Any]) -> str:
    """Which :data:`TASK_SOURCE_CHECKS` entry checks a task."""
    if settings.get("kind") == "image_classification":
        return "image"
    return "local" if "local" in settings else "hub"


def check_tasks(tasks: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    return [row for task, settings in tasks.items() for row in TASK_SOURCE_CHECKS[task_source_kind(settings)](task, settings)]


# --------------------------------------------------------------------------- models


def check_model(item: str, name_or_path: str, key: str) -> Check:
    """A local model directory (with config.json), or a hub model in the local cache."""
    from huggingface_hub import try_to_load_from_cache

    local = resolve(name_or_path)
    if local.is_dir():
        if (local / "config.json").is_file():
            return Check(OK, item, str(local), "local model directory")
        return _problem(item, local, "no config.json in the directory", f"save the model there with save_pretrained ({key})")
    try:
        cached = try_to_load_from_cache(name_or_path, "config.json")
    except Exception:  # noqa: BLE001 - an invalid repo id: neither a folder nor a hub name
        cached = None
    if isinstance(cached, str):
        return Check(OK, item, f"hub:{name_or_path}", f"in the cache ({Path(cached).parents[2]})")
    return _problem(
        item, f"hub:{name_or_path}", "neither a local directory nor in the local Hugging Face cache",
        f"run once online (hf download {name_or_path}) or set {key} to a local directory",
    )


def check_models(config: Mapping[str, Any]) -> list[Check]:
    rows = []
    for model, cfg in config["models"].items():
        if "build" in cfg:
            rows.append(Check(WORKFLOW, f"model {model}", "-", "built by the workflow (rule pretrain_base)"))
            corpus = (cfg.get("pretrain") or {}).get("corpus")
            if corpus and not resolve(corpus).is_file():
                fix = f"set models.{model}.pretrain.corpus to a plain-text file"
                rows.append(_problem(f"model {model} corpus", corpus, "not found", fix))
        else:
            rows.append(check_model(f"model {model}", cfg["pretrained"], f"models.{model}.pretrained"))
    scorer = (config.get("evaluation") or {}).get("scorer_model")
    if scorer and config.get("tasks"):
        rows.append(check_model("BERTScore scorer", scorer, "evaluation.scorer_model"))
    return rows


# --------------------------------------------------------------------------- driver


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a config and validate it against the workflow's schema (filling in defaults)."""
    from snakemake.utils import validate

    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    validate(config, str(SCHEMA))
    return config


def check_config(config: Mapping[str, Any]) -> list[Check]:
    """Every row for a validated config."""
    datasets = config["datasets"]
    rows: list[Check] = []
    checks: Iterable[tuple[str, Callable[[Mapping[str, Any]], list[Check]]]] = (
        ("pereira", check_pereira), ("bold5000", check_bold5000)
    )
    for name, check in checks:
        if name in datasets:
            rows += check(datasets[name])
    return rows + check_tasks(config.get("tasks") or {}) + check_models(config)


def format_table(rows: Sequence[Check]) -> str:
    """One plain-text table: status | input | path | found / problem | fix."""
    header = Check("status", "input", "path", "found / problem", "fix")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in ("status", "item", "path")]
    lines = []
    for row in table:
        cells = [row.status.ljust(widths[0]), row.item.ljust(widths[1]), row.path.ljust(widths[2]), row.detail]
        fix = row.fix if row is header else f"-> fix: {row.fix}"
        lines.append("  ".join(cells) + (f"  {fix}" if row.fix else ""))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brainalign.check_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="the config file, e.g. config/paper.yaml")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except Exception as exc:  # noqa: BLE001 - yaml and schema errors: report, do not trace back
        print(f"PROBLEM  config {args.config}: {exc}", file=sys.stderr)
        return 1
    rows = check_config(config)
    print(format_table(rows))
    problems = sum(row.status == PROBLEM for row in rows)
    print(f"\n{len(rows)} inputs checked for {args.config}: {problems} problem(s).")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
