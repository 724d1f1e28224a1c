# Job resources (mem_mb, runtime, GPU) estimated from the config's sizes; rules use these in
# `resources:`, and profiles only add cluster settings on top.


GPT2_VOCAB_SIZE = 50257
UNKNOWN_MODEL_MB = 500  # a hub name whose files are not on disk yet: GPT-2 small's size


def model_size_mb(model):
    """Approximate float32 weight size (MB) of a model: from its build sizes or its files."""
    cfg = model_config(model)
    build = cfg.get("build")
    if build and is_vision_model(model):
        hidden, patches = build["hidden_size"], (build["image_size"] // build["patch_size"]) ** 2
        per_layer = 4 * hidden**2 + 2 * hidden * build["intermediate_size"]
        params = build["num_hidden_layers"] * per_layer + (patches + 1 + 3 * build["patch_size"] ** 2) * hidden
        return 4 * params / 1e6
    if build:
        n_embd = build["n_embd"]
        vocab_matrices = 1 if build["tie_word_embeddings"] else 2
        params = 12 * build["n_layer"] * n_embd**2 + (vocab_matrices * GPT2_VOCAB_SIZE + build["n_positions"]) * n_embd
        return 4 * params / 1e6
    source = cfg.get("pretrained", "")
    if os.path.isdir(source):
        weights = [
            os.path.join(source, name)
            for name in os.listdir(source)
            if name.endswith((".safetensors", ".bin"))
        ]
        if weights:
            return sum(os.path.getsize(path) for path in weights) / 1e6
    return UNKNOWN_MODEL_MB


def training_mem_mb(wildcards):
    """Tuning / pre-training: weights, gradients and two AdamW moments, plus activations."""
    return int(2000 + 8 * model_size_mb(wildcards.model))


def inference_mem_mb(wildcards):
    """Feature extraction and generation: the weights (twice: load + model) plus activations."""
    return int(2000 + 3 * model_size_mb(wildcards.model))


OFFLINE_SCORER_MB = 100  # all-MiniLM-L6-v2, the default BERTScore model
# roberta-large (1.4 GB), BERTScore's default English scorer in the paper config; an upper bound
# for the other hub scorers too (bert-base-multilingual-cased, the French default: 0.7 GB)
HUB_SCORER_MB = 1400


def evaluation_mem_mb(wildcards):
    """Generation with the tuned model plus BERTScore with the task's scorer model (none for a ViT)."""
    scorer = evaluation_scorer(wildcards)
    if scorer is None:
        scorer_mb = 0
    elif scorer["model"] is None and not scorer["by_language"]:
        scorer_mb = OFFLINE_SCORER_MB
    else:
        scorer_mb = HUB_SCORER_MB
    return inference_mem_mb(wildcards) + 3 * scorer_mb


LARGEST_TRAINING_SPLIT = 60000  # MNIST's; the estimate of a split whose size the config does not cap


def planned_steps(wildcards, settings):
    """A tune job's steps per candidate: `steps`, or `epochs` over the task's capped training
    split (max_examples / n_examples train), else over LARGEST_TRAINING_SPLIT examples."""
    if "steps" in settings:
        return settings["steps"]
    cfg = task_config(wildcards.task)
    n_train = (cfg.get("n_examples") or cfg.get("max_examples") or {}).get("train", LARGEST_TRAINING_SPLIT)
    return steps_for_epochs(settings["epochs"], n_train, settings["batch_size"])


def tuning_runtime(wildcards):
    """Minutes for one tune job: grows with its step budget (the task's, or tuning.vision's)
    times the candidates of its learning-rate grid."""
    settings = tuning_settings(wildcards)
    return 10 + len(settings["learning_rates"]) * planned_steps(wildcards, settings) // 10


def simulation_mem_mb(dataset="pereira"):
    """Simulated subjects: a few float64 copies of (stimuli x all ROIs' voxels) per job."""
    simulate = dataset_config(dataset)["simulate"]
    n_voxels = sum(roi["n_voxels"] for roi in simulate["rois"].values())
    if dataset == "bold5000":  # one job writes every subject's trials, and the images
        n_trials = simulate["n_images"] + simulate["repeated_images"] * simulate["n_repeats"]
        n_values = len(subjects(dataset)) * n_trials * n_voxels + simulate["n_images"] * 3 * simulate["image_size"] ** 2
    else:  # up to ~1,000 sentences; the npy627 layout writes every subject in one job
        n_subjects = len(subjects(dataset)) if dataset_config(dataset)["loader"] == "npy627" else 1
        n_values = n_subjects * 1000 * n_voxels
    return max(1000, int(500 + 4 * 8 * n_values / 1e6))


def runtime_from_inputs(minutes_per_mb, floor_minutes):
    """A resources function: run time (minutes) grows with the size of a job's inputs."""
    return lambda wildcards, input: max(int(minutes_per_mb * input.size_mb), floor_minutes)


def ridge_gpu_resources():
    """A ridge job's GPU request: one GPU when the torch backend is told to run on cuda, else
    no gpu resource at all (the default plan and its SLURM submissions stay CPU-only)."""
    return {"gpu": 1} if config["ridge"]["backend"] == "torch" and config["ridge"]["device"] == "cuda" else {}


def mem_mb_from_inputs(factor, floor_mb):
    """A resources function: memory grows with the size of a job's inputs."""
    return lambda wildcards, input: max(int(factor * input.size_mb), floor_mb)
