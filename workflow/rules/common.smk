# Shared by every stage: wildcard constraints, config accessors, input functions and the
# list of final targets. Nothing here computes science; that lives in the brainalign package.
import os
from pathlib import Path


METHODS = ["base"]  # the untuned model; tuned methods are added by the tuning stage
UNTUNED_TASK = "none"  # the task column of rows that come from an untuned model
SPLITS = ["train", "validation", "test"]


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    subject="[A-Za-z0-9]+",
    model="|".join(map(re.escape, config["models"])),
    task="[a-z0-9_]+",
    split="|".join(SPLITS),
    method="|".join(METHODS),
    experiment="[A-Za-z0-9_]+",


def resource(path):
    """A config path: relative to the working directory, else to the workflow's own folder.

    Shipped files (resources/...) are therefore found when Snakemake runs with --directory.
    """
    if os.path.isabs(path) or os.path.exists(path):
        return path
    shipped = os.path.join(workflow.basedir, path)
    return shipped if os.path.exists(shipped) else path


def dataset_config(dataset):
    return config["datasets"][dataset]


def is_simulated(dataset):
    return bool(dataset_config(dataset).get("simulate"))


def subjects(dataset):
    return dataset_config(dataset)["subjects"]


def pereira_experiments():
    experiments = dataset_config("pereira")["experiments"]
    if is_simulated("pereira") and len(experiments) != 1:
        raise ValueError(
            "config key datasets.pereira.experiments: simulated data is written as a single "
            f"experiment file, but {len(experiments)} experiments are listed ({experiments}); "
            "list exactly one name (e.g. [simulated])."
        )
    return experiments


def pereira_raw_dir():
    return dataset_config("pereira")["raw_dir"]


def pereira_subject_files(subject):
    """Raw files of one Pereira subject, as the configured loader expects them."""
    cfg = dataset_config("pereira")
    raw = pereira_raw_dir()
    if cfg["loader"] == "mat":
        return [f"{raw}/{subject}/examples_{experiment}.mat" for experiment in pereira_experiments()]
    passages = [pereira_passages_file()] if pereira_passages_file() else []
    return [f"{raw}/stimuli.txt", f"{raw}/{subject}.npy", *passages]


def pereira_passages_file():
    """npy627 loader: the passage labels file (the simulator writes one next to stimuli.txt)."""
    cfg = dataset_config("pereira")
    if cfg["loader"] == "npy627" and is_simulated("pereira"):
        return f"{pereira_raw_dir()}/passages.txt"
    return cfg["passages_file"]


def raw_subject_files(wildcards):
    return pereira_subject_files(wildcards.subject)


def subject_stores(dataset):
    return expand("results/brains/{dataset}/{subject}.h5", dataset=dataset, subject=subjects(dataset))


def model_config(model):
    return config["models"][model]


def model_dataset(wildcards):
    return model_config(wildcards.model)["dataset"]


def model_source(model):
    """What from_pretrained loads: the built model folder, a hub name or a local directory."""
    cfg = model_config(model)
    if "build" in cfg:
        return f"results/models/{model}"
    return cfg["pretrained"]


def built_model_input(wildcards):
    """The model folder when the workflow builds the model itself; nothing for hub models."""
    return [model_source(wildcards.model)] if "build" in model_config(wildcards.model) else []


def feature_stimuli(wildcards):
    return f"results/brains/{model_dataset(wildcards)}/stimuli.tsv"


def ridge_subject_store(wildcards):
    return f"results/brains/{model_dataset(wildcards)}/{wildcards.subject}.h5"


def ridge_outputs():
    """Every per-subject ridge result: model x task x method x subject."""
    outputs = []
    for model, cfg in config["models"].items():
        for method in METHODS:
            outputs += expand(
                "results/ridge/{model}/{task}/{method}/{subject}.csv",
                model=model,
                task=UNTUNED_TASK,
                method=method,
                subject=subjects(cfg["dataset"]),
            )
    return outputs


def task_config(task):
    return config["tasks"][task]


def task_local_files(wildcards):
    """The published-format files of a task read from disk, by split; none for hub tasks."""
    local = task_config(wildcards.task).get("local")
    return {split: resource(path) for split, path in local.items()} if local else {}


def task_splits():
    return expand("results/tasks/{task}/{split}.jsonl", task=list(config["tasks"]), split=SPLITS)


def all_targets():
    return ["results/tables/decoding.csv", "results/tables/encoding.csv", *task_splits()]


def ridge_settings():
    """Ridge settings after schema defaults were filled in, plus the global seed."""
    return dict(config["ridge"], seed=config["seed"])


def mem_mb_from_inputs(factor, floor_mb):
    """A resources function: memory grows with the size of a job's inputs."""
    return lambda wildcards, input: max(int(factor * input.size_mb), floor_mb)
