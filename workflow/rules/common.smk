# Shared by every stage: wildcard constraints, config accessors, input functions and the
# list of final targets. Nothing here computes science; that lives in the brainalign package.
import os
import sys

# The workflow's own package, also in this (parsing) process: a few config checks use it.
sys.path.insert(0, workflow.basedir)
from brainalign.errors import ConfigError
from brainalign.io import check_output_path
from brainalign.provenance import check_results_root, record_run
from brainalign.tasks.text_local import local_input_files, local_split_paths
from brainalign.tuning.grid import (
    check_tuning_config,
    learning_rate_grid,
    merge_task_tuning,
    optimizer_name,
    steps_for_epochs,
)


# Every tuning method searches a learning-rate grid of the same size (a fair contest).
check_tuning_config(config)


METHODS = ["base", "random", "prompt", "finetune", "lora"]  # base = the untuned model, random = untrained
UNTUNED_METHODS = ["base", "random"]  # task "none": no checkpoint (a vision base on a task has a head)
UNTUNED_TASK = "none"  # the task column of rows that come from an untuned model
SPLITS = ["train", "validation", "test"]

# Every output, log and benchmark of this configuration lives under its own results root
# (config results_dir), so two configurations never read each other's files.
RESULTS = config["results_dir"].rstrip("/")
check_results_root(RESULTS, config["name"])


def record_this_run():
    """Record the configuration's name and hash in the results root (Snakefile's onstart)."""
    record_run(RESULTS, config["name"], config)


def res(path):
    """``path`` (e.g. "tables/decoding.csv", wildcards allowed) under the results root."""
    return f"{RESULTS}/{path}"


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
        # The simulator writes there: outputs stay under the results root (brainalign.io).
        check_output_path(raw_dir, key="datasets.pereira.raw_dir", root=RESULTS)
    return raw_dir


def pereira_subject_files(subject):
    """Raw files of one Pereira subject, as the configured loader expects them (paths under raw_dir).

    mat loader: each experiment's data_{experiment}.mat or examples_{experiment}.mat, whichever
    exists (both: an error naming both; neither: today's data_ name, reported missing).
    Simulated subjects are written as examples_{experiment}.mat.
    """
    cfg = dataset_config("pereira")
    raw = pereira_raw_dir()
    if cfg["loader"] == "mat":
        if is_simulated("pereira"):
            return [f"{raw}/{subject}/examples_{experiment}.mat" for experiment in pereira_experiments()]
        from brainalign.brains.pereira import subject_mat_files

        return [str(path) for path in subject_mat_files(raw, subject, pereira_experiments(), missing_ok=True)]
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
    return expand(res("brains/{dataset}/{subject}.h5"), dataset=dataset, subject=subjects(dataset))


def model_config(model):
    return config["models"][model]


def model_dataset(wildcards):
    return model_config(wildcards.model)["dataset"]


def model_source(model):
    """What from_pretrained loads: the built model folder, a hub name or a local directory."""
    cfg = model_config(model)
    if "build" in cfg:
        return res(f"models/{model}")
    return cfg["pretrained"]


def built_model_input(wildcards):
    """The model folder when the workflow builds the model itself; nothing for hub models."""
    return [model_source(wildcards.model)] if "build" in model_config(wildcards.model) else []


def tuned_methods():
    return config["tuning"]["methods"]


def baselines():
    """Untuned variants besides base (config baselines): random = the architecture, untrained."""
    return config["baselines"]


def model_variants(model):
    """(task, method) of every variant of a model: the untuned base (and the untrained random
    baseline when configured), then each of its tasks x tuned method. Text models get the text
    tasks, vision models the image tasks."""
    untuned = [(UNTUNED_TASK, method) for method in ["base", *baselines()]]
    return untuned + [(task, method) for task in model_tasks(model) for method in tuned_methods()]


def checkpoint_dir(wildcards):
    """The checkpoint a variant needs: a tuned one, or a vision model's linear head on a task
    (method base); nothing for the untuned base model and the untrained random one."""
    untuned_base = wildcards.method == "base" and not (is_vision_model(wildcards.model) and wildcards.task != UNTUNED_TASK)
    if untuned_base or wildcards.method == "random":
        return []
    return res(f"checkpoints/{wildcards.model}/{wildcards.task}/{wildcards.method}")


def tuning_inputs(wildcards):
    extension = "h5" if is_vision_model(wildcards.model) else "jsonl"
    return {
        "train": res(f"tasks/{wildcards.task}/train.{extension}"),
        "validation": res(f"tasks/{wildcards.task}/validation.{extension}"),
        "model": built_model_input(wildcards),
    }


def task_tuning(task):
    """The tuning section with the task's own overrides (tasks.<task>.tuning) applied.

    Only the keys a task overrides differ from the shared section, so changing one task's
    override changes the params of that task's tune jobs alone.
    """
    return merge_task_tuning(config["tuning"], task_config(task).get("tuning"), tuned_methods())


def method_search_settings(section, key):
    """A method's settings with its learning-rate grid as `learning_rates` (a single
    learning_rate is a grid of one) and its optimizer; brainalign.tuning.grid checks them."""
    settings = {name: value for name, value in section.items() if name not in ("learning_rate", "learning_rates")}
    return {**settings, "learning_rates": learning_rate_grid(section, key=key), "optimizer": optimizer_name(section, key=key)}


def budget_settings(section):
    """The budget: `epochs` when set (the job derives the steps from its training split),
    else `steps`."""
    return {"epochs": section["epochs"]} if section.get("epochs") is not None else {"steps": section["steps"]}


