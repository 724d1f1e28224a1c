"""Permutation null of cross-validated ridge scores with every model refitted.

Permuting the held-out targets of fitted models
(:func:`brainalign.fold_pairs.fixed_fit_null_two_vs_two`) tests each model's predictions on
their own, but the models of one cross-validation share most of their training rows, so their
scores co-vary; a null that keeps the fits fixed misses that covariance and is
anti-conservative (``tests/test_calibration.py``: about 7-10% of structured nulls at p < 0.05).
The exact test refits: permute whole groups of targets ``Y -> Y[perm]`` and rerun the whole
cross-validation, alpha selection included.

Refitting is cheap here because nothing about the inputs changes. Permutations move groups
within strata of (outer fold x session x group size) (:func:`brainalign.fold_pairs.fold_strata`),
so every model's training rows are permuted among themselves and its test rows among
themselves: the training means, standard deviations and session means of the targets are
unchanged. Each model of the design is then a set of fixed linear maps of its standardised
targets, one per alpha (:mod:`brainalign.held_out_models`), so a permutation costs gathers and
matrix products, never an eigendecomposition. The pooled alpha choice needs only
``Z_train Z_train^T`` permuted; the similarities, only n_train-sized kernels of the targets
(and a model trained without two folds, only those across its folds: the pairs it decides).
:func:`refit_permutation_null` returns the null distributions of the 2v2 accuracy (every pair
decided by the model that held both stimuli out, :mod:`brainalign.fold_pairs`) and of the
encoding's mean Pearson r. The identity permutation reproduces the observed scores, and every
permutation a brute-force refit (``tests/test_refit_null.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from brainalign.fold_pairs import design_splits, standardised_columns
from brainalign.held_out_models import HeldOutModel, Split, held_out_model
from brainalign.metrics import batched_similarity, euclidean_similarity, split_similarity
from brainalign.progress import ThrottledProgress
from brainalign.ridge_groups import GroupBlocks
from brainalign.stats import resample_chunks

logger = logging.getLogger(__name__)

_ALPHA_CHOICE_BATCH = 64
"""Permutations whose alpha choice shares one read of every model's LOO forms."""

SimilarityParts = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
"""The similarities a model's 2v2 outcomes need, per permutation: of every test row to its own
target (b, m), of the rows R to the targets C (b, r, c), and of C to R (b, c, r). R and C are all
the test rows for a fold model; for a pair model, which decides only the pairs across its two
folds, they are the two folds, and the similarities within a fold are never computed."""


