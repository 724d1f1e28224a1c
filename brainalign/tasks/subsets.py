"""Seeded random orders over the rows of a table too large to load, drawn a batch at a time.

A task that keeps ``max_examples`` of a split with millions of rows reads only the rows it
draws (an index ``select`` on a memory-mapped Arrow table, or one pass over a file picking
line numbers). :class:`RowOrder` yields distinct row indices in a seeded random order,
without ever holding a permutation of the whole table while the draws are sparse: memory is
O(rows drawn) until half the table is drawn, then one boolean per row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class RowOrder:
    """Distinct indices in ``[0, n_rows)``: every row in order, or a seeded random order.

    Parameters
    ----------
    n_rows : int
        Rows in the table.
    seed : int or sequence of int, optional
        Seed of ``numpy.random.default_rng``. None: every row in table order (no draw).

    Examples
    --------
    >>> order = RowOrder(10, seed=0)
    >>> first = order.take(3); rest = order.take(100)
    >>> sorted([*first, *rest]) == list(range(10))
    True
    """

    def __init__(self, n_rows: int, seed: int | Sequence[int] | None) -> None:
        if n_rows < 0:
            raise ValueError(f"n_rows must be >= 0, got {n_rows}")
        self.n_rows = int(n_rows)
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._seen: set[int] = set()
        self._rest: np.ndarray | None = None  # the undrawn rows, permuted, once draws get dense
        self._position = 0  # rows handed out so far

    @property
    def remaining(self) -> int:
        """Rows not handed out yet."""
        return self.n_rows - self._position

    def take(self, size: int) -> np.ndarray:
        """The next ``min(size, remaining)`` indices (all remaining when ``size`` < 0).

        Returns
        -------
        ndarray of int64, shape (k,)
            Indices never returned before; empty when the table is exhausted.
        """
        size = self.remaining if size < 0 else min(int(size), self.remaining)
        if size <= 0:
            return np.empty(0, dtype=np.int64)
        if self._rng is None:
            out = np.arange(self._position, self._position + size, dtype=np.int64)
        elif self._rest is not None or 2 * (self._position + size) > self.n_rows:
            out = self._take_dense(size)
        else:
            out = self._take_sparse(size)
        self._position += size
        return out

    def _take_sparse(self, size: int) -> np.ndarray:
        """Rejection sampling against the drawn set: O(size) memory, few rejections."""
        assert self._rng is not None
        out: list[int] = []
        while len(out) < size:
            # choice without replacement of a small share uses a set-based draw, not a permutation.
            candidates = self._rng.choice(self.n_rows, size=size - len(out), replace=False)
            for index in candidates.tolist():
                if index not in self._seen:
                    self._seen.add(index)
                    out.append(index)
        return np.asarray(out, dtype=np.int64)

    def _take_dense(self, size: int) -> np.ndarray:
        assert self._rng is not None
        if self._rest is None:
            undrawn = np.ones(self.n_rows, dtype=bool)
            undrawn[np.fromiter(self._seen, dtype=np.int64, count=len(self._seen))] = False
            self._rest = self._rng.permutation(np.flatnonzero(undrawn))
            self._seen = set()
        start = len(self._rest) - self.remaining
        return self._rest[start:start + size].astype(np.int64)
