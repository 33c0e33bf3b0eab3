"""EQ, distortion, panner, width and tremolo against their definitions."""

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
            SR,
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
    y = tremolo(x, SR, 4.0, 0.6)[0]
    assert float(y.min()) == pytest.approx(0.4, abs=1e-6) and float(y[0]) == pytest.approx(1.0)
    assert float(y[SR // 4]) == pytest.approx(1.0, abs=1e-9)  # one period = 0.25 s
    torch.testing.assert_close(tremolo(x, SR, 4.0, 0.0), x)


def test_stereo_and_tremolo_gradcheck():
    x = torch.randn(1, 2, 20, dtype=D, requires_grad=True)
    w = torch.tensor([1.3], dtype=D, requires_grad=True)
    p = torch.tensor([0.2], dtype=D, requires_grad=True)
    assert gradcheck(lambda x, w: stereo_width(x, w), (x, w))
    assert gradcheck(lambda x, p: pan(x[:, :1], p), (x, p))
    r = torch.tensor([[3.0]], dtype=D, requires_grad=True)
    d = torch.tensor([[0.5]], dtype=D, requires_grad=True)
    assert gradcheck(lambda x, r, d: tremolo(x, 100, r, d), (x, r, d))


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
        parametric_eq(torch.randn(1, 10), SR, peaks=[(100.0, 3.0)])
    assert math.isfinite(float(distortion(torch.randn(1, 10)).abs().max()))


def test_delay_kernel_matches_the_reference_values_and_gradients():
    from ddsp.kernels.delay import delay_reference

    from ddsp.ops import FeedbackDelay

    for tv in (False, True):
        x = torch.randn(2, 60, dtype=D)
        d = torch.rand(2, 60 if tv else 1, dtype=D) * 9 + 1.0
        fb = torch.rand(2, 60 if tv else 1, dtype=D) * 1.6 - 0.8
        leaves = [t.clone().requires_grad_() for t in (x, d, fb)]
        y = FeedbackDelay.apply(*leaves)
        ref = [t.clone().requires_grad_() for t in (x, d, fb)]
        y_ref = delay_reference(*ref)
        torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-12)
        g = torch.randn_like(y)
        y.backward(g)
        y_ref.backward(g)
        for a, b in zip(leaves, ref):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-10)


def test_delay_shifts_by_exactly_the_set_samples_and_echoes_decay_by_the_feedback():
    x = torch.zeros(1, 200, dtype=D)
    x[0, 3] = 1.0
    y = ddsp.functional.delay(x, 1000, 37.0, mix=1.0)  # 37 ms at 1 kHz: 37 samples
    assert int(y.abs().argmax()) == 40 and float(y.abs().sum()) == pytest.approx(1.0)
    echo = ddsp.functional.delay(x, 1000, 50.0, feedback=-0.5, mix=1.0)[0]
    assert [float(echo[3 + 50 * k]) for k in (1, 2, 3)] == pytest.approx([1.0, -0.5, 0.25])
    half = ddsp.functional.delay(x, 1000, 10.5, mix=1.0)[0]  # between samples: linear split
    assert float(half[13]) == pytest.approx(0.5) and float(half[14]) == pytest.approx(0.5)


def test_delay_and_chorus_gradcheck_in_time_feedback_and_mix():
    x = torch.randn(1, 40, dtype=D, requires_grad=True)
    ms = torch.tensor([7.3], dtype=D, requires_grad=True)
    fb = torch.tensor([0.4], dtype=D, requires_grad=True)
    mix = torch.tensor([0.6], dtype=D, requires_grad=True)
    assert gradcheck(
        lambda x, ms, fb, mix: ddsp.functional.delay(x, 1000, ms, feedback=fb, mix=mix),
        (x, ms, fb, mix),
    )
    rate = torch.tensor([[30.0]], dtype=D, requires_grad=True)
    depth = torch.tensor([[2.0]], dtype=D, requires_grad=True)

    def swept(x, r, dp):
        return ddsp.functional.chorus(x[None], 1000, rate_hz=r, depth_ms=dp, centre_ms=6.37)[0]

    # linear interpolation has kinks at whole-sample delays: tiny steps avoid straddling one
    assert gradcheck(swept, (x, rate, depth), eps=1e-9, atol=1e-5)


def test_chorus_rejects_a_sweep_below_one_sample():
    with pytest.raises(ValueError, match="one sample"):
        ddsp.functional.chorus(torch.randn(1, 100), 1000, depth_ms=5.0, centre_ms=4.0)


@pytest.mark.parametrize("rt60", [0.3, 1.0, 2.5])
def test_noise_reverb_decays_at_the_set_rate(rt60):
    from ddsp.functional import noise_reverb_ir, rt60_from_ir

    ir = noise_reverb_ir(rt60, int(SR * rt60 * 1.5), SR, high_rt60_ratio=1.0)
    assert float(rt60_from_ir(ir[0], SR)) == pytest.approx(rt60, rel=0.1)
    module = ddsp.NoiseReverb(
        SR, max_seconds=rt60 * 1.5, rt60_s=rt60, pre_delay_ms=0.0, high_rt60_ratio=1.0
    )
    assert float(rt60_from_ir(module.impulse_response().detach(), SR)) == pytest.approx(
        rt60, rel=0.1
    )


def test_convolution_matches_numpy_and_learns():
    from ddsp.functional import convolution_reverb

    x = torch.randn(2, 500, dtype=D)
    ir = torch.randn(64, dtype=D, requires_grad=True)
    y = convolution_reverb(x, ir, mix=1.0)
    want = np.stack([np.convolve(x[i].numpy(), ir.detach().numpy())[:500] for i in range(2)])
    np.testing.assert_allclose(y.detach().numpy(), want, atol=1e-10)
    y.square().sum().backward()
    assert torch.isfinite(ir.grad).all() and ir.grad.abs().sum() > 0
    rt = torch.tensor([0.8], requires_grad=True)
    from ddsp.functional import noise_reverb_ir

    noise_reverb_ir(rt, 4800, SR).square().mul(torch.linspace(0, 1, 4800)).sum().backward()
    assert torch.isfinite(rt.grad).all() and float(rt.grad.abs()) > 0


def test_measured_ir_loads_resampled_and_bad_files_fail_clearly(tmp_path):
    import soundfile as sf

    from ddsp.functional import load_impulse_response

    ir = np.exp(-np.arange(2205) / 300.0) * np.random.default_rng(0).standard_normal(2205)
    sf.write(tmp_path / "ir.wav", np.stack([ir, ir * 0.5], 1).astype(np.float32), 22_050)
    loaded = load_impulse_response(str(tmp_path / "ir.wav"), 44_100)
    assert loaded.shape == (2, 4410)
    rev = ddsp.ConvolutionReverb(44_100).load(str(tmp_path / "ir.wav"))
    assert rev.ir.shape == (4410,)
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="cannot read impulse response"):
        load_impulse_response(str(tmp_path / "bad.wav"), 44_100)
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 44_100)
    with pytest.raises(ValueError, match="empty"):
        load_impulse_response(str(tmp_path / "empty.wav"), 44_100)
