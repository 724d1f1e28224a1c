"""Scores of out-of-fold predictions: 2v2 accuracy and per-column Pearson correlation.

Both functions are vectorised over stimuli pairs / columns; none loops in Python over
pairs, so a Pereira-size problem (627 stimuli, 196,251 pairs) scores in milliseconds.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.errors import ConfigError, DataError

Distance = Literal["correlation", "cosine", "euclidean"]

DISTANCES: tuple[str, ...] = ("correlation", "cosine", "euclidean")

# A pair whose two sums differ by less than this fraction of the largest similarity
# magnitude is a tie: such differences are floating-point round-off. Two identical
# predicted rows tie in exact arithmetic, yet OpenBLAS rounds the two rows of the
# similarity product differently (margins of ~1e-17 for correlation were measured).
_TIE_RTOL = 1e-10


def _as_matched_pair(predicted: ArrayLike, actual: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return both inputs as float64 (n_stimuli, n_dims) arrays after checking them."""
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if predicted.ndim != 2 or actual.ndim != 2:
        raise DataError(
            f"2v2 needs 2-D arrays (n_stimuli, n_dims); got predicted with shape {predicted.shape} "
            f"and actual with shape {actual.shape}"
        )
    if predicted.shape != actual.shape:
        raise DataError(
            f"predicted and actual must have the same shape; got {predicted.shape} and {actual.shape}"
        )
    if predicted.shape[0] < 2:
        raise DataError(f"2v2 needs at least 2 stimuli; got {predicted.shape[0]}")
    if predicted.shape[1] < 1:
        raise DataError("2v2 needs at least 1 dimension per stimulus; got 0")
    for name, matrix in (("predicted", predicted), ("actual", actual)):
        if not np.all(np.isfinite(matrix)):
            raise DataError(f"{name} contains NaN or infinite values; 2v2 needs finite values")
    return predicted, actual


def _check_unit_rows(matrix: NDArray[np.float64], name: str, *, centre: bool) -> None:
    """Refuse rows whose correlation (constant rows) or cosine (all-zero rows) is undefined."""
    if centre:
        # Exact test for constant rows: after centring, round-off leaves tiny non-zero
        # values whose norm would turn noise into a spurious correlation of +-1.
        constant = np.ptp(matrix, axis=1) == 0
        if np.any(constant):
            rows = np.flatnonzero(constant)
            raise DataError(
                f"{name} has {rows.size} constant row(s) (first: {rows[:5].tolist()}); their Pearson "
                "correlation is undefined. Drop those stimuli or use distance='cosine' or 'euclidean'"
            )
        return
    zero = ~np.any(matrix != 0, axis=1)
    if np.any(zero):
        rows = np.flatnonzero(zero)
        raise DataError(
            f"{name} has {rows.size} all-zero row(s) (first: {rows[:5].tolist()}); their cosine "
            "similarity is undefined. Drop those stimuli or use distance='euclidean'"
        )


def similarity_matrix(
    predicted: ArrayLike,
    actual: ArrayLike,
    distance: Distance = "correlation",
) -> NDArray[np.float64]:
    """Similarity of every predicted row to every actual row.

    Parameters
    ----------
    predicted : array-like of shape (n_stimuli, n_dims)
    actual : array-like of shape (n_stimuli, n_dims)
    distance : {"correlation", "cosine", "euclidean"}
        Pearson correlation between rows, cosine similarity, or negative Euclidean
        distance (so that larger is always more similar).

    Returns
    -------
    ndarray of shape (n_stimuli, n_stimuli)
        ``S[i, j] = sim(predicted[i], actual[j])``.

    Raises
    ------
    ConfigError
        Unknown ``distance``.
    DataError
        Shapes differ, fewer than 2 stimuli, non-finite values, constant rows
        (correlation) or all-zero rows (cosine).
    """
    if distance not in DISTANCES:
        raise ConfigError(f"unknown 2v2 distance {distance!r}; use one of {', '.join(DISTANCES)}")
    predicted, actual = _as_matched_pair(predicted, actual)
    centre = distance == "correlation"
    for name, matrix in (("predicted", predicted), ("actual", actual)):
        _check_unit_rows(matrix, name, centre=centre)
    return batched_similarity(predicted, actual, distance)


