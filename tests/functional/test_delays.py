"""Delays and chorus: exact shifts, echo decay, gradients in time, feedback and mix."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

import ddsp

D = torch.float64


def test_delay_shifts_by_exactly_the_set_samples_and_echoes_decay_by_the_feedback():
    x = torch.zeros(1, 200, dtype=D)
    x[0, 3] = 1.0
    y = ddsp.functional.delay(x, 37.0, sample_rate=1000, mix=1.0)  # 37 ms at 1 kHz: 37 samples
    assert int(y.abs().argmax()) == 40 and float(y.abs().sum()) == pytest.approx(1.0)
    echo = ddsp.functional.delay(x, 50.0, sample_rate=1000, feedback=-0.5, mix=1.0)[0]
    assert [float(echo[3 + 50 * k]) for k in (1, 2, 3)] == pytest.approx([1.0, -0.5, 0.25])
    half = ddsp.functional.delay(x, 10.5, sample_rate=1000, mix=1.0)[
        0
    ]  # between samples: linear split
    assert float(half[13]) == pytest.approx(0.5) and float(half[14]) == pytest.approx(0.5)


def test_delay_and_chorus_gradcheck_in_time_feedback_and_mix():
    x = torch.randn(1, 40, dtype=D, requires_grad=True)
    ms = torch.tensor([7.3], dtype=D, requires_grad=True)
    fb = torch.tensor([0.4], dtype=D, requires_grad=True)
    mix = torch.tensor([0.6], dtype=D, requires_grad=True)
    assert gradcheck(
        lambda x, ms, fb, mix: ddsp.functional.delay(x, ms, sample_rate=1000, feedback=fb, mix=mix),
        (x, ms, fb, mix),
    )
    rate = torch.tensor([[30.0]], dtype=D, requires_grad=True)
    depth = torch.tensor([[2.0]], dtype=D, requires_grad=True)

    def swept(x, r, dp):
        return ddsp.functional.chorus(
            x[None], sample_rate=1000, rate_hz=r, depth_ms=dp, centre_ms=6.37
        )[0]

    # linear interpolation has kinks at whole-sample delays: tiny steps avoid straddling one
    assert gradcheck(swept, (x, rate, depth), eps=1e-9, atol=1e-5)


def test_chorus_rejects_a_sweep_below_one_sample():
    with pytest.raises(ValueError, match="one sample"):
        ddsp.functional.chorus(torch.randn(1, 100), sample_rate=1000, depth_ms=5.0, centre_ms=4.0)
