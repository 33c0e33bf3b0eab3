"""The delay-network kernel against its reference and its adjoint against autograd."""

from __future__ import annotations

import pytest
import torch
from ddsp.kernels.fdn import network_reference
from torch.autograd import gradcheck

from ddsp.functional import (
    orthogonal,
)
from ddsp.ops import NetworkFunction
from tests.helpers import F64_TOL, max_rel_err

D = torch.float64


def _network_inputs(r=2, n_t=37, n_l=3, n_in=2, n_out=2, shared=False, dtype=D):
    rows = 1 if shared else r
    x = torch.randn(r, n_in, n_t, dtype=dtype)
    B = torch.randn(n_l, n_in, dtype=dtype)
    A = (0.95 * orthogonal(torch.randn(rows, n_l, n_l, dtype=dtype))).contiguous()
    k = torch.rand(rows, n_l, dtype=dtype) * 0.8 + 0.1
    p = torch.rand(rows, n_l, dtype=dtype) - 0.5
    m = torch.randint(1, 6, (rows, n_l))
    Ca = torch.randn(rows, n_out, n_l, dtype=dtype)
    Cs = torch.randn(rows, n_out, n_l, dtype=dtype)
    Dd = torch.randn(rows, n_out, n_in, dtype=dtype)
    return x, B, A, k, p, m, Ca, Cs, Dd


def _kernel(*args):
    return NetworkFunction.apply(*args)[0]


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("n_t", [1, 2, 37])
def test_delay_network_kernel_matches_reference_and_its_adjoint_matches_autograd(shared, n_t):
    x, B, A, k, p, m, Ca, Cs, Dd = _network_inputs(n_t=n_t, shared=shared)
    leaves = [t.requires_grad_() for t in (x, B, A, k, p, Ca, Cs, Dd)]
    y1 = _kernel(x, B, A, k, p, m, Ca, Cs, Dd)
    y2 = network_reference(x, B, A, k, p, m, Ca, Cs, Dd)
    assert max_rel_err(y1.detach(), y2.detach()) < F64_TOL
    gy = torch.randn_like(y1)
    g1 = torch.autograd.grad((y1 * gy).sum(), leaves)
    g2 = torch.autograd.grad((y2 * gy).sum(), leaves, allow_unused=True, materialize_grads=True)
    for got, want in zip(g1, g2):
        assert got.shape == want.shape and max_rel_err(got, want) < F64_TOL


def test_delay_network_gradcheck_every_input():
    x, B, A, k, p, m, Ca, Cs, Dd = _network_inputs(r=2, n_t=12, n_l=2, n_in=1, n_out=2)
    args = tuple(t.requires_grad_() for t in (x, B, A, k, p))
    assert gradcheck(lambda *z: _kernel(*z, m, Ca, Cs, Dd), args)
    args = tuple(t.requires_grad_() for t in (Ca, Cs, Dd))
    assert gradcheck(lambda *z: _kernel(x, B, A, k, p, m, *z), args)


def test_delay_network_skips_only_the_gradients_not_asked_for():
    x, B, A, k, p, m, Ca, Cs, Dd = _network_inputs(n_t=30)
    Cs = torch.zeros_like(Cs)  # zero weights are skipped in the forward, not in gradients
    for subset in [(1,), (2, 3), (6, 7), (0, 8)]:
        args = [x, B, A, k, p, m, Ca, Cs, Dd]
        leaves = [args[i].clone().requires_grad_() for i in subset]
        for i, leaf in zip(subset, leaves):
            args[i] = leaf
        gy = torch.randn(2, 2, 30, dtype=D)
        got = torch.autograd.grad((_kernel(*args) * gy).sum(), leaves)
        want = torch.autograd.grad((network_reference(*args) * gy).sum(), leaves)
        for g, w in zip(got, want):
            assert max_rel_err(g, w) < F64_TOL


def test_delay_network_float32_twin_is_close_to_float64():
    args = _network_inputs(n_t=2000, n_l=6)
    y64 = _kernel(*args)
    y32 = _kernel(*(t.float() if t.is_floating_point() else t for t in args))
    assert max_rel_err(y32, y64) < 1e-4
