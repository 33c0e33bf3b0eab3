"""The fused harmonic oscillator: twins vs reference, exact gradients, analytic oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ddsp.kernels.harmonic import harmonic_reference
from torch.autograd import gradcheck

from ddsp.functional import frame_interpolation, harmonic
from ddsp.functional._controls import upsample_frames
from tests.helpers import max_rel_err

D = torch.float64
# The reference integrates an unwrapped float64 phase (hundreds of cycles): its own
# rounding reaches ~1e-10 over 4097 samples, the kernel's wrapped phase stays finer.
PHASE_TOL = 1e-9


def reference(f0_frames, amps, sample_rate, n_samples, p0):
    if f0_frames.shape[1] == 1:
        f0 = f0_frames.expand(-1, n_samples)
    elif f0_frames.shape[1] == n_samples:
        f0 = f0_frames
    else:
        f0 = upsample_frames(f0_frames, n_samples)
    if amps.shape[1] == 1:
        amps = amps.expand(-1, 2, -1)
    index, weight, _ = frame_interpolation(amps.shape[1], n_samples)
    return harmonic_reference(f0, amps, index, weight, p0, sample_rate)


@pytest.mark.parametrize("n_t", [1, 2, 101, 4097])
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("n_frames,n_h", [(1, 1), (5, 8), (17, 60)])
def test_fused_kernel_matches_reference_values_and_gradients(n_t, n, n_frames, n_h):
    f0 = torch.rand(n, n_frames, dtype=D) * 2000 + 20  # some harmonics cross Nyquist
    amps = torch.rand(n, n_frames, n_h, dtype=D)
    p0 = torch.rand(n, dtype=D)
    leaves = [t.clone().requires_grad_() for t in (f0, amps, p0)]
    y = harmonic(*leaves[:2], sample_rate=16_000, n_samples=n_t, initial_phase=leaves[2])
    ref_leaves = [t.clone().requires_grad_() for t in (f0, amps, p0)]
    y_ref = reference(ref_leaves[0], ref_leaves[1], 16_000, n_t, ref_leaves[2])
    assert max_rel_err(y.detach(), y_ref.detach()) < PHASE_TOL
    g = torch.randn_like(y)
    y.backward(g)
    y_ref.backward(g)
    for got, want in zip(leaves, ref_leaves):
        # f0 gradients sum phase sensitivities over the whole signal: relative tolerance
        scale = float(want.grad.abs().max()) or 1.0
        assert float((got.grad - want.grad).abs().max()) / scale < 1e-9
    y32 = harmonic(f0.float(), amps.float(), sample_rate=16_000, n_samples=n_t, initial_phase=p0)
    assert y32.dtype == torch.float32
    # float32 against float64 on the same (float32-rounded) controls
    y64 = reference(f0.float().double(), amps.float().double(), 16_000, n_t, p0)
    assert max_rel_err(y32, y64) < 1e-5


@pytest.mark.parametrize("per_sample", [False, True])
def test_gradcheck_in_f0_amplitudes_and_phase(per_sample):
    n_t = 40
    f0 = torch.rand(2, n_t if per_sample else 4, dtype=D) * 1500 + 100
    amps = torch.rand(2, 3, 6, dtype=D)
    p0 = torch.rand(2, dtype=D)
    leaves = [t.requires_grad_() for t in (f0, amps, p0)]

    def f(f0, amps, p0):
        return harmonic(
            f0, amps, sample_rate=8000, n_samples=n_t, initial_phase=p0, return_phase=True
        )

    assert gradcheck(f, leaves, atol=1e-7)


def test_constant_f0_matches_exact_sinusoids_and_is_silent_above_nyquist():
    sr, n_t, f0 = 16_000, 4000, 1234.5
    amps = torch.tensor([0.5, 0.25, 0.125, 0.1, 0.1, 0.1, 0.1], dtype=D)  # h = 7 > Nyquist/f0
    y = harmonic(
        torch.full((1, 3), f0, dtype=D), amps.expand(1, 3, 7), sample_rate=sr, n_samples=n_t
    )
    t = torch.arange(n_t, dtype=D) / sr
    want = sum(
        amps[h - 1] * torch.sin(2 * math.pi * h * f0 * t) for h in range(1, 7) if h * f0 < sr / 2
    )
    assert float((y[0] - want).abs().max()) < 1e-11


def test_fft_peak_at_the_set_frequency_and_no_energy_above_nyquist():
    sr, n_t = 16_000, 16_000
    amps = (1.0 / torch.arange(1, 41)).expand(1, 2, 40)  # a saw-like 1/h spectrum
    y = harmonic(torch.full((1, 2), 440.0), amps, sample_rate=sr, n_samples=n_t)
    spec = np.abs(np.fft.rfft(y[0].double().numpy() * np.hanning(n_t)))
    freqs = np.fft.rfftfreq(n_t, 1 / sr)
    assert freqs[np.argmax(spec)] == pytest.approx(440.0, abs=1.0)
    # harmonics 1..18 are below 8 kHz (18 * 440 = 7920); nothing may alias back in between
    partials = np.zeros_like(spec, dtype=bool)
    for h in range(1, 19):
        partials |= np.abs(freqs - 440.0 * h) < 10
    assert spec[~partials].max() < 1e-3 * spec.max()


@pytest.mark.slow
def test_phase_stays_exact_over_ten_minutes_at_48khz():
    sr, minutes = 48_000, 10
    n_t = sr * 60 * minutes
    y, phase = harmonic(
        torch.full((1, 2), 440.0),
        torch.ones(1, 2, 1),
        sample_rate=sr,
        n_samples=n_t,
        return_phase=True,
    )
    tail = torch.arange(n_t - 4800, n_t, dtype=D)
    exact = torch.sin(2 * math.pi * torch.remainder(440.0 * tail / sr, 1.0))
    assert float((y[0, -4800:].double() - exact).abs().max()) < 1e-3
    drift = (float(phase[0]) - math.fmod(440.0 * n_t / sr, 1.0) + 0.5) % 1.0 - 0.5
    assert abs(drift) < 1e-8  # cycles, after 26.4 million periods


def test_blocks_with_carried_phase_equal_one_pass():
    f0 = torch.full((2, 1000), 300.0, dtype=D) + torch.linspace(0, 200, 1000, dtype=D)
    amps = torch.rand(2, 1, 5, dtype=D).expand(2, 1000, 5)
    whole = harmonic(f0, amps, sample_rate=8000, n_samples=1000)
    y1, ph = harmonic(
        f0[:, :400], amps[:, :400], sample_rate=8000, n_samples=400, return_phase=True
    )
    y2 = harmonic(f0[:, 400:], amps[:, 400:], sample_rate=8000, n_samples=600, initial_phase=ph)
    torch.testing.assert_close(torch.cat([y1, y2], 1), whole, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: harmonic(
                torch.ones(2, 5) * 100, torch.ones(2, 5), sample_rate=8000, n_samples=10
            ),
            "amplitudes",
        ),
        (
            lambda: harmonic(
                torch.ones(2, 5) * 100, torch.ones(3, 5, 2), sample_rate=8000, n_samples=10
            ),
            "batch 2",
        ),
        (
            lambda: harmonic(
                torch.full((1, 5), -1.0), torch.ones(1, 5, 2), sample_rate=8000, n_samples=10
            ),
            "f0_hz in",
        ),
        (
            lambda: harmonic(
                torch.full((1, 5), math.nan), torch.ones(1, 5, 2), sample_rate=8000, n_samples=10
            ),
            "finite",
        ),
        (
            lambda: harmonic(torch.ones(1, 5), torch.ones(1, 5, 2), sample_rate=8000, n_samples=0),
            "n_samples",
        ),
        (
            lambda: harmonic(
                torch.ones(1, 5), torch.ones(1, 5, 2, dtype=D), sample_rate=8000, n_samples=4
            ),
            "dtype",
        ),
    ],
)
def test_bad_controls_get_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_window_amplitude_interpolation_matches_reference_with_cosine_weights():
    f0 = torch.full((2, 4), 300.0, dtype=D)
    amps = torch.rand(2, 4, 5, dtype=D)
    y = harmonic(f0, amps, sample_rate=8000, n_samples=400, amplitude_interpolation="window")
    index, weight, _ = frame_interpolation(4, 400, method="window")
    y_ref = harmonic_reference(
        f0[:, :1].expand(2, 400), amps, index, weight, torch.zeros(2, dtype=D), 8000
    )
    assert max_rel_err(y, y_ref) < PHASE_TOL
    linear = harmonic(f0, amps, sample_rate=8000, n_samples=400)
    assert float((y - linear).abs().max()) > 1e-3  # a different (smooth) interpolation
