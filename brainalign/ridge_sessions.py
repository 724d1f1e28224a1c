"""Per-session centring inside cross-validation folds, fitted on the training rows only.

Stimuli scanned in different sessions (Pereira's experiments 2 and 3) can differ by an offset
that carries no stimulus information; pooled 2v2 could then win every cross-session pair from
session identity alone. Inside each outer fold, every session's mean over the fold's
*training* rows is subtracted from that session's rows, training and test alike, in the
inputs and in the targets. Predictions are of these session-centred targets, and nothing is
added back, so no prediction carries a session offset: they are scored against
:func:`session_centred_targets`. A test row's own value never enters any mean.

Centring per session is ridge with one unpenalised intercept per session (Frisch-Waugh-Lovell).
The inner leave-one-out treats it so (:class:`brainalign.ridge_loo.EigenBasis`,
``intercept_leverage``): each left-out row or group re-estimates its session's mean from the
retained rows. Holding the centring fixed instead would leak the left-out rows into the
training rows (a session's centred rows sum to zero), which an interpolating model (tiny alpha,
more voxels than stimuli) exploits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.errors import DataError


def session_codes(sessions: ArrayLike | None, n_samples: int) -> tuple[NDArray[np.intp], NDArray] | None:
    """Integer session code of each sample and the labels, or ``None`` for one session.

    Parameters
    ----------
    sessions : array-like of shape (n_samples,), or None
        Session label of each sample (any sortable labels).
    n_samples : int

    Returns
    -------
    (codes, labels) or None
        ``codes`` (n_samples,) index ``labels`` (n_sessions,); ``None`` when ``sessions`` is
        None or holds a single label (then centring per session is the ordinary centring).

    Raises
    ------
    DataError
        ``sessions`` is not 1-D with one label per sample.
    """
    if sessions is None:
        return None
    sessions = np.asarray(sessions)
    if sessions.shape != (n_samples,):
        raise DataError(f"sessions must hold one label per sample, shape ({n_samples},); got shape {sessions.shape}")
    labels, codes = np.unique(sessions, return_inverse=True)
    return None if labels.size == 1 else (codes.astype(np.intp), labels)


def check_sessions_are_trained(
    codes: NDArray[np.intp],
    labels: NDArray,
    folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]],
    groups: NDArray | None = None,
) -> None:
    """Every session tested in a fold must have training rows in that fold.

    With ``groups`` (the inner leave-one-group-out of :func:`brainalign.ridge.cross_val_predict_ridge`)
    every session among a fold's training rows must also span at least 2 groups there: a
    session's intercept cannot be estimated when its only group is left out.

    Raises
    ------
    DataError
        Naming the session and fold; with grouped folds this means that the session is a
        single CV group (or two), whose offset cannot be estimated without its own rows.
    """
    for number, (train, test) in enumerate(folds):
        untrained = np.setdiff1d(np.unique(codes[test]), np.unique(codes[train]))
        if untrained.size:
            raise DataError(
                f"session '{labels[untrained[0]]}' has no training rows in outer fold {number}, so its offset "
                "cannot be removed without using held-out rows; a session must span several CV groups "
                "(check the session and group labels, or lower ridge.n_folds)"
            )
        if groups is None:
            continue
        pairs = np.unique(np.stack([codes[train], np.unique(groups[train], return_inverse=True)[1]]), axis=1)
        sessions, n_groups = np.unique(pairs[0], return_counts=True)
        if np.any(n_groups < 2):
            raise DataError(
                f"session '{labels[sessions[n_groups < 2][0]]}' has a single CV group among the training rows of "
                f"outer fold {number}, so its offset cannot be estimated when that group is left out of the inner "
                "leave-one-group-out; a session must span several CV groups (check the session and group labels)"
            )


def session_means(values: NDArray[np.float64], codes: NDArray[np.intp], n_sessions: int) -> NDArray[np.float64]:
    """Mean of the rows of each session, shape (n_sessions, n_columns).

    Parameters
    ----------
    values : ndarray of shape (n_rows, n_columns)
    codes : ndarray of shape (n_rows,)
        Session code of each row; a session with no rows gets mean 0.
    n_sessions : int
    """
    indicator = np.zeros((n_sessions, codes.size))
    indicator[codes, np.arange(codes.size)] = 1.0
    counts = np.maximum(indicator.sum(axis=1), 1.0)
    # One BLAS product instead of a masked copy per session.
    return (indicator @ values) / counts[:, None]


def subtract_session_means(
    rows: NDArray[np.float64], codes: NDArray[np.intp], means: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``rows -= means[codes]`` in place, and return ``rows``.

    Sessions usually come in blocks (Pereira: experiment 2, then 3), so the rows of a fold form
    a few runs of one session; each run is then shifted through a slice, with no
    (n_rows x n_columns) temporary. Interleaved sessions fall back to the gathered means.
    """
    boundaries = np.flatnonzero(np.diff(codes)) + 1
    if boundaries.size >= 16:
        rows -= means[codes]
        return rows
    starts = np.concatenate([[0], boundaries])
    stops = np.concatenate([boundaries, [codes.size]])
    for start, stop in zip(starts, stops):
        rows[start:stop] -= means[codes[start]]
    return rows


def session_centred_targets(
    Y: ArrayLike, sessions: ArrayLike | None, folds: Sequence[tuple[ArrayLike, ArrayLike]]
) -> NDArray[np.float64]:
    """Out-of-fold targets centred per session with the training rows' session means.

    What :func:`brainalign.ridge.cross_val_predict_ridge` with ``sessions`` predicts: row i,
    tested in fold k, minus the mean of its session over fold k's training rows.

    Parameters
    ----------
    Y : array-like of shape (n_samples, n_targets) or (n_samples,)
    sessions : array-like of shape (n_samples,), or None
        ``None`` or a single label: returns ``Y`` unchanged (as float64).
    folds : sequence of (train_idx, test_idx)
        The folds of the predictions; their test sets partition the rows.

    Returns
    -------
    ndarray of Y's shape, float64

    Raises
    ------
    DataError
        Bad session labels, or a session with no training rows in a fold.
    """
    Y = np.asarray(Y, dtype=np.float64)
    coded = session_codes(sessions, Y.shape[0])
    if coded is None:
        return Y.copy()
    codes, labels = coded
    folds = [(np.asarray(train), np.asarray(test)) for train, test in folds]
    check_sessions_are_trained(codes, labels, folds)
    matrix = Y.reshape(Y.shape[0], -1)
    centred = np.empty(matrix.shape)
    for train, test in folds:
        means = session_means(matrix[train], codes[train], labels.size)
        centred[test] = matrix[test] - means[codes[test]]
    return centred.reshape(Y.shape)
