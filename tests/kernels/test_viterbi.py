"""The Viterbi kernel against its reference."""

from __future__ import annotations

import numpy as np
from ddsp.kernels.viterbi import viterbi_cpu, viterbi_reference


def test_viterbi_kernel_matches_the_reference_and_prefers_continuity():
    rng = np.random.default_rng(0)
    obs = np.log(rng.uniform(0.01, 1, (3, 40, 4)))
    obs[rng.uniform(size=obs.shape) < 0.3] = -np.inf
    obs[1, 5:9] = -np.inf  # frames without candidates pass through
    q = rng.uniform(6, 10, (3, 40, 4))
    want = viterbi_reference(obs, q.copy(), 0.05)
    path = np.empty((3, 40), np.int64)
    viterbi_cpu(obs, q.copy(), 0.05, np.empty((3, 2, 4)), np.empty((3, 40, 4), np.int64), path)
    np.testing.assert_array_equal(path, want)
    # one frame whose best candidate is an octave off: the path stays on the line
    q = np.stack([np.full(20, 8.0), np.full(20, 9.0)], -1)[None]
    obs = np.log(np.tile([0.8, 0.2], (1, 20, 1)))
    obs[0, 10] = np.log([0.3, 0.7])
    path = viterbi_reference(obs, q.copy(), 0.05)
    assert (path == 0).all()
