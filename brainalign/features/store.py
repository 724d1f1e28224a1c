"""The HDF5 feature store: features keyed by the identity of what made them.

:func:`write_feature_store` / :func:`read_feature_store` keep the features of one model
variant (layer -> (n_stimuli, hidden) float32) in an HDF5 file together with an identity
(model, pooling, token prefix, variant, ...), so that a stale or foreign file is never
silently reused: a reader states what it needs and gets a :class:`DataError` otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainalign.errors import DataError
from brainalign.io import atomic_output

logger = logging.getLogger(__name__)

#: Version of the HDF5 layout written by :func:`write_feature_store`.
FEATURE_STORE_FORMAT = 1


def variant_label(model: str, task: str, method: str) -> str:
    """The ``variant`` item of a feature store's identity: ``"{model}/{task}/{method}"``.

    The features rule records it and the ridge rule requires it on read, so a store of
    another model variant (copied, or left from another config) is never used.
    """
    return f"{model}/{task}/{method}"


def identity_cache_key(identity: Mapping[str, str]) -> str:
    """sha256 (hex) of the sorted identity items; equal identities give equal keys."""
    items = sorted((str(k), str(v)) for k, v in identity.items())
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class FeatureStore:
    """Features read back from a store.

    Attributes
    ----------
    stimulus_ids : tuple[str, ...], length n
    layers : dict[int, np.ndarray]
        Layer index -> float32 array (n, hidden_size).
    identity : dict[str, str]
        What made the features (model identity, pooling, ...).
    stimulus_texts : tuple[str, ...] or None, length n
        The text each row was computed from, when the store records it (checked against
        the response store by :func:`brainalign.alignment.read_ridge_inputs`).
    """

    stimulus_ids: tuple[str, ...]
    layers: dict[int, np.ndarray] = field(repr=False)
    identity: dict[str, str]
    stimulus_texts: tuple[str, ...] | None = field(default=None, repr=False)

    @property
    def cache_key(self) -> str:
        return identity_cache_key(self.identity)


def write_feature_store(
    path: str | os.PathLike,
    stimulus_ids: Sequence[str],
    features: Mapping[int, np.ndarray],
    *,
    identity: Mapping[str, str],
    stimulus_texts: Sequence[str] | None = None,
) -> None:
    """Write features to an HDF5 file atomically.

    Layout: dataset ``layers/{k}`` (n, d) float32 per layer, dataset ``stimulus_ids``
    (utf-8 strings), optional dataset ``stimulus_texts`` (utf-8 strings), attributes ``identity`` (JSON object), ``cache_key`` (see
    :func:`identity_cache_key`), each identity item as ``identity.{key}`` (readable with
    ``h5dump``/``h5ls``), ``layers`` and ``format_version``.

    Parameters
    ----------
    path : path-like
        Destination ``.h5`` file.
    stimulus_ids : sequence of str, length n
        Unique ids, in the row order of the arrays.
    features : mapping int -> array (n, d)
        As returned by :func:`extract_features`.
    identity : mapping str -> str
        Everything the features depend on, e.g.
        ``{**model_identity(name), "pooling": "mean"}``; compared on read.
    stimulus_texts : sequence of str, length n, optional
        The text of each stimulus the features were computed from; recorded so that
        features of since-changed sentences are detected on read.

    Raises
    ------
    DataError
        Inconsistent shapes, duplicate ids, no layers, non-finite values.
    """
    import h5py

    path = Path(path)
    ids = [str(s) for s in stimulus_ids]
    if not ids:
        raise DataError(f"cannot write {path}: no stimulus ids")
    if len(set(ids)) != len(ids):
        dupes = sorted({s for s in ids if ids.count(s) > 1})
        raise DataError(f"cannot write {path}: duplicate stimulus ids {dupes[:5]}")
    if not features:
        raise DataError(f"cannot write {path}: no layers given")
    if stimulus_texts is not None:
        stimulus_texts = [str(t) for t in stimulus_texts]
        if len(stimulus_texts) != len(ids):
            raise DataError(f"cannot write {path}: {len(stimulus_texts)} stimulus texts for {len(ids)} stimulus ids")
    identity = {str(k): str(v) for k, v in identity.items()}
    arrays: dict[int, np.ndarray] = {}
    for layer, array in features.items():
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or int(layer) < 0:
            raise DataError(f"cannot write {path}: layer key {layer!r} is not a non-negative integer")
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2 or array.shape[0] != len(ids):
            raise DataError(
                f"cannot write {path}: layer {layer} has shape {array.shape}, expected ({len(ids)}, d) "
                f"for {len(ids)} stimulus ids"
            )
        if not np.isfinite(array).all():
            raise DataError(f"cannot write {path}: layer {layer} has non-finite values")
        arrays[int(layer)] = array

    with atomic_output(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.create_dataset("stimulus_ids", data=np.array(ids, dtype=object), dtype=h5py.string_dtype("utf-8"))
            if stimulus_texts is not None:
                h5.create_dataset(
                    "stimulus_texts", data=np.array(stimulus_texts, dtype=object), dtype=h5py.string_dtype("utf-8")
                )
            group = h5.create_group("layers")
            for layer in sorted(arrays):
                group.create_dataset(str(layer), data=arrays[layer])
            h5.attrs["format_version"] = FEATURE_STORE_FORMAT
            h5.attrs["identity"] = json.dumps(identity, sort_keys=True, ensure_ascii=False)
            h5.attrs["cache_key"] = identity_cache_key(identity)
            h5.attrs["layers"] = np.array(sorted(arrays), dtype=np.int64)
            for key, value in identity.items():
                h5.attrs[f"identity.{key}"] = value
    logger.info("wrote features of %d stimuli, layers %s, to %s", len(ids), sorted(arrays), path)


def _describe_identity_difference(stored: Mapping[str, str], expected: Mapping[str, str]) -> tuple[str, str]:
    keys = sorted(set(stored) | set(expected))
    differing = [k for k in keys if stored.get(k) != expected.get(k)]

    def show(d: Mapping[str, str]) -> str:
        return "{" + ", ".join(f"{k}={d.get(k, '<absent>')!s}" for k in differing) + "}"

    return show(stored), show(expected)


def read_feature_store(
    path: str | os.PathLike,
    *,
    expected_identity: Mapping[str, str] | None = None,
    require: Mapping[str, str] | None = None,
) -> FeatureStore:
    """Read a feature store written by :func:`write_feature_store`.

    Parameters
    ----------
    path : path-like
    expected_identity : mapping str -> str, optional
        When given, the stored identity must equal it exactly.
    require : mapping str -> str, optional
        Items the stored identity must hold (others may be there too), e.g.
        ``{"variant": "tiny-gpt2/qa/prompt"}``: a consumer that knows only part of what
        made the features checks that part.

    Returns
    -------
    FeatureStore

    Raises
    ------
    DataError
        Missing, truncated or corrupt file, inconsistent content, or (with
        ``expected_identity``) features made from something else.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"feature store {path} does not exist; run the features rule to create it")
    hint = "delete it and rerun the features rule"
    try:
        with h5py.File(path, "r") as h5:
            for name in ("stimulus_ids", "layers"):
                if name not in h5:
                    raise DataError(f"feature store {path} has no '{name}' entry; it is not a feature store ({hint})")
            for name in ("identity", "cache_key"):
                if name not in h5.attrs:
                    raise DataError(f"feature store {path} lacks the '{name}' attribute ({hint})")
            ids = tuple(str(s) for s in h5["stimulus_ids"].asstr()[()])
            texts = tuple(str(s) for s in h5["stimulus_texts"].asstr()[()]) if "stimulus_texts" in h5 else None
            identity_raw = h5.attrs["identity"]
            cache_key = str(h5.attrs["cache_key"])
            layers: dict[int, np.ndarray] = {}
            for name, dataset in h5["layers"].items():
                if not name.isdigit():
                    raise DataError(f"feature store {path} has a layer named {name!r}, not an integer ({hint})")
                layers[int(name)] = np.asarray(dataset[()], dtype=np.float32)
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        # h5py raises OSError for a truncated / non-HDF5 file and KeyError/ValueError for
        # damaged objects inside one.
        raise DataError(f"feature store {path} is unreadable or corrupt ({type(exc).__name__}: {exc}); {hint}") from exc

    try:
        identity = json.loads(identity_raw)
    except (TypeError, ValueError) as exc:
        raise DataError(f"feature store {path} has a malformed identity attribute ({hint})") from exc
    if not isinstance(identity, dict):
        raise DataError(f"feature store {path} has a malformed identity attribute ({hint})")
    identity = {str(k): str(v) for k, v in identity.items()}
    if identity_cache_key(identity) != cache_key:
        raise DataError(
            f"feature store {path}: its cache_key does not match its identity; the file is damaged ({hint})"
        )
    if not layers:
        raise DataError(f"feature store {path} holds no layers ({hint})")
    if texts is not None and len(texts) != len(ids):
        raise DataError(f"feature store {path} has {len(texts)} stimulus texts for {len(ids)} stimulus ids ({hint})")
    for k, array in layers.items():
        if array.ndim != 2 or array.shape[0] != len(ids):
            raise DataError(
                f"feature store {path}: layer {k} has shape {array.shape} "
                f"but there are {len(ids)} stimulus ids ({hint})"
            )

    if expected_identity is not None:
        expected = {str(k): str(v) for k, v in expected_identity.items()}
        if expected != identity:
            made_from, asks_for = _describe_identity_difference(identity, expected)
            raise DataError(
                f"feature store {path} was made from {made_from} but the config asks for {asks_for}; "
                "delete it or rerun the features rule"
            )
    if require is not None:
        required = {str(k): str(v) for k, v in require.items()}
        differing = {k: v for k, v in required.items() if identity.get(k) != v}
        if differing:
            made_from, asks_for = _describe_identity_difference(identity, {**identity, **required})
            raise DataError(
                f"feature store {path} was made from {made_from} but this job needs {asks_for}; "
                "it is stale or belongs to another model: delete it and rerun the features rule"
            )
    return FeatureStore(
        stimulus_ids=ids, layers=dict(sorted(layers.items())), identity=identity, stimulus_texts=texts
    )
