"""Shapes, controls, block processing and clear errors for bad input."""

from __future__ import annotations

import math

import pytest
import torch

import ddsp
from ddsp.functional import allpole, biquad, lfilter, svf
from ddsp.functional._controls import upsample_frames
from tests.helpers import stable_poles

D = torch.float64


# --------------------------------------------------------------------------- blocks


def blocks(n_t: int) -> list[slice]:
    edges = [0, 1, 3, 50, 51, n_t // 2, n_t]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


@pytest.mark.parametrize("tv", [False, True])
def test_allpole_in_blocks_with_carried_state_equals_one_pass(tv):
    x = torch.randn(3, 500, dtype=D)
    a = stable_poles(3, 500, 3) if tv else stable_poles(3, 1, 3)[:, 0]
    whole = allpole(x, a)
    state, parts = None, []
    for s in blocks(500):
        y, state = allpole(x[:, s], a[:, s] if tv else a, state, return_state=True)
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, -1), whole, rtol=0, atol=1e-12)


@pytest.mark.parametrize("tv", [False, True])
def test_lfilter_in_blocks_with_carried_state_equals_one_pass(tv):
    x = torch.randn(2, 400, dtype=D)
    b = torch.randn(2, 400, 4, dtype=D) if tv else torch.randn(4, dtype=D)
    a_tail = stable_poles(2, 400, 2) if tv else stable_poles(1, 1, 2)[0, 0]
    a = torch.cat([torch.full_like(a_tail[..., :1], 2.0), 2.0 * a_tail], -1)
    whole = lfilter(x, b, a)
    state, parts = None, []
    for s in blocks(400):
        y, state = lfilter(
            x[:, s], b[:, s] if tv else b, a[:, s] if tv else a, state, return_state=True
        )
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, -1), whole, rtol=0, atol=1e-12)