def _unit_rows_of(matrix: NDArray[np.float64], centre: bool) -> NDArray[np.float64]:
    """Rows (optionally centred) scaled to unit norm, batched over leading axes; zero rows stay 0."""
    if centre:
        matrix = matrix - matrix.mean(axis=-1, keepdims=True)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def batched_similarity(predicted: NDArray[np.float64], actual: NDArray[np.float64], distance: str) -> NDArray[np.float64]:
    """:func:`similarity_matrix` of checked arrays, batched over leading axes.

    Parameters
    ----------
    predicted, actual : ndarray of shape (..., n_stimuli, n_dims)
    distance : {"correlation", "cosine", "euclidean"}

    Returns
    -------
    ndarray of shape (..., n_stimuli, n_stimuli)
        A row that is constant (correlation) or zero (cosine) has similarity 0 to every row
        (:func:`similarity_matrix` refuses such rows; resampled nulls may produce them).
    """
    if distance == "euclidean":
        return euclidean_similarity(
            np.einsum("...ij,...ij->...i", predicted, predicted)[..., :, None],
            np.einsum("...ij,...ij->...i", actual, actual)[..., None, :],
            predicted @ np.swapaxes(actual, -1, -2),
        )
    centre = distance == "correlation"
    return _unit_rows_of(predicted, centre) @ np.swapaxes(_unit_rows_of(actual, centre), -1, -2)


