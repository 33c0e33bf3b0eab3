"""Loudness: A-weighting, power averaging, a frame-by-frame reference, silence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ddsp.features import a_weighting_db, default_n_fft, loudness


def _sine(freq, amp, sr, seconds=1.0, dtype=torch.float64):
    t = torch.arange(int(sr * seconds), dtype=dtype) / sr
    return amp * torch.sin(2 * math.pi * freq * t)


def test_a_weighting_matches_the_standard_table():
    got = a_weighting_db(torch.tensor([100.0, 1000.0, 10_000.0, 31.5]))
    want = torch.tensor([-19.1, 0.0, -2.5, -39.4], dtype=torch.float64)
    assert torch.allclose(got, want, atol=0.15)  # the table is rounded to 0.1 dB


@pytest.mark.parametrize("sr", [8000, 16_000, 44_100, 48_000])
@pytest.mark.parametrize("freq,amp", [(1000.0, 1.0), (250.0, 0.3), (3000.0, 0.05)])
def test_loudness_of_a_steady_sine_is_its_a_weighted_power(sr, freq, amp):
    x = _sine(freq, amp, sr)
    got = loudness(x, sr)[0]
    edge = math.ceil(default_n_fft(sr) / 2 / (sr / 250)) + 1  # frames touching the padding
    want = 10 * math.log10(amp**2 / 2) + float(a_weighting_db(torch.tensor(freq)))
    assert torch.allclose(got[edge:-edge], torch.full_like(got[edge:-edge], want), atol=0.05)


def test_loudness_averages_power_not_db_across_frequency():
    sr = 16_000
    two = _sine(1000.0, 1.0, sr) + _sine(3000.0, 0.01, sr)  # the quiet tone adds ~nothing
    got = loudness(two, sr)[0, 40:-40].mean()
    want = 10 * math.log10(
        0.5 + 0.01**2 / 2 * 10 ** (float(a_weighting_db(torch.tensor(3000.0))) / 10)
    )
    assert abs(float(got) - want) < 0.05


def test_loudness_matches_a_direct_frame_by_frame_reference_at_a_fractional_hop():
    sr, rate, n_fft = 44_100, 250.0, 1024
    x = torch.randn(2, 9000, dtype=torch.float64) * 0.1
    got = loudness(x, sr, rate, n_fft=n_fft).numpy()
    xn = x.numpy()
    w = np.hanning(n_fft + 1)[:-1]
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    weight = 10 ** (a_weighting_db(torch.from_numpy(freqs)).numpy() / 10)
    n = math.ceil(9000 * rate / sr)
    assert got.shape == (2, n)
    for b in range(2):
        padded = np.concatenate([np.zeros(n_fft // 2), xn[b], np.zeros(n_fft)])
        for i in range(n):
            c = round(i * sr / rate)
            spec = np.abs(np.fft.fft(padded[c : c + n_fft] * w)) ** 2
            two_sided = np.concatenate([weight, weight[1:-1][::-1]])
            ms = (spec * two_sided).sum() / (n_fft * (w**2).sum())
            assert abs(got[b, i] - 10 * np.log10(ms + 1e-12)) < 1e-6


def test_loudness_of_silence_is_the_floor_with_finite_gradients():
    x = torch.zeros(2, 4000, requires_grad=True)
    y = loudness(x, 16_000, floor_db=-100.0)
    assert torch.allclose(y, torch.full_like(y, -100.0))
    y.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_loudness_frame_count_and_layouts():
    assert loudness(torch.zeros(64_000), 16_000).shape == (1, 1000)
    assert loudness(torch.zeros(3, 2, 48_000), 48_000, 100).shape == (3, 100)
    with pytest.raises(ValueError, match="shape"):
        loudness(torch.zeros(1, 1, 1, 100), 16_000)
    with pytest.raises(ValueError, match="NaN"):
        loudness(torch.tensor([0.0, float("nan")] * 100), 16_000)
