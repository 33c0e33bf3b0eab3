"""Ping-pong delay: alternating echoes and gradients in a fractional delay time."""

from __future__ import annotations

import torch
from torch.autograd import gradcheck

from ddsp.functional import (
    ping_pong_delay,
)

D = torch.float64


def test_ping_pong_echoes_alternate_sides_at_the_set_delay():
    x = torch.zeros(1, 1, 20)
    x[..., 0] = 1.0
    y = ping_pong_delay(x, 3.0, sample_rate=1000, feedback=0.5, mix=1.0)[0]
    want_l, want_r = torch.zeros(20), torch.zeros(20)
    want_l[[3, 9, 15]] = torch.tensor([1.0, 0.25, 0.0625])
    want_r[[6, 12, 18]] = torch.tensor([0.5, 0.125, 0.03125])
    assert torch.allclose(y[0], want_l, atol=1e-7) and torch.allclose(y[1], want_r, atol=1e-7)


def test_ping_pong_gradcheck_including_a_fractional_delay_time():
    x = torch.randn(2, 2, 30, dtype=D, requires_grad=True)
    d = torch.tensor([[2.3], [4.6]], dtype=D, requires_grad=True)
    fb = torch.tensor([[0.4], [-0.6]], dtype=D, requires_grad=True)
    mix = torch.tensor([[0.5], [0.7]], dtype=D, requires_grad=True)
    assert gradcheck(
        lambda *z: ping_pong_delay(z[0], z[1], sample_rate=1000, feedback=z[2], mix=z[3]),
        (x, d, fb, mix),
    )
