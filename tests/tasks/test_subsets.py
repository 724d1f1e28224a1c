"""Tests of the seeded row orders (brainalign.tasks.subsets)."""

from __future__ import annotations

import numpy as np

from brainalign.tasks.subsets import RowOrder


def drain(order: RowOrder, sizes: list[int]) -> list[int]:
    return [int(i) for size in sizes for i in order.take(size)]


def test_without_seed_every_row_in_order() -> None:
    order = RowOrder(7, seed=None)
    assert drain(order, [3, 10]) == list(range(7))
    assert order.take(5).size == 0 and order.remaining == 0


def test_seeded_order_is_a_permutation_through_sparse_and_dense_draws() -> None:
    n = 1000
    # 10 + 300 rows are drawn sparsely (under half the table), then the rest from one permutation.
    drawn = drain(RowOrder(n, seed=4), [10, 300, 200, -1])
    assert sorted(drawn) == list(range(n))
    assert drawn != list(range(n))
    assert drain(RowOrder(n, seed=4), [10, 300, 200, -1]) == drawn  # same seed, same order
    assert drain(RowOrder(n, seed=5), [10])[:10] != drawn[:10]


def test_sparse_draws_are_uniform() -> None:
    """Positions drawn first are spread evenly: the mean row of 2,000 draws from 10M is near the middle."""
    first = RowOrder(10_000_000, seed=0).take(2000)
    assert len(set(first.tolist())) == 2000
    assert abs(first.mean() / 10_000_000 - 0.5) < 0.03  # sd of the mean ~0.0065
    assert np.histogram(first, bins=4, range=(0, 10_000_000))[0].min() > 400
