"""The all-pole / direct-form-I kernel twins against their pure-torch references."""

from __future__ import annotations

import pytest
import torch
from ddsp.kernels.allpole import (
    allpole_adjoint_cpu,
    allpole_adjoint_reference,
    allpole_cpu,
    allpole_reference,
)

from tests.helpers import F32_TOL, F64_TOL, kernel_inputs, max_rel_err

# (numerator taps, poles): the second-order fast path and the general path.
SIZES = [(1, 1), (3, 2), (1, 16), (4, 5)]


def run_forward(x, b, a, zx, zy):
    y, zfx, zfy = torch.empty_like(x), torch.empty_like(zx), torch.empty_like(zy)
    allpole_cpu(*(t.numpy() for t in (x, b, a, zx, zy, y, zfx, zfy)))
    return y, zfx, zfy


def run_adjoint(g, x, b, a, zx, zy, y):
    n = x.shape[0]
    u, gx = torch.empty_like(x), torch.empty_like(x)
    gb = torch.empty(n, b.shape[1], b.shape[2], dtype=torch.float64 if b.shape[1] == 1 else x.dtype)
    ga = torch.empty(n, a.shape[1], a.shape[2], dtype=torch.float64 if a.shape[1] == 1 else x.dtype)
    gzx = torch.empty(zx.shape, dtype=torch.float64)
    gzy = torch.empty(zy.shape, dtype=torch.float64)
    allpole_adjoint_cpu(*(t.numpy() for t in (g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy)))
    return gx, gb, ga, gzx, gzy


@pytest.mark.parametrize("n_t", [1, 2, 101, 4097])
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("tv", [False, True], ids=["static", "time-varying"])
@pytest.mark.parametrize("n_b,order", SIZES)
def test_cpu_twin_matches_reference_forward_and_adjoint(n_t, n, tv, n_b, order):
    x, b, a, zx, zy = kernel_inputs(n, n_t, n_b, order, tv_b=tv, tv_a=tv)
    want = allpole_reference(x, b, a, zx, zy)
    g = torch.randn(n, n_t, dtype=torch.float64)
    want_adj = allpole_adjoint_reference(g, x, b, a, zx, zy, want[0])
    # float64: tight
    got = run_forward(x, b, a, zx, zy)
    for gt, w in zip(got, want):
        assert max_rel_err(gt, w) < F64_TOL
    got_adj = run_adjoint(g, x, b, a, zx, zy, want[0])
    for gt, w in zip(got_adj, want_adj):
        assert max_rel_err(gt, w) < F64_TOL
    # float32: loose, against the float64 reference
    f32 = [t.float() for t in (x, b, a, zx, zy)]
    got32 = run_forward(*f32)
    assert got32[0].dtype == torch.float32
    for gt, w in zip(got32, want):
        assert max_rel_err(gt, w) < F32_TOL
    got_adj32 = run_adjoint(g.float(), *f32, want[0].float())
    for gt, w in zip(got_adj32, want_adj):
        assert max_rel_err(gt, w) < F32_TOL


@pytest.mark.parametrize("n_t", [1, 2, 7, 30])
@pytest.mark.parametrize("tv_b,tv_a", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("n_b,order", SIZES + [(2, 1), (3, 0), (1, 0)])
def test_adjoint_reference_equals_autograd_through_reference(n_t, tv_b, tv_a, n_b, order):
    """The hand-derived adjoint sums are the true gradient of the reference recursion."""
    inputs = kernel_inputs(2, n_t, n_b, order, tv_b=tv_b, tv_a=tv_a)
    leaves = [t.clone().requires_grad_() for t in inputs]
    y = allpole_reference(*leaves)[0]
    g = torch.randn_like(y)
    y.backward(g)
    adj = allpole_adjoint_reference(g, *inputs, y.detach())
    kern = run_adjoint(g, *inputs, y.detach())
    for leaf, want, got in zip(leaves, adj, kern):
        oracle = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)  # unused input
        assert max_rel_err(want, oracle) < F64_TOL
        assert max_rel_err(got, oracle) < F64_TOL


def test_static_coefficient_gradient_is_accurate_over_long_float32_signals():
    """Static sums over 10^5 samples stay within float32 rounding of the float64 value."""
    x, b, a, zx, zy = kernel_inputs(2, 100_000, 3, 2, tv_b=False, tv_a=False)
    y64 = run_forward(x, b, a, zx, zy)[0]
    g = torch.randn_like(x)
    want = run_adjoint(g, x, b, a, zx, zy, y64)
    got = run_adjoint(
        g.float(), x.float(), b.float(), a.float(), zx.float(), zy.float(), y64.float()
    )
    for gt, w in zip(got[1:3], want[1:3]):
        rel = float((gt - w).abs().max() / w.abs().max())
        assert rel < 1e-5
