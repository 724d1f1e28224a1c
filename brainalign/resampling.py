"""Resampling the exchangeable unit: whole CV groups (Pereira passage, BOLD5000 image or coarser).

Sentences of one passage share topic and brain drift, so single stimuli are not exchangeable;
every test in :mod:`brainalign.stats` and :mod:`brainalign.pearson_stats` resamples whole
groups instead, with the helpers here:

- **Permutations** (:func:`group_permutations`): whole groups are re-paired with whole groups.
  A group can only take the place of a group with the same *stratum*: the same size and the
  same sequence of session labels of its members (within-group presentation order). Inside a
  stratum the groups are permuted uniformly and member k of one group is matched with member k
  of the other. This is exact under the null hypothesis that groups of a stratum are
  exchangeable (it never needs groups of unequal size to be exchangeable, and never moves a
  stimulus to another acquisition session). A group whose stratum it alone fills stays in place.
- **Bootstrap** (:func:`group_bootstrap_weights`): groups are drawn with replacement; each
  stimulus inherits the multiplicity of its group.
- **Block sums** (:func:`block_sums`): statistics that are quadratic forms in per-stimulus
  weights constant within groups (2v2 over resampled pairs, paired swaps) are computed on the
  ``n_groups x n_groups`` matrices ``G' M G`` (``G`` the stimulus-to-group indicator), so the
  cost per resample does not depend on the number of stimuli.

``groups=None`` everywhere means "each stimulus is its own group", the scheme that is only
valid when stimuli are exchangeable one by one (``tests/test_calibration.py`` shows it is
anti-conservative on passage-structured data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.errors import DataError


@dataclass(frozen=True)
class GroupLayout:
    """The CV groups of ``n`` stimuli, as resampling needs them.

    Attributes
    ----------
    codes : ndarray of int, shape (n,)
        Group index of each stimulus, 0..n_groups-1 in order of first appearance.
    strata : tuple of ndarray of int
        One (groups_in_stratum, stratum_group_size) matrix per stratum: row a lists the
        stimulus indices of one group in presentation order.
    """

    codes: NDArray[np.intp]
    strata: tuple[NDArray[np.intp], ...]

    @property
    def n_stimuli(self) -> int:
        return int(self.codes.size)

    @property
    def n_groups(self) -> int:
        return int(self.codes.max()) + 1 if self.codes.size else 0

    @property
    def sizes(self) -> NDArray[np.float64]:
        """Stimuli per group, shape (n_groups,)."""
        return np.bincount(self.codes, minlength=self.n_groups).astype(np.float64)


def group_layout(n_stimuli: int, groups: ArrayLike | None = None, sessions: ArrayLike | None = None) -> GroupLayout:
    """Index the groups (and permutation strata) of ``n_stimuli`` stimuli.

    Parameters
    ----------
    n_stimuli : int
    groups : array-like of shape (n_stimuli,), optional
        Group label of each stimulus (``SubjectResponses.groups``); None: one group per stimulus.
    sessions : array-like of shape (n_stimuli,), optional
        Session label of each stimulus (``SubjectResponses.sessions``); groups only swap with
        groups whose members have the same session labels. None: one session.

    Returns
    -------
    GroupLayout

    Raises
    ------
    DataError
        ``groups`` or ``sessions`` does not have one label per stimulus.
    """
    labels = np.arange(n_stimuli) if groups is None else np.asarray(groups)
    if labels.shape != (n_stimuli,):
        raise DataError(f"resampling needs one group label per stimulus: {n_stimuli} stimuli, labels {labels.shape}")
    _, first, codes = np.unique(labels, return_index=True, return_inverse=True)
    # Codes in order of first appearance, so results do not depend on how labels sort.
    rank = np.empty(first.size, dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    codes = rank[codes.ravel()]
    session_labels = np.zeros(n_stimuli, dtype=np.intp) if sessions is None else np.unique(
        np.asarray(sessions), return_inverse=True)[1].ravel()
    if session_labels.shape != (n_stimuli,):
        raise DataError(f"resampling needs one session label per stimulus: {n_stimuli} stimuli")
    members: list[list[int]] = [[] for _ in range(first.size)]
    for stimulus, code in enumerate(codes.tolist()):
        members[code].append(stimulus)
    by_stratum: dict[tuple[int, ...], list[list[int]]] = {}
    for group in members:
        by_stratum.setdefault(tuple(session_labels[group].tolist()), []).append(group)
    strata = tuple(np.array(rows, dtype=np.intp) for _, rows in sorted(by_stratum.items()))
    return GroupLayout(codes.astype(np.intp), strata)


def group_permutations(rng: np.random.Generator, layout: GroupLayout, n_resamples: int) -> NDArray[np.intp]:
    """Random permutations of the stimuli that move whole groups within their strata.

    Returns
    -------
    ndarray of int, shape (n_resamples, n_stimuli)
        Row b maps stimulus i to ``perm[b, i]``; a group's members map, in order, to the
        members of one group of the same stratum. With one group per stimulus and one
        session this is ``rng.permuted`` of ``arange(n)`` per row.
    """
    permutations = np.empty((n_resamples, layout.n_stimuli), dtype=np.intp)
    if n_resamples == 0:
        return permutations
    for members in layout.strata:
        count = members.shape[0]
        order = rng.permuted(np.tile(np.arange(count), (n_resamples, 1)), axis=1)
        permutations[:, members.ravel()] = members[order].reshape(n_resamples, -1)
    return permutations


def group_bootstrap_weights(rng: np.random.Generator, n_groups: int, n_resamples: int) -> NDArray[np.float64]:
    """Multiplicity of each group in each bootstrap resample of the groups.

    Returns
    -------
    ndarray of shape (n_resamples, n_groups)
        Rows sum to ``n_groups``.
    """
    return rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_resamples).astype(np.float64)


def group_row_sums(matrix: ArrayLike, layout: GroupLayout) -> NDArray[np.float64]:
    """``G' X``: the rows of ``matrix`` summed within each group.

    Parameters
    ----------
    matrix : array-like of shape (n_stimuli, k)

    Returns
    -------
    ndarray of shape (n_groups, k)
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    order = np.argsort(layout.codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(layout.codes[order]) != 0])
    return np.add.reduceat(matrix[order], starts, axis=0)


