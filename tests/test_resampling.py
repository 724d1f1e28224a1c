"""Group resampling: permutations move whole groups within strata, block sums, pair masks."""

import numpy as np
import pytest

from brainalign.errors import DataError
from brainalign.resampling import (
    block_sums,
    group_bootstrap_weights,
    group_layout,
    group_permutations,
    group_row_sums,
    pair_mask,
)
from brainalign.stats import rng_for

GROUPS = np.array(["a", "a", "a", "b", "b", "b", "b", "c", "c", "c", "d", "d", "d", "d", "e", "e", "e"])
SESSIONS = np.array(["x"] * 10 + ["y"] * 7)


def test_permutations_map_whole_groups_onto_groups_of_the_same_size_and_session():
    layout = group_layout(GROUPS.size, GROUPS, SESSIONS)
    assert layout.n_groups == 5 and list(layout.sizes) == [3, 4, 3, 4, 3]
    permutations = group_permutations(rng_for(0), layout, 500)
    for perm in permutations:
        assert sorted(perm) == list(range(GROUPS.size))
        assert (SESSIONS[perm] == SESSIONS).all()
        for group in np.unique(GROUPS):
            members = np.flatnonzero(GROUPS == group)
            assert len(set(GROUPS[perm[members]])) == 1  # a group lands on one group, in order
            assert (np.diff(perm[members]) == 1).all()
    # a and c (size 3, session x) swap; b (the only size-4 group of session x) stays; d, e stay
    images = {tuple(GROUPS[perm[GROUPS == "a"]])[0] for perm in permutations}
    assert images == {"a", "c"}
    assert (permutations[:, GROUPS == "b"] == np.flatnonzero(GROUPS == "b")).all()


def test_single_stimulus_groups_give_plain_permutations_and_bootstrap_weights_count_groups():
    layout = group_layout(6)
    expected = np.random.default_rng(1).permuted(np.tile(np.arange(6), (4, 1)), axis=1)
    assert np.array_equal(group_permutations(np.random.default_rng(1), layout, 4), expected)
    weights = group_bootstrap_weights(rng_for(0), 5, 100)
    assert weights.shape == (100, 5) and (weights.sum(axis=1) == 5).all()


def test_block_and_row_sums_equal_products_with_the_indicator():
    rng = np.random.default_rng(0)
    layout = group_layout(GROUPS.size, GROUPS[rng.permutation(GROUPS.size)])
    matrix = rng.standard_normal((GROUPS.size, GROUPS.size))
    g = np.zeros((GROUPS.size, layout.n_groups))
    g[np.arange(GROUPS.size), layout.codes] = 1.0
    np.testing.assert_allclose(block_sums(matrix, layout), g.T @ matrix @ g)
    np.testing.assert_allclose(group_row_sums(matrix[:, :3], layout), g.T @ matrix[:, :3])
    with pytest.raises(DataError, match="one group label per stimulus"):
        group_layout(4, ["a", "b"])


def test_pair_masks_split_pairs_by_session():
    within = pair_mask(SESSIONS, SESSIONS.size, "within_session")
    cross = pair_mask(SESSIONS, SESSIONS.size, "cross_session")
    everything = pair_mask(SESSIONS, SESSIONS.size, "all")
    assert not (within & cross).any() and np.array_equal(within | cross, everything)
    assert within.sum() == 10 * 9 + 7 * 6 and not np.diag(everything).any()
    with pytest.raises(DataError, match="unknown pair set"):
        pair_mask(SESSIONS, SESSIONS.size, "some")
