"""Exact gradients: gradcheck / gradgradcheck in float64 for every input of every op."""

from __future__ import annotations

import pytest
import torch
from ddsp.kernels.allpole import allpole_reference
from torch.autograd import gradcheck, gradgradcheck

from ddsp.functional import LFilterState, allpole, biquad, lfilter, svf
from tests.helpers import stable_poles

D = torch.float64
N_T = 17


def leaf(t: torch.Tensor, grad: bool = True) -> torch.Tensor:
    return t.detach().clone().requires_grad_(grad)


@pytest.mark.parametrize("tv", [False, True], ids=["static", "time-varying"])
@pytest.mark.parametrize("order", [1, 2, 4])
def test_allpole_gradcheck_and_gradgradcheck_every_input(tv, order):
    x = leaf(torch.randn(2, N_T, dtype=D))
    a = leaf(
        stable_poles(2, N_T if tv else 1, order)[:, :, :] if tv else stable_poles(2, 1, order)[:, 0]
    )
    zi = leaf(torch.randn(2, order, dtype=D))

    def f(x, a, zi):
        y, zf = allpole(x, a, zi, return_state=True)
        return y, zf

    assert gradcheck(f, (x, a, zi))
    assert gradgradcheck(f, (x, a, zi))
    for mask in ([True, False, False], [False, True, False], [False, False, True]):
        inputs = [leaf(t, m) for t, m in zip((x, a, zi), mask)]
        assert gradcheck(f, inputs)


@pytest.mark.parametrize("tv", [False, True], ids=["static", "time-varying"])
@pytest.mark.parametrize("n_b,n_a", [(3, 3), (1, 2), (4, 2), (2, 5)])
def test_lfilter_gradcheck_and_gradgradcheck_every_input(tv, n_b, n_a):
    x = leaf(torch.randn(2, N_T, dtype=D))
    shape_t = (2, N_T) if tv else (2,)
    b = leaf(torch.randn(*shape_t, n_b, dtype=D))
    a_tail = stable_poles(2, N_T if tv else 1, n_a - 1)
    a_tail = a_tail if tv else a_tail[:, 0]
    a0 = 1.5 + torch.rand(*shape_t, 1, dtype=D)
    a = leaf(torch.cat([torch.ones_like(a0), a_tail], -1) * a0)
    zx = leaf(torch.randn(2, n_b - 1, dtype=D))
    zy = leaf(torch.randn(2, n_a - 1, dtype=D))

    def f(x, b, a, zx, zy):
        y, state = lfilter(x, b, a, LFilterState(zx, zy), return_state=True)
        return y, state.x, state.y

    assert gradcheck(f, (x, b, a, zx, zy))
    assert gradgradcheck(f, (x, b, a, zx, zy))


def test_custom_backward_equals_autograd_through_reference():
    x = torch.randn(3, 300, dtype=D)
    a = stable_poles(3, 300, 3)
    zi = torch.randn(3, 3, dtype=D)
    g = torch.randn(3, 300, dtype=D)
    l1 = [leaf(t) for t in (x, a, zi)]
    allpole(*l1).backward(g)
    l2 = [leaf(t) for t in (x, a, zi)]
    one = torch.ones(3, 1, 1, dtype=D)
    allpole_reference(l2[0], one, l2[1], x.new_zeros(3, 0), l2[2])[0].backward(g)
    for p, q in zip(l1, l2):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["lowpass", "peaking", "lowshelf", "highshelf", "allpass"])
@pytest.mark.parametrize("rate", ["per_item", "per_frame", "per_sample"])
def test_biquad_gradcheck_in_every_control(kind, rate):
    x = leaf(torch.randn(2, N_T, dtype=D))
    shape = {"per_item": (2,), "per_frame": (2, 4), "per_sample": (2, N_T)}[rate]
    fc = leaf(torch.empty(shape, dtype=D).uniform_(500, 4000))
    q = leaf(torch.empty(shape, dtype=D).uniform_(0.5, 2))
    gain = leaf(torch.empty(shape, dtype=D).uniform_(-6, 6))
    zx = leaf(torch.randn(2, 2, dtype=D))
    zy = leaf(torch.randn(2, 2, dtype=D))

    def f(x, fc, q, gain, zx, zy):
        y, st = biquad(
            x, kind, fc, q, gain, sample_rate=16_000, zi=LFilterState(zx, zy), return_state=True
        )
        return y, st.y

    assert gradcheck(f, (x, fc, q, gain, zx, zy))


@pytest.mark.parametrize("mode", ["lowpass", "bandpass", "highpass", "notch"])
@pytest.mark.parametrize("rate", ["per_item", "per_frame", "per_sample"])
def test_svf_gradcheck_in_every_input(mode, rate):
    x = leaf(torch.randn(2, N_T, dtype=D))
    shape = {"per_item": (2,), "per_frame": (2, 5), "per_sample": (2, N_T)}[rate]
    fc = leaf(torch.empty(shape, dtype=D).uniform_(200, 6000))
    res = leaf(torch.empty(shape, dtype=D).uniform_(0.0, 0.9))
    zi = leaf(torch.randn(2, 2, dtype=D))

    def f(x, fc, res, zi):
        return svf(x, fc, res, sample_rate=16_000, mode=mode, zi=zi, return_state=True)

    assert gradcheck(f, (x, fc, res, zi))


def test_gradients_are_finite_at_the_edges_of_the_ranges():
    x = torch.randn(1, 200, dtype=D)
    for fc, q_or_res in ((1e-3, 1e-3), (7999.9, 0.999), (1.0, 0.0)):
        fcs = leaf(torch.tensor([fc], dtype=D))
        r = leaf(torch.tensor([q_or_res], dtype=D))
        svf(x, fcs, r, sample_rate=16_000).sum().backward()
        assert torch.isfinite(fcs.grad).all() and torch.isfinite(r.grad).all()
        q = leaf(torch.tensor([max(q_or_res, 1e-3)], dtype=D))
        fcb = leaf(torch.tensor([fc], dtype=D))
        biquad(x, "lowpass", fcb, q, sample_rate=16_000).sum().backward()
        assert torch.isfinite(fcb.grad).all() and torch.isfinite(q.grad).all()


def test_biquad_gradgradcheck_through_time_varying_design():
    """The lfilter backward is differentiable, so second derivatives reach the controls."""
    x = leaf(torch.randn(1, 12, dtype=D))
    fc = leaf(torch.tensor([[800.0, 2000.0, 1200.0]], dtype=D))
    q = leaf(torch.tensor([0.9], dtype=D))

    def f(x, fc, q):
        return biquad(x, "peaking", fc, q, 5.0, sample_rate=16_000)

    assert gradgradcheck(f, (x, fc, q))