def _local_rows(model: HeldOutModel, permutations: NDArray[np.intp]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Positions (within the model's training rows, and within its test rows) whose targets
    each training and test row receives under each permutation, shapes (b, n_train), (b, n_test)."""
    n = permutations.shape[1]
    local = np.full(n, -1, dtype=np.intp)
    local[model.train] = np.arange(model.train.size)
    local[model.test] = model.train.size + np.arange(model.test.size)
    train_rows, test_rows = local[permutations[:, model.train]], local[permutations[:, model.test]]
    if np.any(train_rows < 0) or np.any(train_rows >= model.train.size):
        raise ValueError("a permutation moves a training row of the model out of its training set")
    return train_rows, test_rows - model.train.size


def _inverse(rows: NDArray[np.intp]) -> NDArray[np.intp]:
    """Inverse of each row's permutation, shape (b, k)."""
    inverse = np.empty_like(rows)
    inverse[np.arange(rows.shape[0])[:, None], rows] = np.arange(rows.shape[1])
    return inverse


def _pooled_alpha_choice(model: HeldOutModel, train_rows: NDArray[np.intp]) -> NDArray[np.intp]:
    """Index of the alpha the ridge chooses (pooled over standardised targets) per permutation.

    The error of alpha a on permutation b is ``<M_a, G[r_b][:, r_b]>`` (``G`` the training
    targets' Gram matrix, ``r_b`` the rows whose targets the training rows receive). Any
    number of permutations (rows of ``train_rows``) is taken in memory-bounded batches.
    """
    n_permutations, n_train = train_rows.shape
    errors = np.zeros((n_permutations, model.loo_forms.shape[0]))
    moves = _group_moves(model.group_blocks, train_rows)
    if moves is not None:
        # Whole groups move, members in order: the same sum over (size x size) blocks, whose
        # gather copies contiguous blocks instead of single entries (several times faster).
        n_groups = moves.shape[1]
        for start, stop in resample_chunks(n_permutations, model.block_gram.size):
            pairs = (moves[start:stop, :, None] * n_groups + moves[start:stop, None, :]).reshape(-1)
            permuted = np.take(model.block_gram, pairs, axis=0).reshape(stop - start, -1)
            errors[start:stop] = permuted @ model.block_loo_forms.T
    else:
        # Entry by entry, a block of rows of every M_a at a time for a batch of permutations:
        # each M_a is read once per batch instead of once per permutation. With thousands of
        # training rows (BOLD5000) the forms take GBs and that read, not the arithmetic, is the cost.
        for start in range(0, n_permutations, _ALPHA_CHOICE_BATCH):
            rows = train_rows[start : start + _ALPHA_CHOICE_BATCH]
            for first, last in resample_chunks(n_train, rows.shape[0] * n_train):
                gathered = model.target_gram[rows[:, first:last, None], rows[:, None, :]]
                forms = model.loo_forms[:, first:last].reshape(model.loo_forms.shape[0], -1)
                errors[start : start + rows.shape[0]] += gathered.reshape(rows.shape[0], -1) @ forms.T
    errors[:, ~model.usable] = np.inf
    return np.argmin(errors, axis=1)


def refitted_predictions(
    model: HeldOutModel, permutations: NDArray[np.intp], *, per_target_alpha: bool = False
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Standardised test predictions and targets of ``model`` refitted on permuted targets.

    Parameters
    ----------
    model : HeldOutModel
    permutations : ndarray of int, shape (b, n)
        Row c gives stimulus i the target of stimulus ``permutations[c, i]``; it must map the
        model's training rows onto themselves (and so its test rows).
    per_target_alpha : bool
        Choose alpha per target column instead of one alpha for all (pooled over the
        standardised columns), as the ridge does.

    Returns
    -------
    predicted, actual : ndarray of shape (b, n_test, n_targets)
    """
    train_rows, test_rows = _local_rows(model, permutations)
    training = model.targets[train_rows]  # (b, n_train, t)
    held_out = model.targets[model.train.size:][test_rows]
    if not per_target_alpha:
        chosen = _pooled_alpha_choice(model, train_rows)
        return _permuted_predictors(model, train_rows, chosen) @ model.targets[: model.train.size], held_out
    n_alphas = model.predictors.shape[0]
    errors = np.stack([np.einsum("bit,bit->bt", model.loo_forms[a] @ training, training) for a in range(n_alphas)])
    errors[~model.usable] = np.inf
    chosen = np.argmin(errors, axis=0)  # (b, t)
    predicted = np.zeros(held_out.shape)
    for a in np.unique(chosen):
        predicted += (model.predictors[a] @ training) * (chosen == a)[:, None, :]
    return predicted, held_out


def _group_moves(blocks: GroupBlocks | None, train_rows: NDArray[np.intp]) -> NDArray[np.intp] | None:
    """The group (of ``blocks``) whose members, in order, each group's members receive, per
    permutation (b, n_groups); None when a permutation does not move whole groups that way."""
    if blocks is None:
        return None
    members = blocks.mask > 0
    group_of = np.empty(train_rows.shape[1], dtype=np.intp)
    position_of = np.empty(train_rows.shape[1], dtype=np.intp)
    group_of[blocks.index[members]], position_of[blocks.index[members]] = np.nonzero(members)
    sources = train_rows[:, blocks.index]
    moves = group_of[sources[:, :, 0]]
    in_order = (group_of[sources] == moves[:, :, None]) & (position_of[sources] == np.arange(members.shape[1]))
    sizes = members.sum(axis=1)
    if not (np.all(in_order | ~members) and np.all(sizes[moves] == sizes)):
        return None
    return moves


def _permuted_predictors(
    model: HeldOutModel, train_rows: NDArray[np.intp], chosen: NDArray[np.intp]
) -> NDArray[np.float64]:
    """``P_b`` (b, n_test, n_train) with ``P_b @ Z_train`` the predictions refitted on permutation b.

    Refitting on permuted training targets ``Z[perm]`` predicts ``P_a Z[perm] = P_a[:, perm^-1] Z``:
    permuting the columns of the (small) predictor map of the chosen alpha (``chosen``, (b,),
    from :func:`_pooled_alpha_choice`) replaces gathering the (large) targets.
    """
    n_alphas, m, n_train = model.predictors.shape
    rows = (chosen[:, None] * m + np.arange(m))[:, :, None]
    return model.predictors.reshape(n_alphas * m, n_train)[rows, _inverse(train_rows)[:, None, :]]


def _refitted_chunk(
    model: HeldOutModel, permutations: NDArray[np.intp], *, rows: tuple[NDArray[np.intp], NDArray[np.intp]],
    distance: str, chosen: NDArray[np.intp] | None,
    kernels: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None,
    pearson: NDArray[np.float64] | None, split: int | None = None,
) -> tuple[SimilarityParts, NDArray[np.float64] | None]:
    """The :data:`SimilarityParts` of the refitted predictions and the permuted targets (the two
    folds split at test row ``split``, or all test rows against all with None), and
    with ``pearson`` (the model's test targets, columns standardised over its test rows:
    :func:`brainalign.fold_pairs.standardised_columns`, computed once per model) the within-fold
    products ``sum_i p~_it y~_it`` (b, n_targets) (divided by n and averaged over columns, summed
    over the outer folds: the within-fold r).

    ``rows`` are the permutations' :func:`_local_rows`; ``chosen`` (b,) is the alpha of each
    permutation (:func:`_pooled_alpha_choice`), or None with one alpha per target.

    With ``kernels`` (:func:`_similarity_kernels`) the similarities need only n_train-sized
    products, never the (b, n_test, n_targets) predictions.
    """
    train_rows, test_rows = rows
    if chosen is None:
        predicted, actual = refitted_predictions(model, permutations, per_target_alpha=True)
        similarity = _similarity_parts(predicted, actual, distance, split)
        if pearson is None:
            return similarity, None
        # The permuted targets are rows of the model's test targets, whose columns are already standardised.
        return similarity, np.einsum("bit,bit->bt", standardised_columns(predicted), pearson[test_rows])
    predictors = _permuted_predictors(model, train_rows, chosen)
    training = model.targets[: model.train.size]
    if kernels is None:
        similarity = _similarity_parts(predictors @ training, model.targets[model.train.size:][test_rows], distance,
                                       split)
    else:
        similarity = _kernel_similarity(predictors, test_rows, kernels, distance, split)
    if pearson is None:
        return similarity, None
    # Pair prediction a with target test_rows[a] by reordering the predictor rows instead of
    # gathering targets: row j of the reordered predictions meets test row j.
    predicted = np.take_along_axis(predictors, _inverse(test_rows)[:, :, None], axis=1) @ training
    m = test_rows.shape[1]
    variance = np.einsum("bit,bit->bt", predicted, predicted) / m - (predicted.sum(axis=1) / m) ** 2
    # The targets' columns are centred, so the predictions need no centring in the product.
    cross = np.einsum("bit,it->bt", predicted, pearson)
    with np.errstate(invalid="ignore", divide="ignore"):
        products = np.where(variance > 1e-24, cross / np.sqrt(np.where(variance > 0, variance, 1.0)), 0.0)
    return similarity, products


def _similarity_parts(
    predicted: NDArray[np.float64], actual: NDArray[np.float64], distance: str, split: int | None
) -> SimilarityParts:
    """:data:`SimilarityParts` of predictions and their targets (b, m, t), row i predicting target i."""
    if split is None:
        similarity = batched_similarity(predicted, actual, distance)
        return np.diagonal(similarity, axis1=1, axis2=2), similarity, similarity
    return split_similarity(predicted, actual, distance, split)


def _kernel_similarity(
    predictors: NDArray[np.float64], test_rows: NDArray[np.intp],
    kernels: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]], distance: str,
    split: int | None = None,
) -> SimilarityParts:
    """:func:`_similarity_parts` of ``predictors @ Z_train`` and the permuted test targets, from the
    products of :func:`_similarity_kernels`."""
    cross, gram, target_norms = kernels
    b, m, n_train = predictors.shape
    flat = predictors.reshape(b * m, n_train)
    squared = np.einsum("ik,ik->i", flat @ gram, flat).reshape(b, m)

    def block(rows: slice, columns: slice) -> NDArray[np.float64]:
        """Similarities of the predictions of ``rows`` to the permuted targets of ``columns`` (b, r, c)."""
        if rows == slice(0, m):
            inner = (flat @ cross[:, columns]).reshape(b, m, -1)  # <p_a, y_j> for the unpermuted test rows j
        else:
            inner = predictors[:, rows] @ cross[:, columns]
        similarity = _similarity_from_products(inner, squared[:, rows, None], target_norms[columns], distance)
        # Row a's own (permuted) target is test row test_rows[a], among ``columns``: permute the columns.
        return np.take_along_axis(similarity, test_rows[:, None, columns] - columns.start, axis=2)

    if split is None:
        similarity = block(slice(0, m), slice(0, m))
        return np.diagonal(similarity, axis1=1, axis2=2), similarity, similarity
    # <p_a, y_test_rows[a]>, one permutation at a time so that the gathered columns of ``cross``
    # never exceed one (n_train, m) block.
    own = np.stack([np.einsum("ak,ka->a", predictors[c], cross[:, test_rows[c]]) for c in range(b)])
    diagonal = _similarity_from_products(own, squared, target_norms[test_rows], distance)
    return diagonal, block(slice(0, split), slice(split, m)), block(slice(split, m), slice(0, split))


def _similarity_from_products(
    inner: NDArray[np.float64], squared: NDArray[np.float64], target_norms: NDArray[np.float64], distance: str
) -> NDArray[np.float64]:
    """Similarities from the products ``<p, y>``, the predictions' squared norms and the targets' norms
    (broadcast together), by the formulas of :func:`brainalign.metrics.batched_similarity`."""
    if distance == "euclidean":
        return euclidean_similarity(squared, target_norms**2, inner)
    norms = np.sqrt(np.maximum(squared, 0.0)) * target_norms
    return inner / np.where(norms > 0, norms, 1.0)


def _cross_split(decides: NDArray[np.bool_], test_rows: NDArray[np.intp]) -> int | None:
    """The test row at which a pair model's rows pass from its first fold to its second, when it
    decides exactly the pairs across them and no permutation (``test_rows``, (b, m)) moves a row
    to the other fold; None otherwise (then every similarity is computed)."""
    m = decides.shape[0]
    split = m - int(np.count_nonzero(decides[0]))
    first = np.arange(m) < split
    if not 0 < split < m or not np.array_equal(decides, first[:, None] != first[None, :]):
        return None
    return split if np.array_equal(test_rows < split, np.broadcast_to(first, test_rows.shape)) else None


def _similarity_kernels(
    model: HeldOutModel, distance: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Target products that give every refitted similarity: ``Z_train Z_test^T`` (n_train, n_test),
    ``Z_train Z_train^T`` and the test rows' norms, with rows centred for the correlation distance
    (centring a predicted row is the same linear map applied to centred training rows)."""
    targets = model.targets
    if distance == "correlation":
        targets = targets - targets.mean(axis=1, keepdims=True)
    training, held_out = targets[: model.train.size], targets[model.train.size:]
    return training @ held_out.T, training @ training.T, np.linalg.norm(held_out, axis=1)


@dataclass(frozen=True)
class RefitNull:
    """Null distributions of one direction x ROI x layer with every model refitted.

    Attributes
    ----------
    two_vs_two : dict
        Pair set -> ndarray (n_permutations,) of null 2v2 accuracies (NaN for a set without pairs).
    pearson : ndarray of shape (n_permutations,), or None
        Null mean Pearson r over target columns of the out-of-fold predictions, correlated
        within folds (:func:`brainalign.fold_pairs.standardise_within_folds`).
    """

    two_vs_two: dict[str, NDArray[np.float64]]
    pearson: NDArray[np.float64] | None


def refit_permutation_null(
    X: NDArray,
    Y: NDArray,
    alphas: Sequence[float],
    folds: Sequence[Split],
    permutations: NDArray[np.intp],
    *,
    masks: Mapping[str, NDArray[np.bool_]],
    distance: str = "correlation",
    groups: Sequence[str] | None = None,
    sessions: Sequence[str] | None = None,
    per_target_alpha: bool = False,
    pearson: bool = False,
    progress_label: str = "refitted null",
) -> RefitNull:
    """The 2v2 (and mean Pearson r) of the whole cross-validation refitted on each permutation.

    Parameters
    ----------
    X, Y : ndarray of shape (n, n_features), (n, n_targets)
        Ridge inputs and targets, as given to :func:`brainalign.ridge.cross_val_predict_ridge`.
    alphas : sequence of float
    folds : sequence of (train_idx, test_idx)
        The outer folds; their test sets partition the rows.
    permutations : ndarray of int, shape (n_permutations, n)
        Group permutations within fold strata (:func:`brainalign.fold_pairs.fold_strata`).
    masks : mapping of str to bool array (n, n)
        Pair sets (:func:`brainalign.resampling.pair_mask`).
    distance : str
        As :func:`brainalign.metrics.similarity_matrix`.
    groups, sessions, per_target_alpha
        As the ridge was fitted.
    pearson : bool
        Also the null of the mean Pearson r (encoding).
    progress_label : str
        Names this null in the progress messages logged (at most one a minute) after each model.

    Returns
    -------
    RefitNull
    """
    n_permutations, n = permutations.shape
    counts = {name: np.count_nonzero(np.triu(mask, k=1)) for name, mask in masks.items()}
    correct = {name: np.zeros(n_permutations) for name in masks}
    n_targets = np.asarray(Y).shape[1]
    moments = np.zeros((n_permutations, n_targets)) if pearson else None
    splits = design_splits(folds, n)
    progress = ThrottledProgress(logger, f"{progress_label}, {n_permutations} permutations", len(splits), "models")
    for number, (split, decides) in enumerate(splits):
        model = held_out_model(X, Y, alphas, split, groups=groups, sessions=sessions)
        rows = model.test
        n_train, m = model.train.size, rows.size
        # The kernel form costs about n_train (n_train + n_test) per test row, the direct one
        # n_targets (n_train + n_test) plus the predictions' normalisation: they break even near
        # n_train = 1.1-1.25 n_targets (fold, pair models; benchmarks/README.md), beyond which
        # the kernel form is up to 1.7 times slower at BOLD5000 sizes.
        kernels = _similarity_kernels(model, distance) if n_train < 1.2 * n_targets else None
        fold_model = pearson and number < len(folds)
        test_targets = standardised_columns(model.targets[n_train:]) if fold_model else None
        train_rows, test_rows = _local_rows(model, permutations)
        boundary = _cross_split(decides, test_rows)
        across = (slice(None), slice(None)) if boundary is None else (slice(0, boundary), slice(boundary, m))
        pairs = {name: np.triu(decides & mask[np.ix_(rows, rows)], k=1)[across] for name, mask in masks.items()}
        # The alpha choice first, for all permutations: it reads every M_a once per batch.
        chosen = None if per_target_alpha else _pooled_alpha_choice(model, train_rows)
        per_permutation = m * (n_train + m) + (m * n_targets if fold_model or kernels is None else 0)
        for start, stop in resample_chunks(n_permutations, 2 * per_permutation):
            chunk = permutations[start:stop]
            (diagonal, forward, backward), products = _refitted_chunk(
                model, chunk, rows=(train_rows[start:stop], test_rows[start:stop]), distance=distance,
                chosen=None if chosen is None else chosen[start:stop], kernels=kernels, pearson=test_targets,
                split=boundary)
            margin = (diagonal[:, across[0], None] + diagonal[:, None, across[1]]
                      - forward - np.swapaxes(backward, 1, 2))
            # 1e-10 of the largest similarity computed (the whole matrix's for a fold model).
            largest = np.max(np.abs(diagonal), axis=1)
            for part in (forward, backward):
                largest = np.maximum(largest, np.max(np.abs(part), axis=(1, 2)))
            tolerance = 1e-10 * largest
            hits = margin > tolerance[:, None, None]
            for name, decided in pairs.items():
                correct[name][start:stop] += np.count_nonzero(hits & decided, axis=(1, 2))
            if fold_model:
                moments[start:stop] += products
        progress.step_done(number + 1)
    two_vs_two = {name: correct[name] / counts[name] if counts[name] else np.full(n_permutations, np.nan)
                  for name in masks}
    pearson_null = None
    if pearson:
        pearson_null = np.clip(moments / n, -1.0, 1.0).mean(axis=1)
    return RefitNull(two_vs_two, pearson_null)
