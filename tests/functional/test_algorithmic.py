"""FDN and Freeverb: exact decay times, frequency-dependent decay, gradients, pedalboard."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from torch.autograd import gradcheck

import ddsp
from ddsp.functional import (
    fdn_delays,
    fdn_reverb,
    freeverb,
    orthogonal,
    phaser,
    ping_pong_delay,
    rt60_from_ir,
)
from ddsp.functional.algorithmic import absorption

D = torch.float64


def test_orthogonal_parameterisation_is_orthogonal_and_differentiable():
    w = torch.randn(8, 8, dtype=D, requires_grad=True)
    q = orthogonal(w)
    assert torch.allclose(q @ q.T, torch.eye(8, dtype=D), atol=1e-12)
    q.sum().backward()
    assert torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_fdn_delays_are_distinct_primes_in_range():
    d = fdn_delays(16, sample_rate=48_000, min_ms=20.0, max_ms=50.0)
    assert len(set(d)) == 16 and d == sorted(d)
    assert all(all(n % f for f in range(2, int(n**0.5) + 1)) for n in d)
    assert 0.9 * 960 <= d[0] and d[-1] <= 1.1 * 2400


def test_absorption_filters_meet_both_decay_targets_exactly():
    m = torch.tensor([331, 743, 1201])
    sr, rt, ratio = 48_000, torch.tensor([[2.0]], dtype=D), torch.tensor([[0.3]], dtype=D)
    k, p = absorption(m, sample_rate=sr, rt60_s=rt, high_rt60_ratio=ratio)
    dc = k / (1 - p)  # |H(1)|
    ny = k / (1 + p)  # |H(-1)|
    assert torch.allclose(dc, 10 ** (-3 * m.double() / (sr * 2.0)), rtol=1e-12)
    assert torch.allclose(ny, 10 ** (-3 * m.double() / (sr * 0.6)), rtol=1e-12)
    assert bool((p.abs() < 1).all())


@pytest.mark.parametrize("n_lines", [4, 8, 16])
@pytest.mark.parametrize("rt60", [0.3, 1.0, 2.5])
def test_fdn_rt60_measured_by_schroeder_integration_is_within_10_percent(n_lines, rt60):
    sr = 16_000
    impulse = torch.zeros(1, 1, int(sr * rt60 * 1.5))
    impulse[..., 0] = 1.0
    y = fdn_reverb(
        impulse,
        sample_rate=sr,
        delays=fdn_delays(n_lines, sample_rate=sr),
        feedback_matrix=orthogonal(torch.randn(n_lines, n_lines)),
        rt60_s=rt60,
        high_rt60_ratio=1.0,
        mix=1.0,
    )
    measured = rt60_from_ir(y[0], sample_rate=sr)
    assert y.shape == (1, 2, impulse.shape[-1])
    assert torch.allclose(measured, torch.full_like(measured, rt60), rtol=0.1), measured


def test_fdn_high_frequencies_decay_faster_with_a_high_ratio_below_one():
    sr, n = 16_000, 24_000
    impulse = torch.zeros(1, 1, n)
    impulse[..., 0] = 1.0
    kwargs = dict(
        delays=fdn_delays(8, sample_rate=sr), feedback_matrix=orthogonal(torch.randn(8, 8)), mix=1.0
    )
    y = (
        fdn_reverb(impulse, sample_rate=sr, rt60_s=1.0, high_rt60_ratio=0.25, **kwargs)[0, 0]
        .double()
        .numpy()
    )
    lo = scipy.signal.sosfilt(scipy.signal.butter(4, 300, "low", fs=sr, output="sos"), y)
    hi = scipy.signal.sosfilt(scipy.signal.butter(4, 6000, "high", fs=sr, output="sos"), y)
    rt_lo = float(rt60_from_ir(torch.from_numpy(lo), sample_rate=sr))
    rt_hi = float(rt60_from_ir(torch.from_numpy(hi), sample_rate=sr))
    assert 0.8 < rt_lo < 1.1 and rt_hi < 0.45, (rt_lo, rt_hi)


def test_fdn_gradcheck_every_input_in_float64():
    n_l, sr = 4, 1000
    x = torch.randn(2, 1, 40, dtype=D, requires_grad=True)
    w = torch.randn(n_l, n_l, dtype=D, requires_grad=True)
    rt = torch.tensor([[0.05], [0.08]], dtype=D, requires_grad=True)
    ratio = torch.tensor([[0.5], [0.9]], dtype=D, requires_grad=True)
    gin = torch.rand(n_l, dtype=D, requires_grad=True)
    gout = torch.randn(2, n_l, dtype=D, requires_grad=True)
    mix = torch.tensor([[0.3], [0.8]], dtype=D, requires_grad=True)

    def f(x, w, rt, ratio, gin, gout, mix):
        return fdn_reverb(
            x,
            sample_rate=sr,
            delays=[3, 5, 7, 11],
            feedback_matrix=orthogonal(w),
            rt60_s=rt,
            high_rt60_ratio=ratio,
            input_gains=gin,
            output_gains=gout,
            pre_delay_ms=2.0,
            mix=mix,
        )

    assert gradcheck(f, (x, w, rt, ratio, gin, gout, mix))


def test_fdn_processor_learns_and_keeps_its_matrix_orthogonal():
    rev = ddsp.FDNReverb(16_000, n_lines=6, rt60_s=0.5, mix=1.0)
    opt = torch.optim.Adam(rev.parameters(), lr=0.05)
    x = torch.randn(1, 1, 2000)
    for _ in range(3):
        opt.zero_grad()
        rev(x).square().mean().backward()
        opt.step()
    q = rev.feedback_matrix()
    assert torch.allclose(q @ q.T, torch.eye(6), atol=1e-5)


def test_fdn_rejects_bad_settings_with_clear_errors():
    x = torch.randn(1, 1, 100)
    eye = torch.eye(3)
    with pytest.raises(ValueError, match="integers >= 1"):
        fdn_reverb(x, sample_rate=1000, delays=[0, 2, 3], feedback_matrix=eye)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3, 3\)"):
        fdn_reverb(x, sample_rate=1000, delays=[1, 2, 3], feedback_matrix=torch.eye(4))
    with pytest.raises(ValueError, match="spectral norm"):
        fdn_reverb(x, sample_rate=1000, delays=[1, 2, 3], feedback_matrix=1.5 * eye)
    with pytest.raises(ValueError, match="mono or stereo"):
        fdn_reverb(torch.randn(1, 3, 100), sample_rate=1000, delays=[1, 2, 3], feedback_matrix=eye)
    with pytest.raises(ValueError, match="rt60_s"):
        fdn_reverb(x, sample_rate=1000, delays=[1, 2, 3], feedback_matrix=eye, rt60_s=0.0)
    with pytest.raises(ValueError, match="n_lines"):
        ddsp.FDNReverb(16_000, n_lines=3)


def test_freeverb_impulse_is_a_stereo_decaying_tail_and_width_zero_is_mono():
    sr = 44_100
    impulse = torch.zeros(1, 1, sr)
    impulse[..., 0] = 1.0
    y = freeverb(impulse, sample_rate=sr, room_size=0.8, damping=0.3, width=1.0, mix=1.0)[0]
    first = int(torch.nonzero(y[0].abs() > 0)[0])
    assert first == 1116  # the shortest comb; the allpasses pass their input straight through
    assert not torch.allclose(y[0], y[1])
    early, late = y[:, : sr // 4].square().sum(), y[:, 3 * sr // 4 :].square().sum()
    assert late < early / 10
    mono = freeverb(impulse, sample_rate=sr, room_size=0.8, width=0.0, mix=1.0)[0]
    assert torch.allclose(mono[0], mono[1])


def test_freeverb_larger_rooms_ring_longer():
    sr = 22_050
    impulse = torch.zeros(1, 1, 2 * sr)
    impulse[..., 0] = 1.0
    rts = [
        float(
            rt60_from_ir(
                freeverb(impulse, sample_rate=sr, room_size=r, mix=1.0)[0, 0], sample_rate=sr
            )
        )
        for r in (0.2, 0.6, 0.95)
    ]
    assert rts[0] < rts[1] < rts[2]


def test_freeverb_gradcheck_in_float64():
    sr = 2000  # short lines: combs recirculate within the signal
    x = torch.randn(1, 2, 120, dtype=D, requires_grad=True)
    room = torch.tensor([[0.6]], dtype=D, requires_grad=True)
    damp = torch.tensor([[0.4]], dtype=D, requires_grad=True)
    width = torch.tensor([[0.7]], dtype=D, requires_grad=True)
    mix = torch.tensor([[0.5]], dtype=D, requires_grad=True)
    assert gradcheck(
        lambda *z: freeverb(
            z[0], sample_rate=sr, room_size=z[1], damping=z[2], width=z[3], mix=z[4]
        ),
        (x, room, damp, width, mix),
    )


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: fdn_reverb(
            x, sample_rate=16_000, delays=[101, 211], feedback_matrix=torch.eye(2)
        ),
        lambda x: freeverb(x, sample_rate=16_000),
        lambda x: ping_pong_delay(x, 10.0, sample_rate=16_000),
        lambda x: phaser(x, sample_rate=16_000),
    ],
)
def test_silence_in_silence_out(fn):
    y = fn(torch.zeros(1, 1, 4000))
    assert bool((y == 0).all())


def test_freeverb_impulse_response_matches_pedalboards_reverb():
    """pedalboard's Reverb is JUCE's Freeverb: same tunings, same integer scaling."""
    pb = pytest.importorskip("pedalboard")
    sr = 16_000
    x = np.zeros((2, sr), np.float32)
    x[:, 100] = 1.0
    board = pb.Pedalboard([pb.Reverb(room_size=0.6, damping=0.4, wet_level=1 / 3, dry_level=0.0)])
    want = board(x, sr)
    got = freeverb(torch.from_numpy(x)[None], sample_rate=sr, room_size=0.6, damping=0.4, mix=1.0)[
        0
    ]
    for ch in range(2):
        assert np.corrcoef(got[ch].numpy(), want[ch])[0, 1] > 0.999
