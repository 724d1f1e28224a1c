"""Stimulus representations of text models: extraction and pooling, and their HDF5 cache.

:mod:`brainalign.features.extraction` runs a causal LM over the stimulus sentences and
pools chosen layers (every variant behind the same prefix token, see there);
:mod:`brainalign.features.store` keeps the pooled features with the identity of what
made them. Vision features: :mod:`brainalign.image_features`.
"""

from brainalign.features.extraction import (
    POOLINGS,
    extract_features,
    forward_hidden_states,
    normalise_layers,
    prefix_token_id,
)
from brainalign.features.store import (
    FEATURE_STORE_FORMAT,
    FeatureStore,
    identity_cache_key,
    read_feature_store,
    variant_label,
    write_feature_store,
)

__all__ = [
    "FEATURE_STORE_FORMAT",
    "POOLINGS",
    "FeatureStore",
    "extract_features",
    "forward_hidden_states",
    "identity_cache_key",
    "normalise_layers",
    "prefix_token_id",
    "read_feature_store",
    "variant_label",
    "write_feature_store",
]
