"""Extract and cache stimulus representations of one model variant (rule features)."""

import torch

from brainalign.brains.stimuli import read_stimulus_table
from brainalign.features import extract_features, variant_label, write_feature_store
from brainalign.io import setup_logging
from brainalign.tuning.methods import checkpoint_identity, load_tuned

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
method = snakemake.wildcards.method
checkpoint = snakemake.input.checkpoint or None
stimuli = read_stimulus_table(snakemake.input.stimuli)
# A prompt-tuned model's soft prompt is prepended as in training and left out of pooling.
model, tokenizer = load_tuned(params.model_source, checkpoint, method)
features = extract_features(
    model,
    tokenizer,
    list(stimuli["text"]),
    layers=params.layers,
    pooling=params.pooling,
    batch_size=params.batch_size,
)
identity = dict(
    checkpoint_identity(params.model_source, checkpoint, method),
    pooling=params.pooling,
    variant=variant_label(snakemake.wildcards.model, snakemake.wildcards.task, method),
)
write_feature_store(
    snakemake.output[0], list(stimuli["stimulus_id"]), features, identity=identity, stimulus_texts=list(stimuli["text"])
)
logger.info("%d stimuli, layers %s, pooling %s, method %s", len(stimuli), sorted(features), params.pooling, method)
