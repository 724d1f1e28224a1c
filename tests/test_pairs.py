"""The pair store round-trips exactly and refuses files it cannot trust."""

import numpy as np
import pandas as pd
import pytest

from brainalign.alignment import SubjectAlignment
from brainalign.errors import DataError
from brainalign.pairs import read_pair_store, write_pair_store


def test_pair_store_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    outcomes = rng.random((7, 7)) < 0.5
    outcomes = outcomes & outcomes.T
    np.fill_diagonal(outcomes, False)
    margins = rng.standard_normal((7, 7)).astype(np.float32)
    scores = pd.DataFrame(
        [{"dataset": "pereira", "subject": "S01", "model": "m", "task": "qa", "method": "prompt", "simulated": True}]
    )
    alignment = SubjectAlignment(
        scores, tuple(f"s{i}" for i in range(7)), {("decoding", "language", 2): outcomes},
        {("decoding", "language", 2): margins}, groups=("p0",) * 4 + ("p1",) * 3, sessions=("exp2",) * 4 + ("exp3",) * 3,
    )
    write_pair_store(alignment, tmp_path / "p.h5")
    store = read_pair_store(tmp_path / "p.h5")
    assert store.identity == {"dataset": "pereira", "subject": "S01", "model": "m", "task": "qa", "method": "prompt", "simulated": True}
    assert store.stimulus_ids == alignment.stimulus_ids
    assert store.groups == alignment.groups and store.sessions == alignment.sessions
    assert np.array_equal(store.outcomes[("decoding", "language", 2)], outcomes)
    assert np.array_equal(store.half_margins[("decoding", "language", 2)], margins)


def test_unreadable_pair_store_names_the_file(tmp_path):
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="bad.h5"):
        read_pair_store(tmp_path / "bad.h5")
