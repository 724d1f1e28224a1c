# Shared by every stage: wildcard constraints, config accessors, input functions and the
# list of final targets. Nothing here computes science; that lives in the brainalign package.
import os
import sys

# The workflow's own package, also in this (parsing) process: a few config checks use it.
sys.path.insert(0, workflow.basedir)
from brainalign.io import check_output_path


METHODS = ["base", "prompt", "finetune"]  # base = the untuned model
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
    raw_dir = dataset_config("pereira")["raw_dir"]
    if is_simulated("pereira"):
        # The simulator writes there: outputs stay under results/ (brainalign.io).
        check_output_path(raw_dir, key="datasets.pereira.raw_dir")
    return raw_dir


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


def tuned_methods():
    return config["tuning"]["methods"]


def model_variants():
    """(task, method) of every model variant: the untuned base, then each task x tuned method."""
    return [(UNTUNED_TASK, "base")] + [(task, method) for task in config["tasks"] for method in tuned_methods()]


def checkpoint_dir(wildcards):
    """The tuned checkpoint a variant needs; nothing for the untuned base model."""
    if wildcards.method == "base":
        return []
    return f"results/checkpoints/{wildcards.model}/{wildcards.task}/{wildcards.method}"


def tuning_inputs(wildcards):
    return {
        "train": f"results/tasks/{wildcards.task}/train.jsonl",
        "validation": f"results/tasks/{wildcards.task}/validation.jsonl",
        "model": built_model_input(wildcards),
    }


def tuning_settings(wildcards):
    """Everything that determines one checkpoint (a change retrains only what it touches)."""
    tuning = config["tuning"]
    return {
        "steps": tuning["steps"],
        "batch_size": tuning["batch_size"],
        "eval_every": tuning["eval_every"],
        "warmup_steps": tuning["warmup_steps"],
        "early_stopping_patience": tuning["early_stopping_patience"],
        "seed": config["seed"],
        **tuning[wildcards.method],
        "init_text": task_config(wildcards.task).get("prompt_init_text", ""),
    }


def feature_variant_input(wildcards):
    if wildcards.method == "base" and wildcards.task != UNTUNED_TASK:
        raise ValueError(f"the untuned base model has task '{UNTUNED_TASK}', not '{wildcards.task}'")
    return checkpoint_dir(wildcards)


def feature_stimuli(wildcards):
    return f"results/brains/{model_dataset(wildcards)}/stimuli.tsv"


def ridge_subject_store(wildcards):
    return f"results/brains/{model_dataset(wildcards)}/{wildcards.subject}.h5"


def ridge_outputs():
    """Every per-subject ridge result: model x variant (task, method) x subject."""
    outputs = []
    for model, cfg in config["models"].items():
        for task, method in model_variants():
            outputs += expand(
                "results/ridge/{model}/{task}/{method}/{subject}.csv",
                model=model,
                task=task,
                method=method,
                subject=subjects(cfg["dataset"]),
            )
    return outputs


def evaluation_outputs():
    """Generations and BERTScore of every model x task x method (base included) on the test split."""
    return expand(
        "results/evaluation/{model}/{task}/{method}.csv",
        model=list(config["models"]),
        task=list(config["tasks"]),
        method=["base", *tuned_methods()],
    )


def task_config(task):
    return config["tasks"][task]


def task_local_files(wildcards):
    """The published-format files of a task read from disk, by split; none for hub tasks."""
    local = task_config(wildcards.task).get("local")
    return {split: resource(path) for split, path in local.items()} if local else {}


def all_targets():
    targets = ["results/tables/decoding.csv", "results/tables/encoding.csv"]
    if config["tasks"]:
        targets += ["results/tables/task_scores.csv", "results/tables/paper/table1_bertscore.csv"]
    return targets


def ridge_settings():
    """Ridge settings after schema defaults were filled in, plus the global seed."""
    return dict(config["ridge"], seed=config["seed"])


def mem_mb_from_inputs(factor, floor_mb):
    """A resources function: memory grows with the size of a job's inputs."""
    return lambda wildcards, input: max(int(factor * input.size_mb), floor_mb)
