"""Leave-one-group-out errors of ridge in closed form, from the eigendecomposition of a fold.

Inside a training fold, alpha is chosen by the error of predicting each *group* of rows (a
Pereira passage, an image) from a model fitted without that whole group, so that rows sharing
a group's topic and drift never sit on both sides of the inner split. No model is refitted:
with the hat matrix ``H`` of ridge with an unpenalised intercept (input scaling held fixed, as
in the single-row LOO), the residuals of group ``g`` left out are

    e_g = (I - H_gg)^-1 (y - H y)_g

(the leave-group-out identity of linear smoothers), where ``H_gg`` is the (m x m) diagonal
block of the group's rows. From the eigendecomposition ``U diag(s) U^T`` of the fold,
``I - H_gg = U_g diag(a / (s + a)) U_g^T - P_gg`` (dual form, ``U`` complete) or
``I - X_g V diag(1 / (s + a)) V^T X_g^T - P_gg`` (primal form), where ``P`` is the hat matrix of
the unpenalised intercepts: ``1/n`` everywhere for one intercept, ``1/n_s`` within session ``s``
for one per session (the model that centring per session fits), so that leaving a group out
refits the session means too. Each block (m x m, m the group size) is checked to be
positive definite (a batched Cholesky: otherwise the model interpolates the group and its error
is unbounded) and inverted (:func:`block_inverses`): tiny matrices per alpha, never a refit.

Groups of unequal size are padded to the largest size: pad rows carry a zero residual and an
identity block, so they add nothing. The functions take the array namespace ``xp`` (numpy or
torch) so that :mod:`brainalign.ridge_torch` computes exactly the same quantities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class GroupBlocks:
    """The rows of a training fold arranged group by group, padded to the largest group.

    Attributes
    ----------
    index : ndarray of shape (n_groups, size), intp
        Row (within the training fold) of each member; pads point at row 0.
    mask : ndarray of shape (n_groups, size), float64
        1 for members, 0 for pads.
    pair_mask : ndarray of shape (n_groups, size, size), float64
        ``mask[:, :, None] * mask[:, None, :]``.
    pad_identity : ndarray of shape (n_groups, size, size), float64
        1 on the diagonal at pads, else 0 (makes every padded block invertible).
    member_identity : ndarray of shape (n_groups, size, size), float64
        1 on the diagonal at members, else 0.
    intercept : ndarray of shape (n_groups, size, size), float64
        The block of the intercepts' hat matrix: ``1 / n_train`` between members, or with
        sessions ``1 / n_s`` between members of the same session ``s`` (0 otherwise).
    """

    index: Any
    mask: Any
    pair_mask: Any
    pad_identity: Any
    member_identity: Any
    intercept: Any

    @classmethod
    def from_labels(cls, labels: ArrayLike, sessions: NDArray[np.intp] | None = None) -> GroupBlocks | None:
        """Blocks of the training rows' group labels (n_train,); ``None`` when every group is one row.

        ``None`` tells the callers to use the single-row LOO, which is the same computation.
        ``sessions`` (n_train,) are session codes when there is one intercept per session.
        """
        _, codes, sizes = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
        if sizes.max() == 1:
            return None
        order = np.argsort(codes, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        position = np.arange(codes.size) - np.repeat(starts, sizes)
        index = np.zeros((sizes.size, sizes.max()), dtype=np.intp)
        mask = np.zeros(index.shape)
        index[codes[order], position] = order
        mask[codes[order], position] = 1.0
        diagonal = np.eye(index.shape[1])
        pair_mask = mask[:, :, None] * mask[:, None, :]
        if sessions is None:
            intercept = pair_mask / codes.size
        else:
            session_of = sessions[index]
            leverage = 1.0 / np.bincount(sessions)[session_of]
            intercept = pair_mask * (session_of[:, :, None] == session_of[:, None, :]) * leverage[:, :, None]
        return cls(
            index=index,
            mask=mask,
            pair_mask=pair_mask,
            pad_identity=(1.0 - mask)[:, :, None] * diagonal,
            member_identity=mask[:, :, None] * diagonal,
            intercept=intercept,
        )

    def converted(self, convert: Callable[[NDArray], Any]) -> GroupBlocks:
        """The same blocks with every field passed through ``convert`` (e.g. to a torch tensor)."""
        return GroupBlocks(*(convert(getattr(self, name)) for name in self.__dataclass_fields__))


def block_inverses(gathered_basis: Any, weights: Any, dual: bool, blocks: GroupBlocks, xp: Any) -> Any | None:
    """``(I - H_gg)^-1`` of every group for one alpha, or None when a block is not positive definite.

    Parameters
    ----------
    gathered_basis : array of shape (n_groups, size, m)
        ``basis[blocks.index]``: rows of ``U`` (dual) or ``X V`` (primal).
    weights : array of shape (m,)
        ``a / (s + a)`` (dual) or ``1 / (s + a)`` (primal).
    dual : bool
    blocks : GroupBlocks
    xp : module
        numpy or torch.

    Returns
    -------
    array of shape (n_groups, size, size), or None
        The inverses, 0 at pads (rows and columns). None means the model interpolates a group (an unbounded leave-group-out error):
    the one test of that, shared by the fit and :mod:`brainalign.held_out_models`, so that both
    agree on which alphas may be chosen.
    """
    return _positive_definite_inverses((gathered_basis * weights) @ gathered_basis.mT, dual, blocks, xp)


def _padded_blocks(quadratic: Any, dual: bool, blocks: GroupBlocks) -> Any:
    """``I - H_gg`` (identity at pads) from ``quadratic = B_g diag(weights) B_g^T`` (n_groups, size, size)."""
    quadratic = quadratic * blocks.pair_mask
    if dual:
        block = quadratic - blocks.intercept
    else:
        block = blocks.member_identity - quadratic - blocks.intercept
    return block + blocks.pad_identity


def pooled_dual_squared_errors(
    gathered_basis: Any, shrinkage: Any, factor: Any, blocks: GroupBlocks, xp: Any
) -> Any | None:
    """Sum over rows and targets of the squared leave-group-out residuals, dual form, one alpha.

    For many targets (:func:`brainalign.ridge_loo.pooled_loo_mean_squared_errors_dual`): with
    ``F = diag(shrinkage)`` and the (n x n) ``factor`` ``G = U^T Y Y^T U``, the residuals of
    group g are ``B_g^-1 U_g F R`` (``B_g = I - H_gg``, ``G = R R^T``), so the total is
    ``<G, sum_g (B_g^-1 U_g F)^T (B_g^-1 U_g F)>``. Computed on the gathered rows ``U_g F``
    directly, which also give the denominator blocks, so no row is gathered per alpha.

    Parameters
    ----------
    gathered_basis : array of shape (n_groups, size, n)
        ``U[blocks.index]``.
    shrinkage : array of shape (n,)
        ``a / (s + a)``.
    factor : array of shape (n, n)
    blocks : GroupBlocks
    xp : module

    Returns
    -------
    scalar array, or None when a block ``I - H_gg`` is not positive definite (a group is
    interpolated: unbounded error)
    """
    scaled = gathered_basis * shrinkage
    inverses = _positive_definite_inverses(scaled @ gathered_basis.mT, True, blocks, xp)
    if inverses is None:
        return None
    # The residuals of group g are B_g^-1 U_g F R (B_g = I - H_gg, G = R R^T), so the total is
    # <G, sum_g (B_g^-1 U_g F)^T (B_g^-1 U_g F)>: one symmetric product (n_train n^2 / 2)
    # instead of U F G (n_train n^2). Pads have zero rows and columns in the inverses.
    n = scaled.shape[-1]
    residual_rows = (inverses @ scaled).reshape(-1, n)
    return _frobenius_product(residual_rows.mT @ residual_rows, factor, xp)


def _positive_definite_inverses(quadratic: Any, dual: bool, blocks: GroupBlocks, xp: Any) -> Any | None:
    """:func:`block_inverses` from ``quadratic = B_g diag(weights) B_g^T`` (n_groups, size, size).

    Only the inverses and the check that no group is interpolated are needed, no eigenvectors:
    a batched Cholesky is that check at a tenth of the cost of a batched ``eigh`` of the
    (size x size) blocks.
    """
    block = _padded_blocks(quadratic, dual, blocks)
    if xp is np:
        try:
            np.linalg.cholesky(block)
        except np.linalg.LinAlgError:
            return None
        return np.linalg.inv(block) * blocks.pair_mask
    _, info = xp.linalg.cholesky_ex(block)
    if bool((info != 0).any()):
        return None
    return xp.linalg.inv(block) * blocks.pair_mask


def _frobenius_product(left: Any, right: Any, xp: Any) -> Any:
    """``sum(left * right)`` of two arrays of one shape, without the temporary product."""
    if xp is np:
        return np.vdot(left, right)
    return xp.dot(left.reshape(-1), right.reshape(-1))


def squared_errors_per_target(numerators: Any, inverses: Any, blocks: GroupBlocks, xp: Any) -> Any:
    """Sum over training rows of the squared leave-group-out residuals, per target.

    Parameters
    ----------
    numerators : array of shape (n_train, n_targets)
        ``y - H y`` for a block of targets.
    inverses : array of shape (n_groups, size, size)
        From :func:`block_inverses` (0 at pads).

    Returns
    -------
    array of shape (n_targets,)
    """
    residuals = inverses @ numerators[blocks.index]
    return (residuals * residuals).sum(axis=(0, 1))