def tuning_settings(wildcards):
    """Everything that determines one checkpoint (a change retrains only what it touches)."""
    if is_vision_model(wildcards.model):
        return vision_tuning_settings(wildcards)
    tuning = task_tuning(wildcards.task)
    return {
        **budget_settings(tuning),
        "batch_size": tuning["batch_size"],
        "eval_every": tuning["eval_every"],
        "warmup_steps": tuning["warmup_steps"],
        "early_stopping_patience": tuning["early_stopping_patience"],
        "seed": config["seed"],
        **method_search_settings(tuning[wildcards.method], f"tuning.{wildcards.method}"),
        "init_text": task_config(wildcards.task).get("prompt_init_text", ""),
    }


def tuned_checkpoints():
    """(model, task, method) of every checkpoint that rule tune writes, for text tasks x the tuned
    methods and for image tasks x base (a linear head) and the tuned methods."""
    found = []
    for model in config["models"]:
        methods = (["base"] if is_vision_model(model) else []) + tuned_methods()
        found += [(model, task, method) for task in model_tasks(model) for method in methods]
    return found


def tuning_table_inputs(wildcards):
    return [res(f"checkpoints/{model}/{task}/{method}") for model, task, method in tuned_checkpoints()]


def feature_variant_input(wildcards):
    if wildcards.method in UNTUNED_METHODS and wildcards.task != UNTUNED_TASK:
        raise ValueError(f"the {wildcards.method} model's features have task '{UNTUNED_TASK}', not '{wildcards.task}'")
    if wildcards.method not in UNTUNED_METHODS and wildcards.task == UNTUNED_TASK:
        raise ValueError(f"a {wildcards.method} model is tuned on a task; task '{UNTUNED_TASK}' has none")
    return checkpoint_dir(wildcards)


def feature_stimuli(wildcards):
    return res(f"brains/{model_dataset(wildcards)}/stimuli.tsv")


def stimulus_reference_store(wildcards):
    """The store the stimulus table (and so every feature extraction) is built from.

    The dataset's first listed subject: every subject of a dataset is shown the same stimuli
    (the mat loader reads every configured experiment for each subject; npy627 subjects share
    stimuli.txt), and a subject added to the end of the list then adds only its own brain and
    ridge jobs instead of re-extracting every model's features. A subject whose stimuli are
    not all in the table stops its ridge job with an error naming the subject.
    """
    return subject_stores(wildcards.dataset)[0]


def ridge_subject_store(wildcards):
    return res(f"brains/{model_dataset(wildcards)}/{wildcards.subject}.h5")


def ridge_variants():
    """(dataset, subject, model, task, method) of every per-subject ridge result."""
    return [
        (cfg["dataset"], subject, model, task, method)
        for model, cfg in config["models"].items()
        for task, method in model_variants(model)
        for subject in subjects(cfg["dataset"])
    ]


def ridge_outputs():
    """Every per-subject ridge result: model x variant (task, method) x subject."""
    return [res(f"ridge/{model}/{task}/{method}/{subject}.csv") for _, subject, model, task, method in ridge_variants()]


def evaluated_variants():
    """(model, task, method) of every test-split evaluation: each model x task of its modality
    x method, base included (BERTScore of generations for text, accuracy for images)."""
    return [(model, task, method) for model in config["models"] for task in model_tasks(model) for method in ["base", *tuned_methods()]]


def evaluation_outputs():
    return [res(f"evaluation/{model}/{task}/{method}.csv") for model, task, method in evaluated_variants()]


def configured_variants():
    """What the aggregate tables must hold (brainalign.provenance.ConfiguredVariants), so that
    a table another configuration wrote is refused instead of reported."""
    return {"config_name": config["name"], "brain_rows": ridge_variants(), "task_rows": evaluated_variants()}


def task_config(task):
    return config["tasks"][task]


TRAINING_ONLY_TASK_KEYS = ("prompt_init_text", "tuning")


def task_data_config(task):
    """What determines a task's splits: its config without the keys only training reads.

    (Changing a task's tuning override or soft-prompt text retrains, but re-reads nothing.)
    """
    return {key: value for key, value in task_config(task).items() if key not in TRAINING_ONLY_TASK_KEYS}


def task_local_files(wildcards):
    """Every local file a text task reads (both files of a parallel_text split); none for hub tasks."""
    settings = task_config(wildcards.task)
    return local_input_files(settings, resolve=resource, task=wildcards.task) if "local" in settings else {}


def task_local_paths(task):
    """What the reader of each split takes (a file, or a parallel_text prefix), resolved."""
    settings = task_config(task)
    return local_split_paths(settings, resolve=resource, task=task) if "local" in settings else {}


def all_targets():
    targets = [res("tables/decoding.csv"), res("tables/encoding.csv")]
    if config["tasks"]:
        targets += [res("tables/task_scores.csv"), res("tables/paper/table1_bertscore.csv")]
        targets += [res("tables/paper/table6_accuracy.csv")]
    if any(model_config(model)["dataset"] == "bold5000" for model in config["models"]):
        targets += [res("tables/paper/tables7to8_bold5000.csv")]
    targets += report_targets()
    return targets


def ridge_settings():
    """Ridge settings after schema defaults were filled in, plus the global seed."""
    return dict(config["ridge"], seed=config["seed"])




def ridge_statistics():
    """The statistics settings a ridge job uses: its resampling only. (The families, the primary
    contrast and the smallest effect are the comparisons' and summary's, so changing them
    reruns no ridge job.)"""
    return {key: config["statistics"][key] for key in ("n_bootstrap", "n_permutations", "ci_level")}


def ridge_conda_env():
    """The ridge jobs' environment (relative to workflow/rules): with torch for the torch backend."""
    return "../../envs/ridge_torch.yaml" if config["ridge"]["backend"] == "torch" else "../../envs/ridge.yaml"
