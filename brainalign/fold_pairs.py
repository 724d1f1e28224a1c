"""2v2 of pooled out-of-fold predictions without the pair partner in the training set.

Pooling the out-of-fold predictions of K models and scoring every pair (i, j) of held-out
stimuli compares, for a pair from two different folds A and B, the prediction of i by the
model trained without A (but *with* j) to the prediction of j by the model trained without B
(but with i). Ridge predicts roughly a similarity-weighted sum of its training targets,
``p_i ~ sum_k <x_i, x_k> y_k`` (exactly so as alpha grows, which is where alpha goes when
there is no signal), so p_i resembles y_j whenever the inputs x_i and x_j are alike: the
mismatched assignment wins, and on a null 2v2 falls below chance (0.47-0.48 on the
structured nulls of ``tests/test_calibration.py``, 0.385 on a pure-noise ROI) with extra
spread. This is why the classic 2v2 leaves the two stimuli of a pair out together.

Here a pair from folds A and B is scored from ONE model trained without A and B (the fold
analogue of leave-two-out); a pair within fold A from the model trained without A. Each
model's predictions and targets are standardised with its own training rows
(:func:`standardise_by_training_folds`). Permutation nulls permute
whole groups within strata of fold (as well as size and session), so that every permuted
target a model is compared with is still held out from it (:func:`fold_strata`); the p-values
refit every model on the permuted targets (:mod:`brainalign.refit_null`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from brainalign.metrics import half_margins, outcomes_from_half_margins, similarity_matrix
from brainalign.ridge import predict_held_out_ridge
from brainalign.ridge_sessions import check_sessions_are_trained, session_codes, session_means
from brainalign.stats import permuted_correct, resample_chunks, scored_pairs


def standardise_by_training_folds(
    predicted: np.ndarray,
    actual: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    sessions: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Express out-of-fold predictions and targets relative to their training folds.

    Each test row, predicted and actual, is centred and scaled per column with the mean and
    standard deviation of the corresponding fold's training rows of ``actual``. Only training
    rows are used, so nothing leaks from the held-out targets. With several ``sessions``,
    ``actual`` is first centred per session with the training rows' session means (the
    targets that ridge with ``sessions`` predicts,
    :func:`brainalign.ridge_sessions.session_centred_targets`), and the training statistics
    are those of the session-centred training rows.

    Parameters
    ----------
    predicted, actual : ndarray of shape (n_stimuli, n_targets)
    folds : sequence of (train_idx, test_idx)
        The folds that produced ``predicted``; their test sets partition the rows.
    sessions : sequence of str of length n_stimuli, optional
        Session of each stimulus; ``None`` or a single label: no session centring.

    Returns
    -------
    predicted, actual : ndarray of shape (n_stimuli, n_targets), float64
    """
    coded = session_codes(sessions, actual.shape[0])
    if coded is not None:
        check_sessions_are_trained(*coded, folds)
    predicted_out = np.empty(predicted.shape, dtype=np.float64)
    actual_out = np.empty(actual.shape, dtype=np.float64)
    for train, test in folds:
        training, held_out = actual[train], actual[test]
        if coded is not None:
            codes, labels = coded
            means = session_means(training, codes[train], labels.size)
            training, held_out = training - means[codes[train]], held_out - means[codes[test]]
        mean = training.mean(axis=0, dtype=np.float64)
        std = training.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0
        predicted_out[test] = (predicted[test] - mean) / std
        actual_out[test] = (held_out - mean) / std
    return predicted_out, actual_out


def standardise_within_folds(
    matrix: NDArray[np.float64], folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]]
) -> NDArray[np.float64]:
    """Each outer fold's test rows standardised per column with their own mean and std.

    The encoding's Pearson r of a column is the mean over folds, weighted by fold size, of
    its correlation within each fold: exactly the pooled correlation of the columns
    standardised within folds. Pooling the raw out-of-fold rows instead mixes in differences
    between folds, and because each fold's model is trained on the other folds' targets those
    are not independent of the held-out targets: on the pure-noise ROI of
    ``tests/test_calibration.py`` the pooled r averages -0.045 (-0.038 with the folds only
    centred); within folds, 0.000.

    Parameters
    ----------
    matrix : ndarray of shape (n, n_columns)
    folds : sequence of (train_idx, test_idx); the test sets partition the rows

    Returns
    -------
    ndarray of shape (n, n_columns)
        A column constant within a fold is 0 there.
    """
    standardised = np.array(matrix, dtype=np.float64)
    for _, test in folds:
        standardised[test] = standardised_columns(standardised[test])
    return standardised


