"""The per-pair 2v2 data of one subject x model variant, kept for paired comparisons.

A paired test of two model variants (:mod:`brainalign.comparisons`) needs, for every
direction x ROI x layer, the 2v2 outcome of every pair of stimuli and the half margins
``S[i, i] - S[i, j]`` of the similarity matrix. The ridge rule writes them next to its score
table, in ``results/ridge/{model}/{task}/{method}/{subject}.pairs.h5``::

    /                                   attrs: format_version, dataset, subject, model, task,
                                               method, simulated
    /stimulus_ids                       (n,) utf-8 strings: row/column order
    /groups, /sessions                  (n,) utf-8 strings: CV group and session of each stimulus
                                               (the resampling unit of paired tests, and its strata)
    /{direction}/{roi}/{layer}/outcomes      (ceil(n*n/8),) uint8: np.packbits of the n x n bools
    /{direction}/{roi}/{layer}/half_margins  (n, n) float32, gzip-compressed

For 627 stimuli that is about 1.6 MB per direction x ROI x layer (before compression).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np

from brainalign.alignment import PairKey, SubjectAlignment
from brainalign.brains.store import SINGLE_SESSION
from brainalign.errors import DataError
from brainalign.io import atomic_output

PAIR_STORE_FORMAT = 2  # 2 added /groups and /sessions
_IDENTITY = ("dataset", "subject", "model", "task", "method")


@dataclass(frozen=True)
class PairStore:
    """What :func:`read_pair_store` returns.

    Attributes
    ----------
    identity : dict
        dataset, subject, model, task, method (str) and simulated (bool).
    stimulus_ids : tuple of str
    outcomes, half_margins : dict
        (direction, roi, layer) -> (n, n) bool / float32 arrays.
    groups, sessions : tuple of str, optional
        CV group and session of each stimulus; None: each stimulus its own group, one session.
    """

    identity: dict
    stimulus_ids: tuple[str, ...]
    outcomes: dict[PairKey, np.ndarray]
    half_margins: dict[PairKey, np.ndarray]
    groups: tuple[str, ...] | None = None
    sessions: tuple[str, ...] | None = None


def write_pair_store(alignment: SubjectAlignment, path: str | os.PathLike) -> None:
    """Write the pair data of ``alignment`` atomically (no partial file on failure)."""
    scores = alignment.scores
    if scores.empty:
        raise DataError(f"no scores to write pair data for ({path})")
    first = scores.iloc[0]
    with atomic_output(path) as tmp:
        with h5py.File(tmp, "w", track_order=True) as h5:
            h5.attrs["format_version"] = PAIR_STORE_FORMAT
            for key in _IDENTITY:
                h5.attrs[key] = str(first[key])
            h5.attrs["simulated"] = bool(first["simulated"])
            n = len(alignment.stimulus_ids)
            labels = {
                "stimulus_ids": alignment.stimulus_ids,
                "groups": alignment.groups if alignment.groups is not None else alignment.stimulus_ids,
                "sessions": alignment.sessions if alignment.sessions is not None else (SINGLE_SESSION,) * n,
            }
            for name, values in labels.items():
                h5.create_dataset(name, data=list(values), dtype=h5py.string_dtype("utf-8"), track_times=False)
            for (direction, roi, layer), outcomes in sorted(alignment.outcomes.items()):
                group = h5.create_group(f"{direction}/{roi}/{layer}")
                group.create_dataset("outcomes", data=np.packbits(outcomes.ravel()), track_times=False)
                group.create_dataset(
                    "half_margins",
                    data=alignment.half_margins[(direction, roi, layer)].astype(np.float32),
                    compression="gzip",
                    shuffle=True,
                    track_times=False,
                )


def read_pair_store(path: str | os.PathLike) -> PairStore:
    """Read a file written by :func:`write_pair_store`.

    Raises
    ------
    DataError
        The file is missing, unreadable or of another format version.
    """
    try:
        with h5py.File(path, "r") as h5:
            version = int(h5.attrs.get("format_version", -1))
            if version != PAIR_STORE_FORMAT:
                raise DataError(
                    f"pair store {path} has format version {version}, expected {PAIR_STORE_FORMAT}; "
                    "delete it and rerun the ridge rule"
                )
            identity = {key: str(h5.attrs[key]) for key in _IDENTITY}
            identity["simulated"] = bool(h5.attrs["simulated"])
            ids, groups, sessions = (tuple(h5[name].asstr()[()]) for name in ("stimulus_ids", "groups", "sessions"))
            n = len(ids)
            outcomes, margins = {}, {}
            for direction, by_roi in h5.items():
                if not isinstance(by_roi, h5py.Group):
                    continue
                for roi, by_layer in by_roi.items():
                    for layer, group in by_layer.items():
                        key = (direction, roi, int(layer))
                        outcomes[key] = np.unpackbits(group["outcomes"][()], count=n * n).astype(bool).reshape(n, n)
                        margins[key] = group["half_margins"][()]
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"cannot read pair store {path}: {error}; delete it and rerun the ridge rule") from error
    return PairStore(identity, ids, outcomes, margins, groups=groups, sessions=sessions)
