"""Extract and cache stimulus representations of one model variant (rule features).

Text: pooled hidden states of the stimulus sentences (a soft prompt is prepended as in
training and left out of pooling; with features.prefix each sentence follows the same prefix
token in every variant); vision: of the stimulus images (visual prompt tokens are
never pooled).
"""

import torch

from brainalign.brains.stimuli import read_stimulus_table
from brainalign.features import variant_label, write_feature_store
from brainalign.io import setup_logging

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
settings = params.settings
method = snakemake.wildcards.method
checkpoint = snakemake.input.checkpoint or None
stimuli = read_stimulus_table(snakemake.input.stimuli)
ids = list(stimuli["stimulus_id"])
if params.modality == "vision":
    from brainalign.brains.bold5000 import read_stimulus_images
    from brainalign.image_features import extract_image_features
    from brainalign.models.vision import image_size_of
    from brainalign.tuning.vision import load_vision_tuned, vision_checkpoint_identity

    model = load_vision_tuned(params.model_source, checkpoint, method, seed=settings.get("seed", 0))
    images = read_stimulus_images(snakemake.input.images[0], ids, image_size_of(model))
    features = extract_image_features(
        model, images, layers=settings["layers"], pooling=settings["pooling"], batch_size=settings["batch_size"]
    )
    identity = vision_checkpoint_identity(params.model_source, checkpoint, method, seed=settings.get("seed", 0))
    texts = None
else:
    from brainalign.features import extract_features
    from brainalign.tuning.methods import checkpoint_identity, load_tuned

    # A prompt-tuned model's soft prompt is prepended as in training and left out of pooling;
    # with features.prefix every variant's sentence follows the same <|endoftext|> token.
    model, tokenizer = load_tuned(params.model_source, checkpoint, method, seed=settings.get("seed", 0))
    features = extract_features(
        model, tokenizer, list(stimuli["text"]), layers=settings["layers"], pooling=settings["pooling"],
        batch_size=settings["batch_size"], prefix=settings["prefix"],
    )
    identity = checkpoint_identity(params.model_source, checkpoint, method, seed=settings.get("seed", 0))
    identity["prefix"] = str(settings["prefix"]).lower()  # recorded: features of the other layout are refused
    texts = list(stimuli["text"])  # recorded: features of since-changed sentences are refused
identity = dict(
    identity,
    pooling=settings["pooling"],
    variant=variant_label(snakemake.wildcards.model, snakemake.wildcards.task, method),
)
write_feature_store(snakemake.output[0], ids, features, identity=identity, stimulus_texts=texts)
logger.info("%d stimuli, layers %s, pooling %s, method %s", len(ids), sorted(features), settings["pooling"], method)
