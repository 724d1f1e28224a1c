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
from pathlib import Path
from typing import Any

import yaml

from brainalign.brains.preflight import check_bold5000, check_pereira
from brainalign.errors import BrainalignError
from brainalign.preflight import OK, PROBLEM, REPO, WORKFLOW, Check, format_table, problem, resolve

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SPLITS = ("train", "validation", "test")


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
        return [problem(f"task {task}", f"tasks.{task}.local", message, fix) for message in problems]
    rows = []
    for split, path in local_split_paths(settings, resolve=lambda p: str(resolve(p)), task=task).items():
        item = f"task {task} {split}"
        try:
            examples = load_task_split(task, settings, split, local_path=path)
        except BrainalignError as exc:
            rows.append(problem(item, path, exc, fix))
        else:
            rows.append(Check(OK, item, str(path), f"{len(examples)} examples"))
    return rows


def _check_hub_text_task(task: str, settings: Mapping[str, Any]) -> list[Check]:
    name = settings["hub"]["name"]
    found = hub_cache_has_dataset(name)
    if found is None:
        return [problem(
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
        return [problem(f"task {task}", path, exc, f"download the published files into tasks.{task}.path")]
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
        return problem(item, local, "no config.json in the directory", f"save the model there with save_pretrained ({key})")
    try:
        cached = try_to_load_from_cache(name_or_path, "config.json")
    except Exception:  # noqa: BLE001 - an invalid repo id: neither a folder nor a hub name
        cached = None
    if isinstance(cached, str):
        return Check(OK, item, f"hub:{name_or_path}", f"in the cache ({Path(cached).parents[2]})")
    return problem(
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
                rows.append(problem(f"model {model} corpus", corpus, "not found", fix))
        else:
            rows.append(check_model(f"model {model}", cfg["pretrained"], f"models.{model}.pretrained"))
    return rows + check_scorers(config)


def check_scorers(config: Mapping[str, Any]) -> list[Check]:
    """Each BERTScore model the text tasks use (per task and language; the offline one needs nothing)."""
    from brainalign.evaluation.scorers import language_default_scorer, task_scorer_settings

    scorers: dict[str, tuple[list[str], str]] = {}
    for task, settings in (config.get("tasks") or {}).items():
        if settings.get("kind") == "image_classification":
            continue
        wanted = task_scorer_settings(task, settings, config.get("evaluation") or {})
        model = language_default_scorer(wanted.language) if wanted.by_language else wanted.model
        if model is not None:
            scorers.setdefault(model, ([], wanted.key))[0].append(task)
    return [
        check_model(f"BERTScore scorer ({', '.join(tasks)})", model, key) for model, (tasks, key) in scorers.items()
    ]


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
