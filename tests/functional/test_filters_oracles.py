"""Filters against scipy.signal and against acoustics: levels at cutoff, DC gain, stability."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from ddsp.functional import (
    BIQUAD_KINDS,
    allpole,
    biquad,
    biquad_coefficients,
    check_stable,
    lfilter,
    svf,
)
from tests.helpers import stable_poles

SAMPLE_RATES = [16_000, 44_100, 48_000]


def level_db(x: torch.Tensor) -> float:
    return 20 * math.log10(float(x.double().pow(2).mean().sqrt()))


def sine(freq_hz: float, sample_rate: int, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(seconds * sample_rate), dtype=torch.float64) / sample_rate
    return torch.sin(2 * math.pi * freq_hz * t)


@pytest.mark.parametrize("order", [1, 2, 7])
def test_static_allpole_matches_scipy_lfilter(order):
    x = torch.randn(3, 2000, dtype=torch.float64)
    a = stable_poles(3, 1, order)[:, 0]
    y = allpole(x, a)
    for i in range(3):
        want = scipy.signal.lfilter([1.0], np.r_[1.0, a[i].numpy()], x[i].numpy())
        np.testing.assert_allclose(y[i].numpy(), want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("n_b,n_a", [(1, 3), (3, 3), (5, 2), (4, 1), (2, 9)])
def test_static_lfilter_matches_scipy_including_a0(n_b, n_a):
    x = torch.randn(2, 3000, dtype=torch.float64)
    a0 = 2.5
    a = torch.cat([torch.ones(1, dtype=torch.float64), stable_poles(1, 1, n_a - 1)[0, 0]]) * a0
    b = torch.randn(n_b, dtype=torch.float64)
    y = lfilter(x, b, a)
    want = scipy.signal.lfilter(b.numpy(), a.numpy(), x.numpy(), axis=-1)
    np.testing.assert_allclose(y.numpy(), want, rtol=0, atol=1e-10)


def test_biquad_cascade_matches_scipy_sosfilt():
    x = torch.randn(4, 5000, dtype=torch.float64)
    sections = [
        ("lowpass", 3000.0, 0.9, 0.0),
        ("peaking", 800.0, 2.0, 6.0),
        ("highshelf", 6000.0, 0.7, -4.0),
    ]
    y = x
    sos = []
    for kind, fc, q, gain in sections:
        y = biquad(y, kind, fc, q, gain, sample_rate=44_100)
        b, a = biquad_coefficients(kind, fc, q, gain, sample_rate=44_100)
        sos.append(np.r_[b.numpy(), a.numpy()])
    want = scipy.signal.sosfilt(np.array(sos), x.numpy(), axis=-1)
    np.testing.assert_allclose(y.numpy(), want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
@pytest.mark.parametrize("cutoff_hz", [100.0, 1000.0, 5000.0])
def test_lowpass_is_3db_down_at_cutoff_and_unity_at_dc(sample_rate, cutoff_hz):
    b, a = biquad_coefficients("lowpass", cutoff_hz, 1 / math.sqrt(2), sample_rate=sample_rate)
    _, h = scipy.signal.freqz(b.numpy(), a.numpy(), worN=[0.0, cutoff_hz], fs=sample_rate)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(0.0, abs=1e-9)
    assert 20 * np.log10(abs(h[1])) == pytest.approx(-3.0103, abs=1e-3)
    # and on sound: a sine at the cutoff comes out 3 dB down (after the transient)
    x = sine(cutoff_hz, sample_rate)
    y = biquad(x, "lowpass", cutoff_hz, 1 / math.sqrt(2), sample_rate=sample_rate)
    tail = slice(sample_rate // 2, None)
    assert level_db(y[tail]) - level_db(x[tail]) == pytest.approx(-3.0103, abs=0.05)


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_highpass_is_3db_down_at_cutoff_and_unity_at_nyquist(sample_rate):
    b, a = biquad_coefficients("highpass", 2000.0, 1 / math.sqrt(2), sample_rate=sample_rate)
    _, h = scipy.signal.freqz(b.numpy(), a.numpy(), worN=[2000.0, sample_rate / 2], fs=sample_rate)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(-3.0103, abs=1e-3)
    assert abs(h[1]) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
@pytest.mark.parametrize("gain_db", [-12.0, 6.0])
def test_peak_and_shelves_reach_their_set_gain(sample_rate, gain_db):
    fc = 1000.0
    cases = {"peaking": fc, "lowshelf": 0.0, "highshelf": sample_rate / 2}
    for kind, at_hz in cases.items():
        b, a = biquad_coefficients(kind, fc, 0.8, gain_db, sample_rate=sample_rate)
        _, h = scipy.signal.freqz(b.numpy(), a.numpy(), worN=[at_hz], fs=sample_rate)
        assert 20 * np.log10(abs(h[0])) == pytest.approx(gain_db, abs=1e-6), kind


def test_notch_allpass_and_bandpass_responses():
    sr, fc = 48_000, 3000.0
    freqs = [100.0, fc, 15_000.0]
    _, h = scipy.signal.freqz(
        *[t.numpy() for t in biquad_coefficients("notch", fc, 2.0, sample_rate=sr)],
        worN=[fc],
        fs=sr,
    )
    assert abs(h[0]) < 1e-9
    _, h = scipy.signal.freqz(
        *[t.numpy() for t in biquad_coefficients("allpass", fc, 2.0, sample_rate=sr)],
        worN=freqs,
        fs=sr,
    )
    np.testing.assert_allclose(abs(h), 1.0, atol=1e-9)
    _, h = scipy.signal.freqz(
        *[t.numpy() for t in biquad_coefficients("bandpass", fc, 2.0, sample_rate=sr)],
        worN=freqs,
        fs=sr,
    )
    assert abs(h[1]) == pytest.approx(1.0, abs=1e-9)
    assert abs(h[0]) < 0.1 and abs(h[2]) < 0.1


@pytest.mark.parametrize("kind", BIQUAD_KINDS)
def test_designs_never_place_a_pole_outside_the_unit_circle(kind):
    sr = 48_000.0
    fc = torch.tensor(
        [1e-3, 1.0, 20.0, 1000.0, 10_000.0, 23_999.0, sr / 2 - 1e-3], dtype=torch.float64
    )
    q = torch.tensor([1e-3, 0.1, 0.707, 10.0, 1000.0], dtype=torch.float64)
    gain = torch.tensor([-60.0, 0.0, 60.0], dtype=torch.float64)
    grid = torch.meshgrid(fc, q, gain, indexing="ij")
    _, a = biquad_coefficients(kind, *grid, sample_rate=sr)
    check_stable(a[..., 1:])  # raises on any pole with |z| >= 1


def test_unstable_coefficients_get_a_clear_error_when_checked():
    a = torch.tensor([-2.5, 1.2])  # poles at 1.25 +- ...: outside
    with pytest.raises(ValueError, match="stable.*unstable coefficient set.*radius"):
        check_stable(a)
    with pytest.raises(ValueError, match="unstable"):
        allpole(torch.randn(1, 10), a, check_stability=True)
    with pytest.raises(ValueError, match="unstable"):
        lfilter(
            torch.randn(1, 10),
            torch.tensor([1.0]),
            torch.tensor([1.0, -2.5, 1.2]),
            check_stability=True,
        )


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_svf_lowpass_is_3db_down_at_cutoff_with_butterworth_resonance(sample_rate):
    fc = 1500.0
    res = 1 - math.sqrt(2) / 2  # k = sqrt(2), Q = 1/sqrt(2)
    x = sine(fc, sample_rate)
    y = svf(x, fc, res, sample_rate=sample_rate)
    tail = slice(sample_rate // 2, None)
    assert level_db(y[tail]) - level_db(x[tail]) == pytest.approx(-3.0103, abs=0.05)
    dc = svf(torch.ones(sample_rate, dtype=torch.float64), fc, res, sample_rate=sample_rate)
    assert float(dc[-1]) == pytest.approx(1.0, abs=1e-9)
    hp = svf(
        torch.ones(sample_rate, dtype=torch.float64),
        fc,
        res,
        sample_rate=sample_rate,
        mode="highpass",
    )
    assert abs(float(hp[-1])) < 1e-9


def test_svf_matches_bilinear_biquad_when_static():
    """A static TPT SVF is the bilinear transform of the analogue prototype: RBJ's design."""
    sr, fc, res = 48_000, 2000.0, 0.6
    q = 1 / (2 * (1 - res))
    x = torch.randn(2, 4000, dtype=torch.float64)
    for mode in ("lowpass", "highpass", "bandpass", "notch"):
        y = svf(x, fc, res, sample_rate=sr, mode=mode)
        if mode == "bandpass":  # SVF bandpass peaks at 1/k = Q; RBJ's constant-0dB one at 1
            ref = biquad(x, "bandpass", fc, q, sample_rate=sr) / (2 * (1 - res))
        else:
            ref = biquad(x, mode, fc, q, sample_rate=sr)
        np.testing.assert_allclose(y.numpy(), ref.numpy(), atol=1e-9)


def test_svf_stays_bounded_under_per_sample_random_modulation():
    n_t = 48_000
    x = torch.randn(2, n_t, dtype=torch.float64)
    cutoff = torch.exp(
        torch.empty(2, n_t, dtype=torch.float64).uniform_(math.log(30), math.log(20_000))
    )
    y = svf(x, cutoff, 0.95, sample_rate=48_000)
    assert torch.isfinite(y).all()
    assert float(y.abs().max()) < 200 * float(x.abs().max())
