"""Resource limits: a ridge job on a Pereira-size ROI (627 stimuli x 50,000 voxels) fits in 8 GB.

Running that job takes minutes on two cores, so this measures the peak memory numpy
allocates (``tracemalloc`` traces numpy's buffers) for the same job on two smaller ROIs,
fits the straight line memory = a + b * n_voxels through them (every large array of the
job is n_stimuli x n_voxels or smaller; the per-alpha residuals are bounded by
``chunk_size`` columns), and extrapolates to 50,000 voxels with a factor-two margin.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

from brainalign.alignment import RidgeSettings, score_subject
from brainalign.brains.store import SubjectResponses
from brainalign.features import FeatureStore

N_STIMULI = 627  # the reference paper's 384 + 243 sentences
N_DIMS = 768  # GPT-2's hidden size
PEREIRA_VOXELS = 50_000
LIMIT_BYTES = 8 * 1024**3


def _job_inputs(n_voxels: int) -> tuple[SubjectResponses, FeatureStore]:
    rng = np.random.default_rng(0)
    ids = [f"s{i:03d}" for i in range(N_STIMULI)]
    responses = SubjectResponses(
        dataset="pereira", subject="P01", stimulus_ids=ids, stimulus_texts=ids, groups=[f"p{i // 4}" for i in range(N_STIMULI)],
        rois={"language": rng.standard_normal((N_STIMULI, n_voxels), dtype=np.float32)}, simulated=True, provenance={},
    )
    features = FeatureStore(
        stimulus_ids=tuple(ids), layers={0: rng.standard_normal((N_STIMULI, N_DIMS), dtype=np.float32)}, identity={}
    )
    return responses, features


def _peak_bytes(n_voxels: int) -> int:
    """Peak bytes numpy allocates while scoring one ROI (the inputs, made before, not counted)."""
    responses, features = _job_inputs(n_voxels)
    # 3 folds rather than 5: fewer eigendecompositions (their n x n cost does not grow with
    # voxels); each fold still holds n_train x n_voxels copies, so the per-voxel cost is the
    # same within the margin below.
    settings = RidgeSettings(alphas=(1.0, 10.0, 100.0, 1000.0), n_folds=3)
    tracemalloc.start()
    try:
        with threadpool_limits(1):  # as the ridge rule runs it (threads: 1)
            score_subject(responses, features, settings=settings, model="gpt2", task="none", method="base")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_a_pereira_size_roi_scores_well_under_8_gb():
    sizes = (3_000, 6_000)
    peak_small, peak_large = (_peak_bytes(n) for n in sizes)
    per_voxel = (peak_large - peak_small) / (sizes[1] - sizes[0])
    fixed = peak_small - per_voxel * sizes[0]
    predicted = fixed + per_voxel * PEREIRA_VOXELS + N_STIMULI * PEREIRA_VOXELS * 4  # + the float32 ROI itself
    # About a dozen float64 copies of the ROI (inputs, standardised buffer, predictions,
    # scoring space) and nothing that grows faster than the number of voxels.
    print(f"per voxel {per_voxel / (8 * N_STIMULI):.1f} float64 columns, fixed {fixed / 1e6:.0f} MB, "
          f"predicted at {PEREIRA_VOXELS} voxels {predicted / 1024**3:.2f} GiB")
    assert per_voxel < 16 * 8 * N_STIMULI, per_voxel / (8 * N_STIMULI)
    assert 2 * predicted < LIMIT_BYTES, predicted / 1024**3