def block_sums(matrix: ArrayLike, layout: GroupLayout) -> NDArray[np.float64]:
    """``G' M G``: the sums of ``matrix`` over every block of (group, group) entries.

    Parameters
    ----------
    matrix : array-like of shape (n_stimuli, n_stimuli)

    Returns
    -------
    ndarray of shape (n_groups, n_groups)
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if layout.n_groups == layout.n_stimuli and np.array_equal(layout.codes, np.arange(layout.n_stimuli)):
        return matrix  # one group per stimulus: G is the identity
    # Two segmented row sums (np.add.reduceat): far faster than products with G.
    left = group_row_sums(matrix, layout)  # G' M, (n_groups, n_stimuli)
    return np.ascontiguousarray(group_row_sums(left.T, layout).T)


def pair_mask(sessions: Sequence[str] | None, n_stimuli: int, pairs: str) -> NDArray[np.bool_]:
    """Which pairs of stimuli a 2v2 score averages over.

    Parameters
    ----------
    sessions : sequence of str, length n_stimuli, or None
    pairs : {"all", "within_session", "cross_session"}

    Returns
    -------
    ndarray of bool, shape (n_stimuli, n_stimuli)
        Symmetric, False on the diagonal.
    """
    if pairs == "all" or sessions is None:
        if pairs not in ("all", "within_session", "cross_session"):
            raise DataError(f"unknown pair set {pairs!r}; use all, within_session or cross_session")
        mask = np.ones((n_stimuli, n_stimuli), dtype=bool)
        if pairs == "cross_session":
            mask[:] = False
    else:
        labels = np.asarray(sessions)
        same = labels[:, None] == labels[None, :]
        if pairs == "within_session":
            mask = same
        elif pairs == "cross_session":
            mask = ~same
        else:
            raise DataError(f"unknown pair set {pairs!r}; use all, within_session or cross_session")
    np.fill_diagonal(mask, False)
    return mask
