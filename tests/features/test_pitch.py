"""f0: harmonic tones, vibrato, missing fundamentals, unvoiced frames, errors."""

from __future__ import annotations

import math

import pytest
import torch

from ddsp.features import f0


def _cents(a, b):
    return 1200 * torch.log2(torch.as_tensor(a) / torch.as_tensor(b))


def _harmonic_tone(f0_hz, sr, seconds=1.0, n=6, vibrato=0.0):
    t = torch.arange(int(sr * seconds), dtype=torch.float64) / sr
    inst = f0_hz * 2 ** (vibrato * torch.sin(2 * math.pi * 5 * t) / 12)
    phase = 2 * math.pi * torch.cumsum(inst, 0) / sr
    return sum(0.5 / k * torch.sin(k * phase) for k in range(1, n + 1) if k * f0_hz < sr / 2), inst


@pytest.mark.parametrize("sr", [8000, 16_000, 44_100, 96_000])
@pytest.mark.parametrize("pitch", [65.4, 196.0, 523.3, 1318.5])
def test_f0_of_harmonic_tones_within_5_cents_and_voiced(sr, pitch):
    if pitch > sr / 4 / 1.5:
        pytest.skip("above the analysis range at this rate")
    x, _ = _harmonic_tone(pitch, sr)
    hz, voicing = f0(x, sr, fmax_hz=min(2000.0, sr / 4))
    inner = slice(15, -15)
    # lags near 10 samples (f0 above 1/16 of the analysis rate) resolve to ~10 cents
    tol = 5 if pitch * 16 < min(sr, 16_000) else 12
    assert torch.all(_cents(hz[0, inner], pitch).abs() < tol)
    assert torch.all(voicing[0, inner] > 0.9)


def test_f0_tracks_vibrato_and_a_missing_fundamental():
    sr = 16_000
    x, inst = _harmonic_tone(220.0, sr, seconds=2.0, vibrato=0.5)
    hz, _ = f0(x, sr)
    want = inst[torch.round(torch.arange(hz.shape[1]) * sr / 250).long().clamp(max=len(inst) - 1)]
    assert _cents(hz[0, 20:-20], want[20:-20]).abs().median() < 5
    t = torch.arange(sr, dtype=torch.float64) / sr
    no_fundamental = sum(torch.sin(2 * math.pi * 150 * k * t) for k in (2, 3, 4, 5))
    hz, voicing = f0(no_fundamental, sr)
    assert _cents(hz[0, 20:-20], 150.0).abs().max() < 5 and voicing[0, 20:-20].min() > 0.9


def test_f0_calls_noise_and_silence_unvoiced_and_fills_gaps_with_the_next_note():
    sr = 16_000
    noise = torch.randn(sr, dtype=torch.float64) * 0.1
    assert f0(noise, sr)[1].max() < 0.5
    hz, voicing = f0(torch.zeros(sr), sr, fmin_hz=50.0)
    assert voicing.max() == 0 and torch.all(hz == 50.0)
    a, _ = _harmonic_tone(200.0, sr, 0.5)
    b, _ = _harmonic_tone(300.0, sr, 0.5)
    x = torch.cat([a, torch.zeros(sr // 2, dtype=torch.float64), b])
    hz, voicing = f0(x, sr)
    gap = slice(150, 220)
    assert voicing[0, gap].max() < 0.5
    assert torch.all((hz[0, gap] - 300).abs() < 2)  # the next note's pitch, not zero
    assert (hz[0, 240:] - 300).abs().max() < 2 and (hz[0, 20:100] - 200).abs().max() < 2


def test_f0_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="fmax_hz"):
        f0(torch.zeros(1000), 8000, fmax_hz=3000.0)
    with pytest.raises(ValueError, match="fmin_hz"):
        f0(torch.zeros(1000), 16_000, fmin_hz=0.0)