def standardised_columns(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Columns centred and scaled to unit (population) variance, batched over leading axes;
    a column with no variance becomes 0."""
    centred = matrix - matrix.mean(axis=-2, keepdims=True)
    scale = np.sqrt((centred**2).mean(axis=-2, keepdims=True))
    return np.where(scale > 1e-12 * (1.0 + np.abs(matrix).max(axis=-2, keepdims=True)), centred, 0.0) / np.where(
        scale > 0, scale, 1.0)


@dataclass(frozen=True)
class SimilarityBlock:
    """Similarities of one model's held-out rows and the pairs it decides.

    Attributes
    ----------
    rows : ndarray of int, shape (m,)
        Stimuli (positions in the subject's order) the model held out.
    similarity : ndarray of shape (m, m)
        ``S[a, b] = sim(predicted[rows[a]], actual[rows[b]])``, both standardised with the
        model's training rows.
    decides : ndarray of bool, shape (m, m)
        The pairs this block scores (symmetric, diagonal False).
    """

    rows: NDArray[np.intp]
    similarity: NDArray[np.float64]
    decides: NDArray[np.bool_]


def fold_pair_blocks(
    X: NDArray,
    Y: NDArray,
    alphas: Sequence[float],
    folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]],
    within: tuple[NDArray[np.float64], NDArray[np.float64]],
    *,
    distance: str,
    sessions: Sequence[str] | None = None,
    **ridge_options,
) -> list[SimilarityBlock]:
    """The similarity blocks that decide every pair exactly once.

    Parameters
    ----------
    X, Y : ndarray of shape (n, n_features), (n, n_targets)
        Ridge inputs and targets, as given to :func:`brainalign.ridge.cross_val_predict_ridge`.
    alphas : sequence of float
    folds : sequence of (train_idx, test_idx)
        The outer folds; their test sets partition the rows.
    within : (predicted, actual), each (n, n_targets)
        The out-of-fold predictions of ``folds`` and the targets, standardised by training
        folds: they score the pairs within a fold.
    distance : str
        As :func:`brainalign.metrics.similarity_matrix`.
    sessions : sequence of str, optional
    **ridge_options
        Passed to :func:`brainalign.ridge.predict_held_out_ridge` (groups, backend, ...).

    Returns
    -------
    list of SimilarityBlock
        K blocks for the pairs within a fold, then K (K - 1) / 2 for the pairs across two folds.
    """
    n = Y.shape[0]
    blocks = []
    for _, test in folds:
        decides = ~np.eye(test.size, dtype=bool)
        blocks.append(SimilarityBlock(test, similarity_matrix(within[0][test], within[1][test], distance), decides))
    for split, decides in design_splits(folds, n)[len(folds):]:
        rows = split[1]
        predicted, _ = predict_held_out_ridge(X, Y, alphas, [split], sessions=sessions, **ridge_options)
        predicted, actual = standardise_by_training_folds(predicted, Y, [split], sessions)
        blocks.append(SimilarityBlock(rows, similarity_matrix(predicted[rows], actual[rows], distance), decides))
    return blocks


def design_splits(
    folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]], n: int
) -> list[tuple[tuple[NDArray[np.intp], NDArray[np.intp]], NDArray[np.bool_]]]:
    """Every model of the 2v2 design and the pairs of its test rows it decides.

    The K outer folds (pairs within a fold), then one model per two folds trained without
    both (pairs across them): the models of :func:`fold_pair_blocks`.

    Returns
    -------
    list of ((train_idx, test_idx), decides)
        ``decides`` is a symmetric bool matrix over the test rows with a False diagonal.
    """
    splits = [((np.asarray(train), np.asarray(test)), ~np.eye(len(test), dtype=bool)) for train, test in folds]
    for (_, first), (_, second) in combinations(folds, 2):
        rows = np.concatenate([first, second])
        in_first = np.arange(rows.size) < len(first)
        splits.append(((np.setdiff1d(np.arange(n), rows), rows), in_first[:, None] != in_first[None, :]))
    return splits


def block_half_margins(blocks: Sequence[SimilarityBlock], n: int) -> tuple[NDArray[np.float64], float]:
    """``H[i, j] = S[i, i] - S[i, j]`` in the block that decides pair {i, j}, and the tie tolerance.

    Returns
    -------
    half : ndarray of shape (n, n)
        Diagonal 0; the 2v2 outcome of {i, j} is ``H[i, j] + H[j, i] > tolerance``
        (:func:`brainalign.metrics.outcomes_from_half_margins`).
    tolerance : float
        :func:`brainalign.metrics.tie_tolerance` over all blocks.
    """
    half = np.zeros((n, n))
    for block in blocks:
        local = half_margins(block.similarity)
        index = np.ix_(block.rows, block.rows)
        half[index] = np.where(block.decides, local, half[index])
    tolerance = 1e-10 * max(float(np.max(np.abs(block.similarity))) for block in blocks)
    return half, tolerance


def block_outcomes(blocks: Sequence[SimilarityBlock], n: int) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """2v2 outcome and half margin of every pair, each decided by its block.

    Returns
    -------
    outcomes : ndarray of bool, shape (n, n)
    half : ndarray of shape (n, n)
    """
    half, tolerance = block_half_margins(blocks, n)
    return outcomes_from_half_margins(half, tolerance), half


def fold_strata(sessions: Sequence[str], folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]]) -> list[str]:
    """Session x outer fold of each stimulus: the strata within which groups may be permuted."""
    labels = [str(session) for session in sessions]
    for number, (_, test) in enumerate(folds):
        for row in test.tolist():
            labels[row] = f"{labels[row]}\x1ffold{number}"
    return labels


def fixed_fit_null_two_vs_two(
    blocks: Sequence[SimilarityBlock],
    masks: Mapping[str, NDArray[np.bool_]],
    permutations: NDArray[np.intp],
) -> dict[str, NDArray[np.float64]]:
    """Null 2v2 accuracies of the fitted models with their held-out targets permuted, per pair set.

    Each block recomputes the outcomes of the pairs it decides with its targets permuted
    (predicted row i against actual row ``perm[i]``); the models are NOT refitted, so this null
    misses the covariance between the folds' scores that
    :func:`brainalign.refit_null.refit_permutation_null` keeps. It serves as the reference
    spread for :func:`brainalign.score_uncertainty.widened_interval`.

    Parameters
    ----------
    blocks : sequence of SimilarityBlock
    masks : mapping of str to bool array (n, n)
        Pair sets (:func:`brainalign.resampling.pair_mask`).
    permutations : ndarray of int, shape (n_permutations, n)
        Whole groups permuted within fold strata (:func:`fold_strata`), so that every block's
        rows map among themselves.

    Returns
    -------
    dict
        Name -> ndarray (n_permutations,) of null accuracies; NaN for a set without pairs.
    """
    n_permutations, n = permutations.shape
    scored = {name: scored_pairs(n, mask) for name, mask in masks.items()}
    counts = {name: np.count_nonzero(mask) for name, mask in scored.items()}
    tolerance = block_half_margins(blocks, n)[1]
    correct = {name: np.zeros(n_permutations) for name in scored}
    local_of = np.empty(n, dtype=np.intp)
    for block in blocks if n_permutations else ():
        local_of[block.rows] = np.arange(block.rows.size)
        local = local_of[permutations[:, block.rows]]
        single = block.similarity.astype(np.float32)
        transposed = np.ascontiguousarray(single.T)
        pairs = {name: np.triu(block.decides & mask[np.ix_(block.rows, block.rows)], k=1)
                 for name, mask in scored.items()}
        for start, stop in resample_chunks(n_permutations, 2 * block.rows.size**2):
            hits = permuted_correct(single, transposed, local[start:stop], tolerance)
            for name, decided in pairs.items():
                correct[name][start:stop] += np.count_nonzero(hits & decided, axis=(1, 2))
    return {name: correct[name] / (counts[name] / 2) if counts[name] else np.full(n_permutations, np.nan)
            for name in scored}
