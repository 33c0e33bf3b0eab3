"""Convolution reverbs: decay rate, numpy agreement, learning, measured IRs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ddsp

D = torch.float64


SR = 48_000


@pytest.mark.parametrize("rt60", [0.3, 1.0, 2.5])
def test_noise_reverb_decays_at_the_set_rate(rt60):
    from ddsp.functional import noise_reverb_ir, rt60_from_ir

    ir = noise_reverb_ir(rt60, int(SR * rt60 * 1.5), sample_rate=SR, high_rt60_ratio=1.0)
    assert float(rt60_from_ir(ir[0], sample_rate=SR)) == pytest.approx(rt60, rel=0.1)
    module = ddsp.NoiseReverb(
        SR, max_seconds=rt60 * 1.5, rt60_s=rt60, pre_delay_ms=0.0, high_rt60_ratio=1.0
    )
    assert float(rt60_from_ir(module.impulse_response().detach(), sample_rate=SR)) == pytest.approx(
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

    noise_reverb_ir(rt, 4800, sample_rate=SR).square().mul(
        torch.linspace(0, 1, 4800)
    ).sum().backward()
    assert torch.isfinite(rt.grad).all() and float(rt.grad.abs()) > 0


def test_measured_ir_loads_resampled_and_bad_files_fail_clearly(tmp_path):
    import soundfile as sf

    from ddsp.functional import load_impulse_response

    ir = np.exp(-np.arange(2205) / 300.0) * np.random.default_rng(0).standard_normal(2205)
    sf.write(tmp_path / "ir.wav", np.stack([ir, ir * 0.5], 1).astype(np.float32), 22_050)
    loaded = load_impulse_response(str(tmp_path / "ir.wav"), sample_rate=44_100)
    assert loaded.shape == (2, 4410)
    rev = ddsp.ConvolutionReverb(44_100).load(str(tmp_path / "ir.wav"))
    assert rev.ir.shape == (4410,)
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="cannot read impulse response"):
        load_impulse_response(str(tmp_path / "bad.wav"), sample_rate=44_100)
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 44_100)
    with pytest.raises(ValueError, match="empty"):
        load_impulse_response(str(tmp_path / "empty.wav"), sample_rate=44_100)


def test_streamed_convolution_gradients_through_long_blocks():
    """A block that fills several partitions writes the delay line several times: the
    IR's gradient must see each write (no in-place change of what autograd saved)."""
    from ddsp.functional.reverb import convolution_state, convolve_blocks, ir_partitions

    ir = torch.randn(700, dtype=torch.float64, requires_grad=True)
    x = torch.randn(1, 2000, dtype=torch.float64)
    state = convolution_state((1,), 700, 64, dtype=torch.float64, device=None)
    y, _ = convolve_blocks(x, *ir_partitions(ir, 64), state)
    (g,) = torch.autograd.grad(y.square().sum(), ir)
    want = torch.nn.functional.conv1d(
        torch.nn.functional.pad(x, (699, 0))[None], ir.flip(0)[None, None]
    )[0]
    (g_want,) = torch.autograd.grad(want.square().sum(), ir)
    assert torch.allclose(y, want, atol=1e-9)
    assert torch.allclose(g, g_want, rtol=1e-8, atol=1e-8)
