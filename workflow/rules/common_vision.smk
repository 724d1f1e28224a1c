# Input functions and config accessors of the vision arm: image tasks, BOLD5000 and ViT models
# (with common.smk, which the rules share).

IMAGE_TASK_KIND = "image_classification"


def is_image_task(task):
    return task_config(task)["kind"] == IMAGE_TASK_KIND


def image_tasks():
    """Image classification tasks: prepared as results/tasks/{task}/{split}.h5 (rule prepare_image_task)."""
    return [task for task in config["tasks"] if is_image_task(task)]


def text_tasks():
    """Text generation tasks: prepared as results/tasks/{task}/{split}.jsonl (rule prepare_task)."""
    return [task for task in config["tasks"] if not is_image_task(task)]


def image_task_splits(task):
    return expand(res("tasks/{task}/{split}.h5"), task=task, split=SPLITS)


def image_task_local_files(wildcards):
    """The folder of published files an image task reads; nothing for offline sources."""
    path = task_config(wildcards.task).get("path")
    return [path] if path else []


def bold5000_config():
    return dataset_config("bold5000")


def bold5000_image_dir():
    """Folder of the BOLD5000 stimulus images (feature extraction reads them with
    brainalign.brains.bold5000.read_stimulus_images)."""
    image_dir = bold5000_config()["image_dir"]
    if is_simulated("bold5000"):
        # The simulator writes the images there: outputs stay under the results root (brainalign.io).
        check_output_path(image_dir, key="datasets.bold5000.image_dir", root=RESULTS)
    return image_dir


BOLD5000_TRS = [1, 2, 3, 4, 5, 34]  # the ROI release's files; paths as in brainalign.brains.bold5000


def bold5000_mat(subject, tr):
    return f"{bold5000_config()['raw_dir']}/{subject}/mat/{subject}_ROIs_TR{tr}.mat"


def bold5000_stim_list(subject):
    """stim_lists/CSI0{N}_stim_lists.txt, or CSI{N}_stim_lists.txt when only that one exists."""
    number = int(subject.removeprefix("CSI"))
    folder = f"{bold5000_config()['raw_dir']}/stim_lists"
    padded, plain = f"{folder}/CSI{number:02d}_stim_lists.txt", f"{folder}/CSI{number}_stim_lists.txt"
    return plain if os.path.exists(plain) and not os.path.exists(padded) else padded


def bold5000_raw_files(wildcards):
    """A subject's ROI files for the configured TRs, its stimulus list and the image folder."""
    return {
        "mats": [bold5000_mat(wildcards.subject, tr) for tr in bold5000_config()["trs"]],
        "stim_list": bold5000_stim_list(wildcards.subject),
        "images": bold5000_image_dir(),
    }


def bold5000_simulated_files():
    """What the BOLD5000 simulator writes besides the images: every subject's six TR files
    and stimulus list."""
    check_output_path(bold5000_config()["raw_dir"], key="datasets.bold5000.raw_dir", root=RESULTS)
    people = subjects("bold5000")
    mats = [bold5000_mat(s, tr) for s in people for tr in BOLD5000_TRS]
    return mats + [bold5000_stim_list(s) for s in people]


# --- Vision models (brainalign.models.vision): modality pairing, tuning, evaluation, features


def is_vision_model(model):
    return model_config(model)["modality"] == "vision"


def model_tasks(model):
    """The tasks a model is tuned on: image tasks for a ViT, text tasks for a language model."""
    return image_tasks() if is_vision_model(model) else text_tasks()


def vision_tuning_settings(wildcards):
    """The matched budget of ViT models (tuning.vision), and the method's own settings."""
    tuning = config["tuning"]["vision"]
    shared = ("batch_size", "eval_every", "warmup_steps", "early_stopping_patience")
    return {
        **budget_settings(tuning),
        **{key: tuning[key] for key in shared},
        "seed": config["seed"],
        **method_search_settings(tuning[wildcards.method], f"tuning.vision.{wildcards.method}"),
    }


def pretraining_inputs(wildcards):
    """A text model's pre-training corpus; a ViT pre-trains on images it draws itself."""
    if is_vision_model(wildcards.model):
        return {}
    return {"corpus": resource(model_config(wildcards.model)["pretrain"]["corpus"])}


def evaluation_test_split(wildcards):
    extension = "h5" if is_vision_model(wildcards.model) else "jsonl"
    return res(f"tasks/{wildcards.task}/test.{extension}")


def evaluation_scorer(wildcards):
    """The BERTScore scorer a text task asks for (brainalign.evaluation.scorers: the task's own,
    the global one for English, else bert-score's default for the target language), as a dict
    of ScorerSettings; None for a ViT (accuracy needs no scorer)."""
    if is_vision_model(wildcards.model):
        return None
    from dataclasses import asdict

    from brainalign.evaluation.scorers import task_scorer_settings

    return asdict(task_scorer_settings(wildcards.task, task_config(wildcards.task), config["evaluation"]))


def feature_images(wildcards):
    """A ViT's features read the stimulus images themselves."""
    return [bold5000_image_dir()] if is_vision_model(wildcards.model) else []


def feature_settings(wildcards):
    """Layers, pooling and batch size of a model's features (features.vision for ViTs), and a
    text model's token prefix; the random baseline also depends on the seed its weights are
    drawn from."""
    features = config["features"]
    chosen = features["vision"] if is_vision_model(wildcards.model) else features
    settings = {"layers": chosen["layers"], "pooling": chosen["pooling"], "batch_size": features["batch_size"]}
    if not is_vision_model(wildcards.model):  # a ViT's [CLS] already plays the prefix's role
        settings["prefix"] = features["prefix"]
    if getattr(wildcards, "method", None) == "random":
        settings["seed"] = config["seed"]
    return settings
def feature_store_requirements(wildcards):
    """What a ridge job requires of its feature store's identity besides the variant: a text
    model's token prefix (features.prefix), so that features of the other layout are refused."""
    if is_vision_model(wildcards.model):
        return {}
    return {"prefix": str(config["features"]["prefix"]).lower()}
