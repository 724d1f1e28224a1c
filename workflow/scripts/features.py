"""Extract and cache stimulus representations of one model variant (rule features)."""

import torch

from brainalign.brains.stimuli import read_stimulus_table
from brainalign.features import extract_features, write_feature_store
from brainalign.io import setup_logging
from brainalign.models.language import load_causal_lm, model_identity

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
stimuli = read_stimulus_table(snakemake.input.stimuli)
model, tokenizer = load_causal_lm(params.model_source)
features = extract_features(
    model,
    tokenizer,
    list(stimuli["text"]),
    layers=params.layers,
    pooling=params.pooling,
    batch_size=params.batch_size,
)
identity = dict(model_identity(params.model_source), pooling=params.pooling)
write_feature_store(snakemake.output[0], list(stimuli["stimulus_id"]), features, identity=identity)
logger.info("%d stimuli, layers %s, pooling %s", len(stimuli), sorted(features), params.pooling)
