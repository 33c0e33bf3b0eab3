"""EQ, distortion, stereo tools and tremolo: levels, identities, gradients, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

import ddsp
from ddsp.functional import distortion, pan, parametric_eq, stereo_width, tremolo

D = torch.float64


SR = 48_000


def response_db(module_or_fn, freqs_hz, n=1 << 15):
    impulse = torch.zeros(1, 1, n, dtype=D)
    impulse[..., 0] = 1.0
    h = module_or_fn(impulse)[0, 0].detach().numpy()
    spec = np.fft.rfft(h)
    bins = np.round(np.asarray(freqs_hz) * n / SR).astype(int)
    return 20 * np.log10(np.abs(spec[bins]))


def test_parametric_eq_bands_reach_their_gains():
    def eq(x):
        return parametric_eq(
            x,
            sample_rate=SR,
            peaks=[(300.0, 6.0, 2.0), (3000.0, -9.0, 3.0)],
            low_shelf=(60.0, 4.0),
            high_shelf=(15_000.0, -5.0),
            low_cut_hz=20.0,
            high_cut_hz=22_000.0,
        )

    db = response_db(eq, [300.0, 3000.0, 1000.0])
    assert db[0] == pytest.approx(6.0, abs=0.3)
    assert db[1] == pytest.approx(-9.0, abs=0.3)
    assert abs(db[2]) < 0.6  # between bands: near flat
    module = ddsp.ParametricEQ(SR).double()
    flat = response_db(module, [100.0, 1000.0, 10_000.0])
    assert np.all(np.abs(flat) < 0.2)  # defaults: flat in the audible band


def test_distortion_identities_and_symmetry():
    x = torch.linspace(-1, 1, 101, dtype=D)[None]
    torch.testing.assert_close(distortion(x, mix=0.0), x)
    assert torch.equal(distortion(torch.zeros(1, 10), bias=0.3), torch.zeros(1, 10))
    y = distortion(x, drive_db=20.0)
    torch.testing.assert_close(y, -y.flip(-1))  # tanh, no bias: odd
    assert float(y.abs().max()) <= 1.0
    asym = distortion(x, drive_db=20.0, bias=0.4)
    assert float((asym + asym.flip(-1)).abs().max()) > 0.05  # bias: even harmonics


@pytest.mark.parametrize("shape", ["tanh", "soft", "asymmetric"])
def test_distortion_gradcheck(shape):
    x = torch.randn(2, 30, dtype=D, requires_grad=True)
    ctl = [torch.tensor([v], dtype=D, requires_grad=True) for v in (6.0, 0.2, 0.7, -3.0)]

    def f(x, drive, bias, mix, out):
        return distortion(x, drive_db=drive, shape=shape, bias=bias, mix=mix, output_db=out)

    assert gradcheck(f, (x, *ctl))


@pytest.mark.parametrize("position", [-1.0, -0.3, 0.0, 0.6, 1.0])
def test_panner_preserves_power(position):
    x = torch.randn(1, 1, 500, dtype=D)
    y = pan(x, position)
    torch.testing.assert_close(y.square().sum(-2), x.square().sum(-2))
    if position == -1.0:
        assert float(y[0, 1].abs().max()) < 1e-12


def test_stereo_width_mono_identity_and_side_scaling():
    x = torch.randn(2, 2, 400, dtype=D)
    torch.testing.assert_close(stereo_width(x, 1.0), x)
    mono = stereo_width(x, 0.0)
    torch.testing.assert_close(mono[:, 0], mono[:, 1])
    wide = stereo_width(x, 2.0)
    side = lambda s: (s[:, 0] - s[:, 1]) / 2  # noqa: E731
    torch.testing.assert_close(side(wide), 2 * side(x))


def test_tremolo_depth_and_rate():
    x = torch.ones(1, SR, dtype=D)
    y = tremolo(x, 4.0, 0.6, sample_rate=SR)[0]
    assert float(y.min()) == pytest.approx(0.4, abs=1e-6) and float(y[0]) == pytest.approx(1.0)
    assert float(y[SR // 4]) == pytest.approx(1.0, abs=1e-9)  # one period = 0.25 s
    torch.testing.assert_close(tremolo(x, 4.0, 0.0, sample_rate=SR), x)


def test_stereo_and_tremolo_gradcheck():
    x = torch.randn(1, 2, 20, dtype=D, requires_grad=True)
    w = torch.tensor([1.3], dtype=D, requires_grad=True)
    p = torch.tensor([0.2], dtype=D, requires_grad=True)
    assert gradcheck(lambda x, w: stereo_width(x, w), (x, w))
    assert gradcheck(lambda x, p: pan(x[:, :1], p), (x, p))
    r = torch.tensor([[3.0]], dtype=D, requires_grad=True)
    d = torch.tensor([[0.5]], dtype=D, requires_grad=True)
    assert gradcheck(lambda x, r, d: tremolo(x, r, d, sample_rate=100), (x, r, d))


def test_bad_effect_settings_get_clear_errors():
    with pytest.raises(ValueError, match="shape in"):
        distortion(torch.randn(1, 10), shape="fuzz")
    with pytest.raises(ValueError, match="stereo"):
        stereo_width(torch.randn(1, 3, 10), 1.0)
    with pytest.raises(ValueError, match=r"position in \[-1, 1\]"):
        pan(torch.randn(1, 1, 10), 2.0)
    with pytest.raises(ValueError, match="mix in"):
        distortion(torch.randn(1, 10), mix=1.5)
    with pytest.raises(ValueError, match="each peak"):
        parametric_eq(torch.randn(1, 10), sample_rate=SR, peaks=[(100.0, 3.0)])
    assert math.isfinite(float(distortion(torch.randn(1, 10)).abs().max()))
