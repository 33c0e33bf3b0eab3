"""The sinusoidal bank (free frequencies) and the windowed control upsampling."""

from __future__ import annotations

import math

import pytest
import torch
from ddsp.kernels.sinusoidal import sinusoidal_reference
from torch.autograd import gradcheck

from ddsp.functional import frame_interpolation, sinusoidal
from ddsp.functional._controls import upsample_frames
from tests.helpers import max_rel_err

D = torch.float64


@pytest.mark.parametrize("n_t", [1, 2, 101, 4097])
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("n_frames,n_k", [(1, 1), (5, 4), (33, 12)])
def test_fused_kernel_matches_reference_values_and_gradients(n_t, n, n_frames, n_k):
    f = torch.rand(n, n_frames, n_k, dtype=D) * 9000  # some above Nyquist (8 kHz)
    a = torch.rand(n, n_frames, n_k, dtype=D)
    p0 = torch.rand(n, n_k, dtype=D)
    leaves = [t.clone().requires_grad_() for t in (f, a, p0)]
    y = sinusoidal(leaves[0], leaves[1], sample_rate=16_000, n_samples=n_t, initial_phase=leaves[2])
    ref = [t.clone().requires_grad_() for t in (f, a, p0)]
    fr, ar = ref[0], ref[1]
    if n_frames == 1:
        fr, ar = fr.expand(-1, 2, -1), ar.expand(-1, 2, -1)
    index, weight, _ = frame_interpolation(fr.shape[1], n_t)
    y_ref = sinusoidal_reference(fr, ar, index, weight, ref[2], 16_000)
    assert max_rel_err(y.detach(), y_ref.detach()) < 1e-9
    g = torch.randn_like(y)
    y.backward(g)
    y_ref.backward(g)
    for got, want in zip(leaves, ref):
        scale = float(want.grad.abs().max()) or 1.0
        assert float((got.grad - want.grad).abs().max()) / scale < 1e-8


def test_gradcheck_including_final_phases():
    f = (torch.rand(2, 4, 3, dtype=D) * 3000).requires_grad_()
    a = torch.rand(2, 4, 3, dtype=D, requires_grad=True)
    p0 = torch.rand(2, 3, dtype=D, requires_grad=True)

    def fn(f, a, p0):
        return sinusoidal(f, a, sample_rate=8000, n_samples=30, initial_phase=p0, return_phase=True)

    assert gradcheck(fn, (f, a, p0), atol=1e-7)


def test_constant_partials_are_exact_and_nyquist_partials_silent():
    sr, n_t = 16_000, 3000
    f = torch.tensor([[[440.0, 1234.5, 8000.0, 9000.0]]], dtype=D).expand(1, 2, 4)
    a = torch.tensor([[[0.5, 0.25, 1.0, 1.0]]], dtype=D).expand(1, 2, 4)
    y = sinusoidal(f, a, sample_rate=sr, n_samples=n_t)
    t = torch.arange(n_t, dtype=D) / sr
    want = 0.5 * torch.sin(2 * math.pi * 440 * t) + 0.25 * torch.sin(2 * math.pi * 1234.5 * t)
    assert float((y[0] - want).abs().max()) < 1e-10


def test_blocks_with_carried_phases_equal_one_pass():
    f = torch.rand(2, 600, 3, dtype=D) * 2000
    a = torch.rand(2, 600, 3, dtype=D)
    whole = sinusoidal(f, a, sample_rate=8000, n_samples=600)
    y1, ph = sinusoidal(f[:, :250], a[:, :250], sample_rate=8000, n_samples=250, return_phase=True)
    y2 = sinusoidal(f[:, 250:], a[:, 250:], sample_rate=8000, n_samples=350, initial_phase=ph)
    torch.testing.assert_close(torch.cat([y1, y2], 1), whole, rtol=0, atol=1e-12)


def test_window_upsampling_equals_overlap_added_hann_windows():
    frames = torch.randn(2, 6, dtype=D)
    hop = 40
    n_t = hop * (frames.shape[-1] - 1) + 1
    got = upsample_frames(frames, n_t, method="window")
    t = torch.arange(n_t, dtype=D)
    want = torch.zeros(2, n_t, dtype=D)
    for i in range(frames.shape[-1]):  # Hann window of two hops centred on each frame
        d = (t - i * hop) / hop
        win = torch.where(d.abs() < 1, torch.cos(math.pi * d / 2) ** 2, torch.zeros_like(d))
        want += frames[:, i : i + 1] * win
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="method"):
        upsample_frames(frames, n_t, method="cubic")