def test_biquad_and_svf_in_blocks_equal_one_pass():
    x = torch.randn(2, 300, dtype=D)
    fc = torch.linspace(200, 5000, 300, dtype=D).expand(2, 300)
    whole_b = biquad(x, "peaking", fc, 1.0, 3.0, sample_rate=16_000)
    whole_s = svf(x, fc, 0.7, sample_rate=16_000, mode="bandpass")
    sb = ss = None
    pb, ps = [], []
    for s in blocks(300):
        y, sb = biquad(
            x[:, s], "peaking", fc[:, s], 1.0, 3.0, sample_rate=16_000, zi=sb, return_state=True
        )
        pb.append(y)
        y, ss = svf(
            x[:, s], fc[:, s], 0.7, sample_rate=16_000, mode="bandpass", zi=ss, return_state=True
        )
        ps.append(y)
    torch.testing.assert_close(torch.cat(pb, -1), whole_b, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.cat(ps, -1), whole_s, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- shapes, controls


def test_batched_equals_per_item_and_dtype_is_kept():
    x = torch.randn(2, 3, 256)
    fc = torch.tensor([[300.0], [3000.0]])  # per item: (batch, 1) against (batch, channels)
    y = biquad(x, "lowpass", fc, 0.7, sample_rate=16_000)
    assert y.shape == x.shape and y.dtype == torch.float32
    for i in range(2):
        yi = biquad(x[i], "lowpass", float(fc[i, 0]), 0.7, sample_rate=16_000)
        torch.testing.assert_close(y[i], yi, rtol=1e-6, atol=1e-6)


def test_shared_coefficients_broadcast_over_leading_dims():
    x = torch.randn(2, 3, 100, dtype=D)
    a = torch.tensor([-0.5, 0.1], dtype=D)
    y = allpole(x, a)
    assert y.shape == (2, 3, 100)
    torch.testing.assert_close(y[1, 2], allpole(x[1, 2], a))


def test_per_frame_controls_are_linearly_interpolated_ends_aligned():
    frames = torch.tensor([[0.0, 1.0, 4.0]], dtype=D)
    up = upsample_frames(frames, 5)
    torch.testing.assert_close(up, torch.tensor([[0.0, 0.5, 1.0, 2.5, 4.0]], dtype=D))
    x = torch.randn(1, 5, dtype=D)
    fc_frames = torch.tensor([[500.0, 900.0, 1300.0]], dtype=D)
    y_frames = svf(x, fc_frames, 0.5, sample_rate=8000)
    y_samples = svf(x, upsample_frames(fc_frames, 5), 0.5, sample_rate=8000)
    torch.testing.assert_close(y_frames, y_samples)


def test_python_float_and_tensor_controls_agree():
    x = torch.randn(2, 200, dtype=D)
    y1 = biquad(x, "highshelf", 2000.0, 0.7, -6.0, sample_rate=16_000)
    y2 = biquad(
        x,
        "highshelf",
        torch.tensor([2000.0, 2000.0], dtype=D),
        0.7,
        torch.tensor(-6.0, dtype=D),
        sample_rate=16_000,
    )
    torch.testing.assert_close(y1, y2)


def test_empty_signal_passes_state_through():
    x = torch.zeros(2, 0, dtype=D)
    zi = torch.randn(2, 2, dtype=D)
    y, zf = allpole(x, torch.tensor([0.1, 0.2], dtype=D), zi, return_state=True)
    assert y.shape == (2, 0)
    torch.testing.assert_close(zf, zi)


def test_inputs_are_not_modified():
    x = torch.randn(1, 64)
    a = torch.tensor([-0.3])
    x0, a0 = x.clone(), a.clone()
    allpole(x, a)
    assert torch.equal(x, x0) and torch.equal(a, a0)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: allpole(torch.tensor(1.0), torch.tensor([0.5])),
            ValueError,
            "at least 1 dimension",
        ),
        (lambda: allpole([1.0, 2.0], torch.tensor([0.5])), TypeError, "torch.Tensor, got list"),
        (
            lambda: allpole(torch.arange(5), torch.tensor([0.5])),
            TypeError,
            "float32 or float64, got torch.int64",
        ),
        (lambda: allpole(torch.randn(3, 10), torch.randn(4, 2) * 0.1), ValueError, "broadcastable"),
        (
            lambda: allpole(torch.randn(3, 10), torch.zeros(3, 0)),
            ValueError,
            "order between 1 and 32, got 0",
        ),
        (
            lambda: allpole(torch.randn(3, 10), torch.zeros(3, 33)),
            ValueError,
            "order between 1 and 32, got 33",
        ),
        (
            lambda: allpole(torch.randn(3, 10), torch.zeros(3, 9, 2)),
            ValueError,
            r"T=10.*got shape \(3, 9, 2\)",
        ),
        (
            lambda: allpole(torch.randn(3, 10), torch.zeros(2, dtype=D)),
            TypeError,
            "dtype torch.float32 like x",
        ),
        (
            lambda: allpole(torch.randn(3, 10), torch.zeros(2), torch.zeros(3, 3)),
            ValueError,
            r"zi of shape \(\.\.\., 2\)",
        ),
        (
            lambda: allpole(torch.tensor([1.0, math.nan]), torch.tensor([0.5])),
            ValueError,
            "finite values in x, got 1 NaN/Inf",
        ),
        (lambda: allpole(torch.tensor([1.0, math.inf]), torch.tensor([0.5])), ValueError, "finite"),
        (
            lambda: lfilter(torch.randn(10), torch.ones(1), torch.tensor([0.0, 0.5])),
            ValueError,
            r"a\[\.\.\., 0\] != 0",
        ),
        (
            lambda: lfilter(torch.randn(10), torch.ones(1), torch.ones(1), zi=torch.zeros(2)),
            TypeError,
            "LFilterState",
        ),
        (
            lambda: biquad(torch.randn(10), "lowpas", 100.0, 1.0, sample_rate=8000),
            ValueError,
            "kind in",
        ),
        (
            lambda: biquad(torch.randn(10), "lowpass", 4000.0, 1.0, sample_rate=8000),
            ValueError,
            r"cutoff_hz in \(0, 4000\), got 4000",
        ),
        (
            lambda: biquad(torch.randn(10), "lowpass", 100.0, 0.0, sample_rate=8000),
            ValueError,
            "q in",
        ),
        (
            lambda: biquad(
                torch.randn(10), "lowpass", torch.tensor([5000.0]), 1.0, sample_rate=8000
            ),
            ValueError,
            "cutoff_hz in",
        ),
        (
            lambda: biquad(
                torch.randn(2, 10), "lowpass", torch.ones(2, 3, 4) * 100, 1.0, sample_rate=8000
            ),
            ValueError,
            "at most 2 dims",
        ),
        (
            lambda: biquad(
                torch.randn(2, 10), "lowpass", torch.tensor([1, 2]), 1.0, sample_rate=8000
            ),
            TypeError,
            "floating-point",
        ),
        (
            lambda: svf(torch.randn(10), 100.0, 1.0, sample_rate=8000),
            ValueError,
            r"resonance in \[0, 1\), got 1",
        ),
        (
            lambda: svf(torch.randn(10), 100.0, 0.5, sample_rate=8000, mode="peak"),
            ValueError,
            "mode in",
        ),
        (lambda: svf(torch.randn(10), -5.0, 0.5, sample_rate=8000), ValueError, "cutoff_hz in"),
        (lambda: svf(torch.randn(10), 100.0, 0.5, sample_rate=0), ValueError, "sample_rate in"),
    ],
)
def test_bad_input_gets_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_value_checks_can_be_switched_off_for_speed():
    x = torch.tensor([1.0, math.nan])
    with ddsp.value_checks(False):
        y = allpole(x, torch.tensor([0.5]))
    assert torch.isnan(y[1])
    with pytest.raises(TypeError, match="True, False or None"):
        ddsp.set_value_checks("yes")  # type: ignore[arg-type]
