"""Phaser: equal to a scipy allpass cascade, notches, gradients."""

from __future__ import annotations

import math

import numpy as np
import scipy.signal
import torch
from torch.autograd import gradcheck

from ddsp.functional import (
    phaser,
)

D = torch.float64


def test_static_phaser_equals_scipy_allpass_cascade():
    sr, fc, stages = 16_000, 700.0, 6
    x = torch.randn(1, 1, 3000, dtype=D)
    y = phaser(
        x, sample_rate=sr, rate_hz=0.0, depth_octaves=1.0, centre_hz=fc, stages=stages, mix=1.0
    )
    w = math.tan(math.pi * fc / sr)
    c = (w - 1) / (w + 1)
    want = x[0, 0].numpy()
    for _ in range(stages):
        want = scipy.signal.lfilter([c, 1.0], [1.0, c], want)
    np.testing.assert_allclose(y[0, 0].numpy(), want, atol=1e-10)
    # an allpass keeps every frequency's level: the wet signal has the input's energy
    assert abs(float(y.square().sum() / x.square().sum()) - 1) < 0.05


def test_phaser_puts_notches_where_the_chain_is_out_of_phase():
    sr, fc = 16_000, 1000.0
    impulse = torch.zeros(1, 1, 1 << 14, dtype=D)
    impulse[..., 0] = 1.0
    h = phaser(impulse, sample_rate=sr, rate_hz=0.0, centre_hz=fc, stages=4, mix=0.5)[0, 0].numpy()
    spec = np.abs(np.fft.rfft(h))
    assert spec.min() < 1e-3 and abs(spec.max() - 1) < 1e-6


def test_phaser_gradcheck_in_float64():
    x = torch.randn(1, 1, 40, dtype=D, requires_grad=True)
    args = [torch.tensor([[v]], dtype=D, requires_grad=True) for v in (30.0, 1.5, 900.0, 0.6)]
    assert gradcheck(
        lambda x, r, d, c, m: phaser(
            x, sample_rate=8000, rate_hz=r, depth_octaves=d, centre_hz=c, mix=m
        ),
        (x, *args),
    )
