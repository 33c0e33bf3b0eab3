"""Band-limited waveforms, FM and wavetable oscillators."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ddsp.functional import (
    filtered_noise,
    fm,
    frequency_filter,
    oscillator,
    wavetable,
)

D = torch.float64


def aliasing_db(y: np.ndarray, f0: float, sr: int) -> float:
    """Energy off the harmonics of f0 relative to the energy on them, in dB."""
    n = len(y)
    spec = np.abs(np.fft.rfft(y * np.blackman(n))) ** 2
    freqs = np.fft.rfftfreq(n, 1 / sr)
    on = np.zeros_like(spec, dtype=bool)
    for k in range(1, int(sr / 2 / f0) + 1):
        on |= np.abs(freqs - k * f0) < 30
    return 10 * np.log10(spec[~on].sum() / spec[on].sum())


def test_flat_magnitudes_pass_the_signal_and_a_lowpass_removes_the_top():
    x = torch.randn(2, 4000, dtype=D)
    torch.testing.assert_close(
        frequency_filter(x, torch.ones(2, 10, 65, dtype=D)), x, atol=1e-9, rtol=0
    )
    mags = torch.zeros(1, 20, 65, dtype=D)
    mags[..., :16] = 1.0  # pass below a quarter of Nyquist
    y = filtered_noise(mags, 48_000, seed=0)[0].numpy()
    spec = np.abs(np.fft.rfft(y)) ** 2
    frac = np.linspace(0, 1, len(spec))
    assert 10 * np.log10(spec[frac > 0.4].mean() / spec[frac < 0.2].mean()) < -40


@pytest.mark.parametrize("shape", ["saw", "square", "pulse", "triangle"])
def test_band_limited_waveforms_alias_at_least_40db_less_than_naive(shape):
    sr, n, f0 = 48_000, 48_000, 2010.0  # 2 kHz, detuned so aliases fall between harmonics
    y = oscillator(
        torch.full((1, 2), f0, dtype=D), sample_rate=sr, n_samples=n, shape=shape, width=0.3
    )
    p = np.mod(f0 * np.arange(n) / sr, 1.0)
    naive = {
        "saw": 2 * p - 1,
        "square": np.where(p < 0.5, 1.0, -1.0),
        "pulse": np.where(p < 0.3, 1.0, -1.0),
        "triangle": 1 - 4 * np.abs(p - 0.5),
    }[shape]
    assert aliasing_db(y[0].numpy(), f0, sr) < aliasing_db(naive, f0, sr) - 40


def test_waveform_gradients_for_f0_width_and_amplitude_are_usable():
    f0 = torch.full((1, 4), 300.0, dtype=D, requires_grad=True)
    width = torch.full((1, 4), 0.3, dtype=D, requires_grad=True)
    amp = torch.tensor([0.8], dtype=D, requires_grad=True)
    y = oscillator(
        f0, sample_rate=16_000, n_samples=4000, shape="pulse", width=width, amplitude=amp
    )
    target = oscillator(
        torch.full((1, 4), 300.0, dtype=D),
        sample_rate=16_000,
        n_samples=4000,
        shape="pulse",
        width=0.4,
    )
    (y - target).square().sum().backward()
    for t in (f0, width, amp):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    assert float(width.grad.sum()) < 0  # widening towards 0.4 lowers the loss


def test_fm_matches_its_closed_form():
    sr, n = 16_000, 1600
    y = fm(
        torch.full((1, 2), 440.0, dtype=D),
        sample_rate=sr,
        n_samples=n,
        ratio=1.5,
        index=2.0,
        amplitude=0.5,
    )
    t = torch.arange(n, dtype=D) / sr
    want = 0.5 * torch.sin(2 * math.pi * 440 * t + 2.0 * torch.sin(2 * math.pi * 660 * t))
    assert float((y[0] - want).abs().max()) < 1e-9


def test_wavetable_plays_its_table_band_limited_and_learns():
    sr, n = 16_000, 16_000
    sine = torch.sin(2 * math.pi * torch.arange(256, dtype=D) / 256)
    y = wavetable(torch.full((1, 2), 250.0, dtype=D), sine, sample_rate=sr, n_samples=n)
    t = torch.arange(n, dtype=D) / sr
    assert float((y[0] - torch.sin(2 * math.pi * 250 * t)).abs().max()) < 2e-3  # linear interp
    saw = torch.linspace(-1, 1, 1024, dtype=D)
    y = wavetable(torch.full((1, 2), 2010.0, dtype=D), saw, sample_rate=48_000, n_samples=48_000)
    p = np.mod(2010.0 * np.arange(48_000) / 48_000, 1.0)
    assert aliasing_db(y[0].numpy(), 2010.0, 48_000) < aliasing_db(2 * p - 1, 2010.0, 48_000) - 30
    table = torch.zeros(64, dtype=D, requires_grad=True)
    wavetable(
        torch.full((1, 2), 100.0, dtype=D), table, sample_rate=8000, n_samples=800
    ).sum().backward()
    assert torch.isfinite(table.grad).all() and table.grad.abs().sum() > 0
