"""Dynamics against their formulas: static curves, attack/release times, exact gradients."""

from __future__ import annotations

import math

import pytest
import torch
from ddsp.kernels.envelope import envelope_mask_reference
from torch.autograd import gradcheck

from ddsp.functional import compressor, expander, gain_curve_db, limiter, smooth_gain
from ddsp.units import ms_to_coef

D = torch.float64
SR = 48_000


def db(v: torch.Tensor) -> float:
    return 20 * math.log10(float(v))


@pytest.mark.parametrize("tv", [False, True])
def test_smoothing_matches_the_reference_recursion_and_its_branches(tv):
    g = torch.rand(3, 500, dtype=D)
    a = torch.rand(3, 500 if tv else 1, dtype=D) * 0.5 + 0.4
    r = torch.rand(3, 500 if tv else 1, dtype=D) * 0.09 + 0.9
    y0 = torch.rand(3, dtype=D)
    y = smooth_gain(g, a, r, initial=y0)
    want, _ = envelope_mask_reference(g, a, r, y0)
    torch.testing.assert_close(y, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("level_db", [-40.0, -20.0, -14.0, -12.0, -10.0, -3.0, 0.0])
def test_compressor_static_curve_at_steady_state(level_db):
    amp = 10 ** (level_db / 20)
    x = torch.full((1, SR // 2), amp, dtype=D)
    y = compressor(x, -12.0, 4.0, 1.0, 20.0, sample_rate=SR, knee_db=4.0, makeup_db=2.0)
    over = level_db + 12.0
    if over <= -2:
        gain = 0.0
    elif over >= 2:
        gain = (1 / 4 - 1) * over
    else:
        gain = (1 / 4 - 1) * (over + 2) ** 2 / 8
    assert db(y[0, -1]) == pytest.approx(level_db + gain + 2.0, abs=1e-6)


def test_limiter_and_expander_static_curves():
    x = torch.full((1, SR // 2), 10 ** (6 / 20), dtype=D)  # +6 dB into a -3 dB ceiling
    assert db(limiter(x, -3.0, 50.0, sample_rate=SR)[0, -1]) == pytest.approx(-3.0, abs=1e-6)
    x = torch.full((1, SR // 2), 10 ** (-50 / 20), dtype=D)  # 10 dB under a -40 dB threshold
    y = expander(x, -40.0, 3.0, 1.0, 20.0, sample_rate=SR, knee_db=0.0)
    assert db(y[0, -1]) == pytest.approx(-40.0 - 30.0, abs=1e-6)


def _rise_time_ms(curve: torch.Tensor) -> float:
    lo, hi = float(curve[0]), float(curve[-1])
    frac = (curve - lo) / (hi - lo)
    t10 = int(torch.nonzero(frac >= 0.1)[0])
    t90 = int(torch.nonzero(frac >= 0.9)[0])
    return (t90 - t10) / SR * 1000


@pytest.mark.parametrize("attack_ms,release_ms", [(5.0, 80.0), (20.0, 300.0)])
def test_attack_and_release_times_match_the_set_values(attack_ms, release_ms):
    quiet, loud = 10 ** (-40 / 20), 1.0
    n = SR  # 0.5 s quiet, 0.5 s loud, 1 s quiet
    x = torch.cat(
        [torch.full((SR // 2,), quiet), torch.full((SR // 2,), loud), torch.full((n,), quiet)]
    ).double()
    y = compressor(x[None], -20.0, 10.0, attack_ms, release_ms, sample_rate=SR, knee_db=0.0)[0]
    gain = y / x
    attack = gain[SR // 2 : SR]  # gain falls: attack
    release = gain[SR:]  # gain recovers: release
    assert _rise_time_ms(-attack) == pytest.approx(attack_ms, rel=0.02, abs=0.05)
    assert _rise_time_ms(release) == pytest.approx(release_ms, rel=0.02, abs=0.05)


@pytest.mark.parametrize("detector", ["peak", "rms", "envelope"])
def test_gradcheck_every_control(detector):
    torch.manual_seed(3)
    x = (torch.randn(2, 64, dtype=D) * 0.5).requires_grad_()
    ctl = [
        torch.tensor([v], dtype=D, requires_grad=True) for v in (-12.0, 3.0, 2.0, 10.0, 4.0, 1.0)
    ]

    def f(x, thr, ratio, att, rel, knee, makeup):
        return compressor(
            x,
            thr,
            ratio,
            att,
            rel,
            sample_rate=8000,
            knee_db=knee,
            makeup_db=makeup,
            detector=detector,
        )

    assert gradcheck(f, (x, *ctl), atol=1e-6)


def test_silence_in_silence_out_with_finite_gradients():
    x = torch.zeros(1, 2, 1000, dtype=D, requires_grad=True)
    thr = torch.tensor([-20.0], dtype=D, requires_grad=True)
    y = compressor(x, thr[:, None], 4.0, 5.0, 50.0, sample_rate=SR, link_channels=True)
    assert torch.equal(y, torch.zeros_like(y))
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(thr.grad).all()


def test_linked_channels_share_one_gain():
    x = torch.stack([torch.full((SR // 4,), 1.0), torch.full((SR // 4,), 0.1)])[None].double()
    y = compressor(x, -20.0, 4.0, 1.0, 50.0, sample_rate=SR, link_channels=True)
    torch.testing.assert_close(y[0, 0, -1] / x[0, 0, -1], y[0, 1, -1] / x[0, 1, -1])


def test_gain_curve_is_continuous_through_the_knee():
    level = torch.linspace(-30, 0, 3001, dtype=D)
    g = gain_curve_db(level, -15.0, 5.0, 6.0)
    assert float((g[1:] - g[:-1]).abs().max()) < 0.01
    assert ms_to_coef(10.0, SR) == pytest.approx(math.exp(-math.log(9) / 480))


def test_bad_controls_get_clear_errors():
    x = torch.randn(1, 100)
    with pytest.raises(ValueError, match=r"ratio in \[1, inf\], got 0.5"):
        compressor(x, -10.0, 0.5, 1.0, 10.0, sample_rate=SR)
    with pytest.raises(ValueError, match="attack_ms"):
        compressor(x, -10.0, 2.0, 0.0, 10.0, sample_rate=SR)
    with pytest.raises(ValueError, match="detector in"):
        compressor(x, -10.0, 2.0, 1.0, 10.0, sample_rate=SR, detector="vu")


@pytest.mark.parametrize("mode", ["compressor", "expander", "limiter"])
def test_fused_kernel_equals_the_composed_reference_values_and_gradients(mode):
    from ddsp.functional.dynamics import _dynamics

    torch.manual_seed(5)
    x = torch.randn(3, 3000, dtype=D) * 0.5
    ratio = torch.tensor([[3.0], [5.0], [2.0]], dtype=D)
    if mode == "limiter":
        ratio = torch.full((3, 1), math.inf, dtype=D)
    args = dict(
        threshold_db=torch.tensor([[-12.0], [-6.0], [-20.0]], dtype=D),
        ratio=ratio,
        attack_ms=torch.tensor([[2.0], [0.5], [8.0]], dtype=D),
        release_ms=torch.tensor([[30.0], [90.0], [15.0]], dtype=D),
        knee_db=torch.tensor([[4.0], [0.0], [9.0]], dtype=D),
        makeup_db=torch.tensor([[1.5], [0.0], [3.0]], dtype=D),
    )
    results = []
    for fused in (True, False):
        leaves = {
            k: v.clone().requires_grad_(mode != "limiter" or k != "ratio") for k, v in args.items()
        }
        xl = x.clone().requires_grad_()
        y = _dynamics(
            xl,
            SR,
            leaves["threshold_db"],
            leaves["ratio"],
            leaves["attack_ms"],
            leaves["release_ms"],
            leaves["knee_db"],
            leaves["makeup_db"],
            "peak",
            10.0,
            False,
            "expander" if mode == "expander" else "compressor",
            fused=fused,
        )
        y.backward(torch.ones_like(y))
        results.append((y.detach(), xl.grad, {k: v.grad for k, v in leaves.items()}))
    (y1, gx1, g1), (y2, gx2, g2) = results
    torch.testing.assert_close(y1, y2, rtol=0, atol=1e-12)
    torch.testing.assert_close(gx1, gx2, rtol=1e-9, atol=1e-9)
    for k in args:
        if g2[k] is not None:
            torch.testing.assert_close(g1[k], g2[k], rtol=1e-9, atol=1e-9)


def test_the_envelope_detector_is_a_ballistics_filter_on_the_level_then_the_curve():
    # JUCE's dsp::Compressor: |x| through a one-pole (attack where it rises), the static
    # curve on that level, the gain not smoothed again; per channel unless linked
    torch.manual_seed(4)
    x = torch.randn(2, 400, dtype=D) * torch.linspace(0.05, 1.0, 400, dtype=D)
    thr, ratio, att, rel, knee = -12.0, 4.0, 1.0, 20.0, 0.0
    c_a, c_r = ms_to_coef(att, 8000), ms_to_coef(rel, 8000)
    want = torch.empty_like(x)
    for ch in range(2):
        env = 0.0
        for t in range(x.shape[-1]):
            a = abs(float(x[ch, t]))
            c = c_a if a > env else c_r
            env = c * env + (1 - c) * a
            level = 20 * math.log10(env + 1e-10)
            g_db = (1 / ratio - 1) * (level - thr) if level > thr else 0.0
            want[ch, t] = x[ch, t] * 10 ** (g_db / 20)
    got = compressor(x, thr, ratio, att, rel, sample_rate=8000, knee_db=knee, detector="envelope")
    assert torch.allclose(got, want, atol=1e-9)
    # blocks with the state carried equal the whole
    y1, st = compressor(x[:, :150], thr, ratio, att, rel, sample_rate=8000, knee_db=knee,
                        detector="envelope", return_state=True)  # fmt: skip
    y2 = compressor(x[:, 150:], thr, ratio, att, rel, sample_rate=8000, knee_db=knee,
                    detector="envelope", state=st)  # fmt: skip
    assert torch.allclose(torch.cat([y1, y2], -1), want, atol=1e-9)
    linked = compressor(x, thr, ratio, att, rel, sample_rate=8000, knee_db=knee,
                        detector="envelope", link_channels=True)  # fmt: skip
    assert not torch.allclose(linked, want, atol=1e-3)
