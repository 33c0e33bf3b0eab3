"""ADSR and LFO: closed forms, shapes, gradients, per-sample modulation."""

from __future__ import annotations

import pytest
import torch

from ddsp.functional import (
    adsr,
    lfo,
)

D = torch.float64


def test_adsr_segments_in_closed_form_and_gradients():
    sr = 1000
    gate = torch.zeros(1, 400, dtype=D)
    gate[:, 10:210] = 1.0
    a, d, s, r = (torch.tensor([v], dtype=D, requires_grad=True) for v in (20.0, 50.0, 0.6, 100.0))
    env = adsr(gate, a, d, s, r, sample_rate=sr)[0]
    levels = env.detach()
    assert float(levels[:10].abs().max()) == 0.0
    assert float(levels[10 + 9]) == pytest.approx(0.5)  # half-way up the 20 ms attack
    assert float(levels[10 + 19]) == pytest.approx(1.0)
    assert float(levels[10 + 19 + 25]) == pytest.approx(0.8)  # half-way down to 0.6
    assert float(levels[150]) == pytest.approx(0.6)
    assert float(levels[210 + 49]) == pytest.approx(0.3)  # half-way through the release
    assert float(levels[320]) == 0.0
    env.sum().backward()
    for t in (a, d, s, r):
        assert torch.isfinite(t.grad).all() and float(t.grad.abs()) > 0


def test_adsr_drives_a_filter_cutoff_per_sample():
    from ddsp.functional import svf

    gate = torch.zeros(1, 8000)
    gate[:, :4000] = 1
    env = adsr(gate, 5.0, 200.0, 0.3, 100.0, sample_rate=16_000)
    cutoff = 200.0 * 2 ** (5 * env)  # 200 Hz .. 6.4 kHz
    y = svf(torch.randn(1, 8000), cutoff, 0.5, sample_rate=16_000)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("shape", ["sine", "triangle", "saw", "square"])
def test_lfo_shapes_period_and_depth(shape):
    y = lfo(800, 20.0, sample_rate=8000, shape=shape, depth=0.5)[0]
    assert float(y.abs().max()) == pytest.approx(0.5, abs=1e-3)
    # 20 Hz at 8 kHz: a period of 400 samples (0 and 400 sit on the saw and square edges)
    torch.testing.assert_close(y[1:399], y[401:799], atol=1e-5, rtol=0)
    first = {"sine": 0.0, "triangle": -0.5, "saw": -0.5, "square": 0.5}[shape]
    assert float(y[0]) == pytest.approx(first)
