"""The trapezoidal SVF kernel twins against the pure-torch reference (and its autograd)."""

from __future__ import annotations

import pytest
import torch
from ddsp.kernels.svf import svf_adjoint_cpu, svf_cpu, svf_reference

from tests.helpers import F32_TOL, F64_TOL, max_rel_err

# One pure output and one mix with every output weight non-zero (all adjoint paths).
MIXES = {"bandpass": (0.0, 1.0, 0.0), "mixed": (0.3, -0.7, 1.1)}


def svf_inputs(n, n_t, tv_g, tv_k, dtype=torch.float64):
    x = torch.randn(n, n_t, dtype=dtype)
    g = torch.rand(n, n_t if tv_g else 1, dtype=dtype) * 3 + 0.01  # cutoffs up to ~0.4 fs
    k = torch.rand(n, n_t if tv_k else 1, dtype=dtype) * 1.9 + 0.02  # Q from 0.5 to 50
    s0 = torch.randn(n, 2, dtype=dtype)
    return x, g, k, s0


def run_svf(x, g, k, mix, s0):
    n, n_t = x.shape
    y, sf, states = torch.empty_like(x), torch.empty_like(s0), torch.empty(n, n_t, 2, dtype=x.dtype)
    svf_cpu(*(t.numpy() for t in (x, g, k, mix, s0, y, states, sf)))
    return y, sf, states


def run_adjoint(gy, gsf, x, g, k, mix, states):
    gx, gs0 = torch.empty_like(x), torch.empty_like(gsf)
    gg = torch.empty(g.shape, dtype=torch.float64)
    gk = torch.empty(k.shape, dtype=torch.float64)
    svf_adjoint_cpu(*(t.numpy() for t in (gy, x, g, k, mix, states, gsf, gx, gg, gk, gs0)))
    return gx, gg, gk, gs0


@pytest.mark.parametrize("n_t", [1, 2, 101, 4097])
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("tv_g,tv_k", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("mode", list(MIXES))
def test_svf_cpu_twin_matches_reference_and_its_gradient(n_t, n, tv_g, tv_k, mode):
    x, g, k, s0 = svf_inputs(n, n_t, tv_g, tv_k)
    mix = torch.tensor(MIXES[mode], dtype=torch.float64)
    leaves = [t.clone().requires_grad_() for t in (x, g, k, s0)]
    y_ref, sf_ref = svf_reference(leaves[0], leaves[1], leaves[2], mix, leaves[3])
    gy, gsf = torch.randn_like(x), torch.randn_like(s0)
    torch.autograd.backward([y_ref, sf_ref], [gy, gsf])
    y, sf, states = run_svf(x, g, k, mix, s0)
    assert max_rel_err(y, y_ref.detach()) < F64_TOL
    assert max_rel_err(sf, sf_ref.detach()) < F64_TOL
    grads = run_adjoint(gy, gsf, x, g, k, mix, states)
    for got, leaf in zip(grads, leaves):
        assert max_rel_err(got, leaf.grad) < F64_TOL
    # float32 against the float64 reference
    f32 = [t.float() for t in (x, g, k, mix, s0)]
    y32, sf32, st32 = run_svf(*f32)
    assert max_rel_err(y32, y_ref.detach()) < F32_TOL
    grads32 = run_adjoint(gy.float(), gsf.float(), f32[0], f32[1], f32[2], f32[3], st32)
    for got, leaf in zip(grads32, leaves):
        assert max_rel_err(got, leaf.grad) < 1e-3  # gradients of a resonant filter: looser
