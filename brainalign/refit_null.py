"""Permutation null of cross-validated ridge scores with every model refitted.

Permuting the held-out targets of fitted models (:func:`brainalign.fold_pairs.permutation_two_vs_two_blocks`)
tests each model's predictions on their own, but the models of one cross-validation share
most of their training rows, so their scores co-vary; a null that keeps the fits fixed misses
that covariance and is anti-conservative (``tests/test_calibration.py``: about 7-10% of
structured nulls at p < 0.05). The exact test refits: permute whole groups of targets
``Y -> Y[perm]`` and rerun the whole cross-validation, alpha selection included.

Refitting is cheap here because nothing about the inputs changes. Permutations move groups
within strata of (outer fold x session x group size) (:func:`brainalign.fold_pairs.fold_strata`),
so every model's training rows are permuted among themselves and its test rows among
themselves: the training means, standard deviations and session means of the targets are
unchanged. Each model of the design (:func:`held_out_model`) is then a set of fixed linear maps of
its standardised targets ``Z`` (one per alpha):

* predictions of the test rows: ``P_a Z_train`` with ``P_a = T diag(1 / (s + a)) B^T``;
* its inner leave-one-group-out error: ``trace(Z_train^T M_a Z_train)`` with
  ``M_a = C_a D_a C_a``, ``C_a = I - H_a`` and ``D_a`` the block diagonal of
  ``(I - H_a - P_int)_gg^-2`` (:mod:`brainalign.ridge_groups`),

so a permutation costs gathers and matrix products, never an eigendecomposition. The pooled
alpha choice needs only ``Z_train Z_train^T`` permuted. :func:`refit_permutation_null` returns
the null distributions of the 2v2 accuracy (every pair decided by the model that held both
stimuli out, :mod:`brainalign.fold_pairs`) and of the encoding's mean Pearson r. The identity
permutation reproduces the observed scores (tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from brainalign.fold_pairs import standardised_columns
from brainalign.metrics import batched_similarity
from brainalign.ridge_groups import GroupBlocks, block_factors
from brainalign.ridge_loo import EigenBasis, standardise_in_place, standardise_new_rows
from brainalign.ridge_sessions import session_codes, session_means, subtract_session_means
from brainalign.stats import resample_chunks

Split = tuple[NDArray[np.intp], NDArray[np.intp]]


@dataclass(frozen=True, eq=False)
class HeldOutModel:
    """One ridge model of a cross-validation as linear maps of its standardised targets.

    Attributes
    ----------
    train, test : ndarray of int, shape (n_train,), (n_test,)
        Rows (positions in the subject's order) it is trained on and predicts.
    targets : ndarray of shape (n_train + n_test, n_targets)
        Targets of the training rows, then the test rows, centred (per session) and scaled with
        the training rows' statistics, as :func:`brainalign.fold_pairs.standardise_by_training_folds`.
    predictors : ndarray of shape (n_alphas, n_test, n_train)
        ``P_a``: standardised test predictions are ``P_a @ targets[:n_train]``.
    loo_forms : ndarray of shape (n_alphas, n_train, n_train)
        ``M_a``: the inner leave-one-(group-)out squared error of target column z is ``z' M_a z``.
    usable : ndarray of bool, shape (n_alphas,)
        False where the model interpolates a left-out group (an unbounded error: never chosen).
    """

    train: NDArray[np.intp]
    test: NDArray[np.intp]
    targets: NDArray[np.float64]
    predictors: NDArray[np.float64]
    loo_forms: NDArray[np.float64]
    usable: NDArray[np.bool_]

    @cached_property
    def target_gram(self) -> NDArray[np.float64]:
        """``Z_train Z_train^T`` (n_train, n_train)."""
        training = self.targets[: self.train.size]
        return training @ training.T

    @cached_property
    def flat_loo_forms(self) -> NDArray[np.float64]:
        """``loo_forms`` as (n_alphas, n_train**2)."""
        return self.loo_forms.reshape(self.loo_forms.shape[0], -1)


def _standardised_targets(Y: NDArray, train: NDArray[np.intp], test: NDArray[np.intp],
                          codes: NDArray[np.intp] | None, n_sessions: int) -> NDArray[np.float64]:
    """Training then test rows of Y, centred (per session) and scaled with the training rows."""
    training, held_out = Y[train].astype(np.float64), Y[test].astype(np.float64)
    if codes is not None:
        means = session_means(training, codes[train], n_sessions)
        subtract_session_means(training, codes[train], means)
        subtract_session_means(held_out, codes[test], means)
    mean = training.mean(axis=0)
    scale = training.std(axis=0)
    scale[scale == 0] = 1.0
    return (np.vstack([training, held_out]) - mean) / scale


def held_out_model(
    X: NDArray,
    Y: NDArray,
    alphas: Sequence[float],
    split: Split,
    *,
    groups: Sequence[str] | None = None,
    sessions: Sequence[str] | None = None,
) -> HeldOutModel:
    """The linear maps of the ridge model that :func:`brainalign.ridge.cross_val_predict_ridge` fits on ``split``.

    Parameters
    ----------
    X, Y : ndarray of shape (n, n_features), (n, n_targets)
    alphas : sequence of float
    split : (train_idx, test_idx)
    groups, sessions : sequence of str of length n, optional
        As given to the ridge: whole groups are left out by the inner LOO; inputs and targets
        are centred per session.

    Returns
    -------
    HeldOutModel
    """
    train, test = np.asarray(split[0], dtype=np.intp), np.asarray(split[1], dtype=np.intp)
    X = np.asarray(X, dtype=np.float64)
    alphas = np.asarray(alphas, dtype=np.float64)
    coded = session_codes(sessions, X.shape[0])
    codes, n_sessions = (None, 1) if coded is None else (coded[0], coded[1].size)
    training_inputs = np.empty((train.size, X.shape[1]))
    train_codes = None if codes is None else codes[train]
    mean, scale = standardise_in_place(training_inputs, True, source=(X, train),
                                       sessions=None if codes is None else (train_codes, n_sessions))
    test_inputs = standardise_new_rows(np.empty((test.size, X.shape[1])), X, test, mean, scale,
                                       None if codes is None else codes[test])
    if codes is None:
        leverage = np.full(train.size, 1.0 / train.size)
    else:
        leverage = 1.0 / np.bincount(train_codes, minlength=n_sessions)[train_codes]
    basis = EigenBasis.from_training(training_inputs, intercept_leverage=None if codes is None else leverage)
    transform = basis.transform(test_inputs)
    blocks = None if groups is None else GroupBlocks.from_labels(np.asarray(groups)[train], train_codes)
    dual = basis.form == "dual"
    gathered = None if blocks is None else basis.basis[blocks.index]

    predictors = np.empty((alphas.size, test.size, train.size))
    loo_forms = np.empty((alphas.size, train.size, train.size))
    usable = np.ones(alphas.size, dtype=bool)
    for index, alpha in enumerate(alphas):
        inverse = 1.0 / (basis.eigenvalues + alpha)
        predictors[index] = (transform * inverse) @ basis.basis.T
        if dual:
            # U is complete: I - H = U diag(a / (s + a)) U^T, without cancellation.
            residual_map = (basis.basis * (alpha * inverse)) @ basis.basis.T
        else:
            residual_map = np.eye(train.size) - (basis.basis * inverse) @ basis.basis.T
        # The LOO residuals are L z with L = blockdiag((I - H - P_int)_gg^-1) (I - H): M = L^T L.
        if blocks is None:
            denominators = np.diagonal(residual_map) - leverage
            usable[index] = bool(np.all(denominators > 0))
            residuals = residual_map / np.where(denominators > 0, denominators, 1.0)[:, None]
        else:
            weights = alpha * inverse if dual else inverse
            eigenvalues, eigenvectors = block_factors(gathered, weights, dual, blocks, np)
            usable[index] = bool(np.all(eigenvalues > 0))
            safe = np.where(eigenvalues > 0, eigenvalues, 1.0)
            block_inverses = (eigenvectors / safe[:, None, :]) @ np.swapaxes(eigenvectors, 1, 2) * blocks.pair_mask
            # Pads have zero rows and columns in the inverses: their rows of L vanish.
            residuals = (block_inverses @ residual_map[blocks.index])[blocks.mask > 0]
        loo_forms[index] = residuals.T @ residuals
    targets = _standardised_targets(np.asarray(Y), train, test, codes, n_sessions)
    return HeldOutModel(train, test, targets, predictors, loo_forms, usable)


def design_splits(folds: Sequence[Split], n: int) -> list[tuple[Split, NDArray[np.bool_]]]:
    """Every model of the 2v2 design and the pairs of its test rows it decides.

    The K outer folds (pairs within a fold), then one model per two folds trained without
    both (pairs across them), as :func:`brainalign.fold_pairs.fold_pair_blocks`.

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
    """Index of the alpha the ridge chooses (pooled over standardised targets) per permutation."""
    permuted = model.target_gram[train_rows[:, :, None], train_rows[:, None, :]]
    errors = permuted.reshape(permuted.shape[0], -1) @ model.flat_loo_forms.T
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
        return _permuted_predictors(model, train_rows) @ model.targets[: model.train.size], held_out
    n_alphas = model.predictors.shape[0]
    errors = np.stack([np.einsum("bit,bit->bt", model.loo_forms[a] @ training, training) for a in range(n_alphas)])
    errors[~model.usable] = np.inf
    chosen = np.argmin(errors, axis=0)  # (b, t)
    predicted = np.zeros(held_out.shape)
    for a in np.unique(chosen):
        predicted += (model.predictors[a] @ training) * (chosen == a)[:, None, :]
    return predicted, held_out


def _permuted_predictors(model: HeldOutModel, train_rows: NDArray[np.intp]) -> NDArray[np.float64]:
    """``P_b`` (b, n_test, n_train) with ``P_b @ Z_train`` the predictions refitted on permutation b.

    Refitting on permuted training targets ``Z[perm]`` predicts ``P_a Z[perm] = P_a[:, perm^-1] Z``:
    permuting the columns of the (small) predictor map of the chosen alpha replaces gathering
    the (large) targets.
    """
    chosen = _pooled_alpha_choice(model, train_rows)
    n_alphas, m, n_train = model.predictors.shape
    rows = (chosen[:, None] * m + np.arange(m))[:, :, None]
    return model.predictors.reshape(n_alphas * m, n_train)[rows, _inverse(train_rows)[:, None, :]]


def _refitted_chunk(
    model: HeldOutModel, permutations: NDArray[np.intp], *, distance: str, per_target_alpha: bool,
    kernels: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None, pearson: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Similarities (b, n_test, n_test) of the refitted predictions to the permuted targets, and
    with ``pearson`` the within-fold products ``sum_i p~_it y~_it`` (b, n_targets) of columns
    standardised over the model's test rows (divided by n and averaged over columns, summed over
    the outer folds: the within-fold r).

    With ``kernels`` (:func:`_similarity_kernels`) the similarities need only n_train-sized
    products, never the (b, n_test, n_targets) predictions.
    """
    if per_target_alpha:
        predicted, actual = refitted_predictions(model, permutations, per_target_alpha=True)
        products = np.einsum("bit,bit->bt", standardised_columns(predicted), standardised_columns(actual))
        return batched_similarity(predicted, actual, distance), products if pearson else None
    train_rows, test_rows = _local_rows(model, permutations)
    predictors = _permuted_predictors(model, train_rows)
    training = model.targets[: model.train.size]
    if kernels is None:
        similarity = batched_similarity(predictors @ training, model.targets[model.train.size:][test_rows], distance)
    else:
        similarity = _kernel_similarity(predictors, test_rows, kernels, distance)
    if not pearson:
        return similarity, None
    # Pair prediction a with target test_rows[a] by reordering the predictor rows instead of
    # gathering targets: row j of the reordered predictions meets test row j.
    predicted = np.take_along_axis(predictors, _inverse(test_rows)[:, :, None], axis=1) @ training
    m = test_rows.shape[1]
    variance = np.einsum("bit,bit->bt", predicted, predicted) / m - (predicted.sum(axis=1) / m) ** 2
    # The targets' columns are centred, so the predictions need no centring in the product.
    cross = np.einsum("bit,it->bt", predicted, standardised_columns(model.targets[model.train.size:]))
    with np.errstate(invalid="ignore", divide="ignore"):
        products = np.where(variance > 1e-24, cross / np.sqrt(np.where(variance > 0, variance, 1.0)), 0.0)
    return similarity, products


def _kernel_similarity(
    predictors: NDArray[np.float64], test_rows: NDArray[np.intp],
    kernels: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]], distance: str,
) -> NDArray[np.float64]:
    """:func:`brainalign.metrics.batched_similarity` of ``predictors @ Z_train`` and the permuted
    test targets, from the products of :func:`_similarity_kernels`."""
    cross, gram, target_norms = kernels
    b, m, n_train = predictors.shape
    flat = predictors.reshape(b * m, n_train)
    inner = (flat @ cross).reshape(b, m, m)  # <p_a, y_j> for the unpermuted test rows j
    squared = np.einsum("ik,ik->i", flat @ gram, flat).reshape(b, m)
    if distance == "euclidean":
        similarity = -np.sqrt(np.maximum(squared[:, :, None] + target_norms**2 - 2.0 * inner, 0.0))
    else:
        norms = np.sqrt(np.maximum(squared, 0.0))[:, :, None] * target_norms
        similarity = inner / np.where(norms > 0, norms, 1.0)
    # Row a's own (permuted) target is test row test_rows[a]: permute the columns.
    return np.take_along_axis(similarity, test_rows[:, None, :], axis=2)


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

    Returns
    -------
    RefitNull
    """
    n_permutations, n = permutations.shape
    counts = {name: np.count_nonzero(np.triu(mask, k=1)) for name, mask in masks.items()}
    correct = {name: np.zeros(n_permutations) for name in masks}
    n_targets = np.asarray(Y).shape[1]
    moments = np.zeros((n_permutations, n_targets)) if pearson else None
    for number, (split, decides) in enumerate(design_splits(folds, n)):
        model = held_out_model(X, Y, alphas, split, groups=groups, sessions=sessions)
        rows = model.test
        pairs = {name: np.triu(decides & mask[np.ix_(rows, rows)], k=1) for name, mask in masks.items()}
        n_train, m = model.train.size, rows.size
        # The kernel form costs n_train (n_train + n_test) per test row, the direct one about
        # n_targets (n_train + n_test): the cheaper wins.
        kernels = _similarity_kernels(model, distance) if n_train < 2 * n_targets else None
        fold_model = pearson and number < len(folds)
        per_permutation = m * (n_train + m) + n_train**2 + (m * n_targets if fold_model or kernels is None else 0)
        for start, stop in resample_chunks(n_permutations, 2 * per_permutation):
            chunk = permutations[start:stop]
            similarity, products = _refitted_chunk(model, chunk, distance=distance, per_target_alpha=per_target_alpha,
                                                   kernels=kernels, pearson=fold_model)
            diagonal = np.diagonal(similarity, axis1=1, axis2=2)
            margin = diagonal[:, :, None] + diagonal[:, None, :] - similarity - np.swapaxes(similarity, 1, 2)
            tolerance = 1e-10 * np.max(np.abs(similarity), axis=(1, 2))
            hits = margin > tolerance[:, None, None]
            for name, decided in pairs.items():
                correct[name][start:stop] += np.count_nonzero(hits & decided, axis=(1, 2))
            if fold_model:
                moments[start:stop] += products
    two_vs_two = {name: correct[name] / counts[name] if counts[name] else np.full(n_permutations, np.nan)
                  for name in masks}
    pearson_null = None
    if pearson:
        pearson_null = np.clip(moments / n, -1.0, 1.0).mean(axis=1)
    return RefitNull(two_vs_two, pearson_null)


def widened_interval(
    score: float, low: float, high: float, refit: NDArray[np.float64], fixed: NDArray[np.float64],
    bounds: tuple[float, float],
) -> tuple[float, float]:
    """A bootstrap CI widened by how much refitting the models spreads the null.

    The group bootstrap resamples pair outcomes of the fitted models, so like the fixed-fit
    permutation null it misses the covariance between the folds' scores. The interval's
    distances from ``score`` are multiplied by ``sd(refit) / sd(fixed)``, the ratio of the two
    nulls' spreads on the same permutations (never below 1: the interval is never narrowed),
    and clipped to ``bounds``.

    Returns
    -------
    (low, high) : tuple of float
    """
    refit, fixed = refit[np.isfinite(refit)], fixed[np.isfinite(fixed)]
    if not (np.isfinite(low) and np.isfinite(high)) or refit.size < 2 or fixed.size < 2:
        return low, high
    spread = float(np.std(fixed))
    factor = max(1.0, float(np.std(refit)) / spread) if spread > 0 else 1.0
    return (max(bounds[0], score - factor * (score - low)), min(bounds[1], score + factor * (high - score)))