def euclidean_similarity(
    predicted_squared: NDArray[np.float64], actual_squared: NDArray[np.float64], inner: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``-||p - y||`` from ``||p||^2``, ``||y||^2`` and ``<p, y>`` (broadcast together): the
    euclidean similarity of :func:`batched_similarity`, also for callers that have only the
    products (round-off below 0 is clipped)."""
    return -np.sqrt(np.maximum(predicted_squared + actual_squared - 2.0 * inner, 0.0))


def split_similarity(
    predicted: NDArray[np.float64], actual: NDArray[np.float64], distance: str, split: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The entries of :func:`batched_similarity` that decide the 2v2 pairs across a split of the
    rows, by the same formulas, without the blocks within each side.

    Parameters
    ----------
    predicted, actual : ndarray of shape (..., n_stimuli, n_dims)
    distance : {"correlation", "cosine", "euclidean"}
    split : int
        The rows ``[:split]`` form one side, ``[split:]`` the other.

    Returns
    -------
    diagonal : ndarray of shape (..., n_stimuli)
        ``S[..., i, i]``.
    forward, backward : ndarrays of shape (..., split, n_stimuli - split) and (..., n_stimuli - split, split)
        ``S[..., :split, split:]`` and ``S[..., split:, :split]``.
    """
    first, second = slice(0, split), slice(split, None)
    if distance == "euclidean":
        predicted_squared = np.einsum("...ij,...ij->...i", predicted, predicted)
        actual_squared = np.einsum("...ij,...ij->...i", actual, actual)
        diagonal = euclidean_similarity(predicted_squared, actual_squared,
                                        np.einsum("...ij,...ij->...i", predicted, actual))
        forward, backward = (
            euclidean_similarity(predicted_squared[..., rows, None], actual_squared[..., None, columns],
                                 predicted[..., rows, :] @ np.swapaxes(actual[..., columns, :], -1, -2))
            for rows, columns in ((first, second), (second, first))
        )
        return diagonal, forward, backward
    centre = distance == "correlation"
    predicted, actual = _unit_rows_of(predicted, centre), _unit_rows_of(actual, centre)
    return (
        np.einsum("...ij,...ij->...i", predicted, actual),
        predicted[..., first, :] @ np.swapaxes(actual[..., second, :], -1, -2),
        predicted[..., second, :] @ np.swapaxes(actual[..., first, :], -1, -2),
    )


def two_vs_two_pair_matrix(
    predicted: ArrayLike,
    actual: ArrayLike,
    distance: Distance = "correlation",
) -> NDArray[np.bool_]:
    """Outcome of the 2v2 test for every pair of stimuli.

    Pair (i, j) is correct when
    ``sim(P_i, A_i) + sim(P_j, A_j) > sim(P_i, A_j) + sim(P_j, A_i)``, strictly: a tie
    is not correct. Sums that differ by less than 1e-10 times the largest absolute
    similarity count as ties, so that pairs tied in exact arithmetic (e.g. two identical
    predicted rows) are never scored by floating-point round-off.

    Parameters
    ----------
    predicted : array-like of shape (n_stimuli, n_dims)
    actual : array-like of shape (n_stimuli, n_dims)
    distance : {"correlation", "cosine", "euclidean"}
        See :func:`similarity_matrix`.

    Returns
    -------
    ndarray of bool, shape (n_stimuli, n_stimuli)
        Symmetric; ``out[i, j]`` is the outcome of the unordered pair {i, j}; the
        diagonal is False. Sub-matrices ``out[np.ix_(idx, idx)]`` give the outcomes of a
        subset of stimuli, e.g. for bootstrap or permutation statistics.

    Raises
    ------
    ConfigError, DataError
        See :func:`similarity_matrix`.
    """
    return pair_outcomes(similarity_matrix(predicted, actual, distance))


def half_margins(similarity: NDArray[np.floating]) -> NDArray[np.floating]:
    """``H[..., i, j] = S[..., i, i] - S[..., i, j]``: how much predicted row i prefers its own target.

    The 2v2 margin of pair {i, j} is ``H[i, j] + H[j, i]``; statistics that swap predicted
    rows between two models (:mod:`brainalign.stats`) work on ``H``.

    Parameters
    ----------
    similarity : ndarray of shape (..., n_stimuli, n_stimuli)

    Returns
    -------
    ndarray of the same shape
    """
    return np.diagonal(similarity, axis1=-2, axis2=-1)[..., :, None] - similarity


def outcomes_from_half_margins(half: NDArray[np.floating], tolerance: float) -> NDArray[np.bool_]:
    """2v2 outcomes from :func:`half_margins`, batched over leading axes.

    Parameters
    ----------
    half : ndarray of shape (..., n_stimuli, n_stimuli)
    tolerance : float
        Margins at or below it are ties (not correct).

    Returns
    -------
    ndarray of bool, shape of ``half``, symmetric in the last two axes, diagonal False.
    """
    # margin[i, j] = (S_ii - S_ij) + (S_jj - S_ji) = H + H.T: two passes over n x n instead of four.
    outcomes = (half + np.swapaxes(half, -1, -2)) > tolerance
    # A stimulus paired with itself has margin 0 and is already False; stated explicitly
    # because it is not a pair at all.
    diagonal = np.arange(half.shape[-1])
    outcomes[..., diagonal, diagonal] = False
    return outcomes


def tie_tolerance(similarity: NDArray[np.floating]) -> float:
    """Margins below this are floating-point ties: 1e-10 times the largest absolute similarity."""
    return _TIE_RTOL * float(np.max(np.abs(similarity)))


def pair_outcomes(similarity: NDArray[np.floating]) -> NDArray[np.bool_]:
    """2v2 outcome of every pair from a similarity matrix, batched over leading axes.

    Parameters
    ----------
    similarity : ndarray of shape (..., n_stimuli, n_stimuli)
        ``S[..., i, j] = sim(predicted[i], actual[j])`` (:func:`similarity_matrix`).

    Returns
    -------
    ndarray of bool, same shape
        See :func:`two_vs_two_pair_matrix`.
    """
    return outcomes_from_half_margins(half_margins(similarity), tie_tolerance(similarity))


def two_vs_two(
    predicted: ArrayLike,
    actual: ArrayLike,
    distance: Distance = "correlation",
) -> float:
    """2v2 accuracy over all unordered pairs of stimuli.

    For each pair (i, j), i < j, the test is passed when the matched similarities beat
    the crossed ones: ``sim(P_i, A_i) + sim(P_j, A_j) > sim(P_i, A_j) + sim(P_j, A_i)``
    (ties fail; see :func:`two_vs_two_pair_matrix`). Chance level is 0.5.

    Parameters
    ----------
    predicted : array-like of shape (n_stimuli, n_dims)
        Predicted rows, e.g. out-of-fold ridge predictions.
    actual : array-like of shape (n_stimuli, n_dims)
        True rows, in the same stimulus order.
    distance : {"correlation", "cosine", "euclidean"}, default="correlation"
        Row similarity: Pearson correlation, cosine similarity or negative Euclidean
        distance.

    Returns
    -------
    float
        Fraction of the ``n * (n - 1) / 2`` pairs passed, in [0, 1].

    Raises
    ------
    ConfigError
        Unknown ``distance``.
    DataError
        Shapes differ, fewer than 2 stimuli, non-finite values, constant rows
        (correlation) or all-zero rows (cosine).
    """
    outcomes = two_vs_two_pair_matrix(predicted, actual, distance)
    n_stimuli = outcomes.shape[0]
    # The matrix is symmetric with a False diagonal, so its sum counts every pair twice.
    return float(np.count_nonzero(outcomes) / (n_stimuli * (n_stimuli - 1)))


def pearson_per_column(predicted: ArrayLike, actual: ArrayLike) -> NDArray[np.float64]:
    """Pearson correlation between matching columns of two matrices.

    Parameters
    ----------
    predicted : array-like of shape (n_samples, n_columns) or (n_samples,)
    actual : array-like of the same shape
        A 1-D input is one column.

    Returns
    -------
    ndarray of shape (n_columns,)
        ``r[k] = corr(predicted[:, k], actual[:, k])``. A column that is constant in
        either input has an undefined correlation and gets r = 0.0 (no linear
        association), so the output never holds NaN and its mean is well defined.

    Raises
    ------
    DataError
        Shapes differ, not 1-D/2-D, fewer than 2 samples, or non-finite values.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if predicted.shape != actual.shape:
        raise DataError(f"predicted and actual must have the same shape; got {predicted.shape} and {actual.shape}")
    if predicted.ndim not in (1, 2):
        raise DataError(f"pearson_per_column needs 1-D or 2-D arrays; got shape {predicted.shape}")
    if predicted.ndim == 1:
        predicted, actual = predicted[:, None], actual[:, None]
    if predicted.shape[0] < 2:
        raise DataError(f"Pearson correlation needs at least 2 samples; got {predicted.shape[0]}")
    for name, matrix in (("predicted", predicted), ("actual", actual)):
        if not np.all(np.isfinite(matrix)):
            raise DataError(f"{name} contains NaN or infinite values; Pearson r needs finite values")

    predicted_centred = predicted - predicted.mean(axis=0)
    actual_centred = actual - actual.mean(axis=0)
    covariance = np.einsum("ij,ij->j", predicted_centred, actual_centred)
    predicted_squares = np.einsum("ij,ij->j", predicted_centred, predicted_centred)
    actual_squares = np.einsum("ij,ij->j", actual_centred, actual_centred)
    norm_product = np.sqrt(predicted_squares * actual_squares)
    # Decide constancy on the raw values: centring a constant column can leave round-off
    # that would otherwise yield a meaningless r of +-1.
    constant = (np.ptp(predicted, axis=0) == 0) | (np.ptp(actual, axis=0) == 0)
    correlation = np.zeros(predicted.shape[1])
    varying = ~constant
    correlation[varying] = covariance[varying] / norm_product[varying]
    # Round-off can push |r| a hair above 1.
    return np.clip(correlation, -1.0, 1.0)
