"""Each ridge model of a cross-validation as fixed linear maps of its standardised targets.

A model trained on rows ``train`` and tested on rows ``test`` (one outer fold, or the
:mod:`brainalign.fold_pairs` models trained without two folds) is, for a fixed alpha and fixed
inputs, linear in its targets: after the targets are centred (per session) and scaled with the
training rows' statistics (``Z``), its standardised test predictions are ``P_a Z_train`` and its
inner leave-one-(group-)out squared error is ``trace(Z_train' M_a Z_train)``, with

* ``P_a = T diag(1 / (s + a)) B'`` from the eigendecomposition of the standardised training
  inputs (:class:`brainalign.ridge_loo.EigenBasis`);
* ``M_a = L' L``, ``L = blockdiag((I - H_a - P_int)_gg^-1) (I - H_a)``: the leave-group-out
  residuals of :mod:`brainalign.ridge_groups` as a matrix.

:mod:`brainalign.refit_null` refits the whole cross-validation on permuted targets with these
maps. Computing them is the same algorithm as :func:`brainalign.ridge.cross_val_predict_ridge`
(the same standardisation, eigenbasis and group blocks), so both choose the same alpha and make
the same predictions (``tests/test_refit_null.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from brainalign.fold_pairs import standardise_by_training_folds
from brainalign.ridge_groups import GroupBlocks, block_inverses
from brainalign.ridge_loo import EigenBasis, standardise_in_place, standardise_new_rows
from brainalign.ridge_sessions import session_codes

Split = tuple[NDArray[np.intp], NDArray[np.intp]]
"""(train_idx, test_idx) of one model."""


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
    group_blocks : GroupBlocks or None
        The training rows group by group, as the inner LOO leaves them out (None when every
        group is one row).
    block_loo_forms : ndarray of shape (n_alphas, n_groups**2 size**2), or None
        ``loo_forms`` arranged as :attr:`block_gram` (None without ``group_blocks``).
    """

    train: NDArray[np.intp]
    test: NDArray[np.intp]
    targets: NDArray[np.float64]
    predictors: NDArray[np.float64]
    loo_forms: NDArray[np.float64]
    usable: NDArray[np.bool_]
    group_blocks: GroupBlocks | None = None
    block_loo_forms: NDArray[np.float64] | None = None

    @cached_property
    def target_gram(self) -> NDArray[np.float64]:
        """``Z_train Z_train^T`` (n_train, n_train)."""
        training = self.targets[: self.train.size]
        return training @ training.T

    @cached_property
    def block_gram(self) -> NDArray[np.float64]:
        """``target_gram`` group by group: row ``g * n_groups + h`` is the (size x size) block of
        groups g and h, flattened, 0 at pads; shape (n_groups**2, size**2).

        Permutations that move whole groups permute these blocks, so the permuted Gram matrix
        is a gather of contiguous blocks rather than of single entries (``benchmarks/refit_null.py``).
        """
        return _group_by_group(self.target_gram[None], self.group_blocks)[0]


def _group_by_group(matrices: NDArray[np.float64], blocks: GroupBlocks) -> NDArray[np.float64]:
    """Matrices (k, n_train, n_train) as (k, n_groups**2, size**2) blocks of group pairs, 0 at pads."""
    n_groups, size = blocks.index.shape
    rows = blocks.index.ravel()
    gathered = np.take(np.take(matrices, rows, axis=1), rows, axis=2).reshape(-1, n_groups, size, n_groups, size)
    arranged = np.empty((matrices.shape[0], n_groups, n_groups, size, size))
    np.multiply(gathered.transpose(0, 1, 3, 2, 4), blocks.mask[:, None, :, None] * blocks.mask[None, :, None, :],
                out=arranged)
    return arranged.reshape(-1, n_groups**2, size**2)


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
            # The fit's own test of interpolated groups (a batched Cholesky), so that the fit and
            # its refits agree on which alphas may be chosen.
            inverses = block_inverses(gathered, alpha * inverse if dual else inverse, dual, blocks, np)
            usable[index] = inverses is not None
            if inverses is None:
                loo_forms[index] = 0.0
                continue
            # Pads have zero rows and columns in the inverses: their rows of L vanish.
            residuals = (inverses @ residual_map[blocks.index])[blocks.mask > 0]
        loo_forms[index] = residuals.T @ residuals
    # Training then test rows, standardised with the training rows as the fitted models' are.
    rows = np.concatenate([train, test])
    targets = standardise_by_training_folds(np.asarray(Y), np.asarray(Y), [(train, rows)], sessions)[1][rows]
    block_loo_forms = None if blocks is None else _group_by_group(loo_forms, blocks).reshape(alphas.size, -1)
    return HeldOutModel(train, test, targets, predictors, loo_forms, usable, group_blocks=blocks,
                        block_loo_forms=block_loo_forms)
