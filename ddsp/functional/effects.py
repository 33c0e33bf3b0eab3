"""Effects without a long recursion: parametric EQ (biquad cascade), distortion, stereo
panning and width, tremolo. Audio ``(..., channels, time)`` where channels matter."""

from __future__ import annotations

import math

import torch

from .._checks import check_mono_or_stereo, check_range, check_signal
from ._controls import as_control
from .filters import biquad, lfilter

__all__ = [
    "parametric_eq",
    "distortion",
    "SHAPERS",
    "pan",
    "stereo_width",
    "tremolo",
    "delay",
    "chorus",
    "ping_pong_delay",
    "phaser",
]

SHAPERS = ("tanh", "soft", "hard", "asymmetric")


def parametric_eq(
    x: torch.Tensor,
    sample_rate: float,
    *,
    peaks: list[tuple] = (),
    low_shelf: tuple | None = None,
    high_shelf: tuple | None = None,
    low_cut_hz: float | torch.Tensor | None = None,
    high_cut_hz: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Parametric EQ: high-pass, low shelf, peaking bands, high shelf, low-pass, in series.

    Args:
        x: audio ``(..., T)``.
        sample_rate: Hz.
        peaks: ``(cutoff_hz, gain_db, q)`` per peaking band; controls as for the filters.
        low_shelf, high_shelf: ``(cutoff_hz, gain_db)`` (shelf q = 1/sqrt(2)).
        low_cut_hz, high_cut_hz: Butterworth high-pass / low-pass corners (12 dB/octave).

    Returns:
        ``(..., T)``. Gradients: x and every control given as a tensor.
    """
    y = check_signal(x)
    butterworth = 1 / math.sqrt(2)
    if low_cut_hz is not None:
        y = biquad(y, "highpass", low_cut_hz, butterworth, sample_rate=sample_rate)
    if low_shelf is not None:
        y = biquad(y, "lowshelf", low_shelf[0], butterworth, low_shelf[1], sample_rate=sample_rate)
    for band in peaks:
        if len(band) != 3:
            raise ValueError(f"expected each peak as (cutoff_hz, gain_db, q), got {band!r}")
        y = biquad(y, "peaking", band[0], band[2], band[1], sample_rate=sample_rate)
    if high_shelf is not None:
        y = biquad(
            y, "highshelf", high_shelf[0], butterworth, high_shelf[1], sample_rate=sample_rate
        )
    if high_cut_hz is not None:
        y = biquad(y, "lowpass", high_cut_hz, butterworth, sample_rate=sample_rate)
    return y


def _shape(v: torch.Tensor, shape: str) -> torch.Tensor:
    if shape == "tanh":
        return torch.tanh(v)
    if shape == "soft":  # cubic soft clip: smooth, flat beyond |v| = 1.5
        c = v.clamp(-1.5, 1.5)
        return c - (4.0 / 27.0) * c**3
    if shape == "hard":
        return v.clamp(-1.0, 1.0)
    # asymmetric: tanh for the positive half, a gentler exponential for the negative
    return torch.where(v >= 0, torch.tanh(v), -(1 - torch.exp(v)) * 0.8 + torch.tanh(v) * 0.2)


def distortion(
    x: torch.Tensor,
    *,
    drive_db: float | torch.Tensor = 12.0,
    shape: str = "tanh",
    bias: float | torch.Tensor = 0.0,
    mix: float | torch.Tensor = 1.0,
    output_db: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """Waveshaping distortion: ``wet = f(drive x + bias) - f(bias)``, mixed with the dry signal.

    Subtracting ``f(bias)`` keeps silence silent (no DC step) while the bias still makes
    the transfer curve asymmetric (even harmonics). Tone shaping is left to EQ before or
    after, e.g. in a Chain.

    Args:
        x: audio ``(..., T)``.
        drive_db: input gain into the shaper, dB.
        shape: one of :data:`SHAPERS`.
        bias: offset into the shaper (asymmetry).
        mix: 0 dry .. 1 wet.
        output_db: gain after the mix, dB.

    Controls: floats, per item or time-varying (as for the filters).
    Gradients: x, drive_db, bias, mix, output_db (hard: zero slope beyond the clip).
    """
    x = check_signal(x)
    if shape not in SHAPERS:
        raise ValueError(f"expected shape in {SHAPERS}, got {shape!r}")
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    drive = torch.pow(10.0, as_control(drive_db, x, "drive_db") / 20.0)
    b = as_control(bias, x, "bias")
    m = as_control(mix, x, "mix")
    wet = _shape(drive * x + b, shape) - _shape(b, shape)
    return (m * wet + (1 - m) * x) * torch.pow(10.0, as_control(output_db, x, "output_db") / 20.0)


def pan(x: torch.Tensor, position: float | torch.Tensor) -> torch.Tensor:
    """Constant-power panner: mono or stereo ``(..., C, T)`` in (C = 1 or 2), stereo out.

    ``position`` in [-1, 1] (left .. right); gains ``cos``/``sin`` of ``(position + 1) pi / 4``
    so ``gL^2 + gR^2 = 1`` everywhere. A stereo input is balanced the same way per side.
    """
    x = check_mono_or_stereo(x)
    check_range(position, "position", -1.0, 1.0, low_inclusive=True, high_inclusive=True)
    p = as_control(position, x[..., 0, :], "position")[..., None, :]
    angle = (p + 1) * (math.pi / 4)
    gains = torch.cat([torch.cos(angle), torch.sin(angle)], dim=-2) * math.sqrt(2) ** (
        x.shape[-2] - 1
    )
    return x * gains if x.shape[-2] == 2 else x.expand(*x.shape[:-2], 2, x.shape[-1]) * gains


def stereo_width(x: torch.Tensor, width: float | torch.Tensor) -> torch.Tensor:
    """Mid/side width: ``side *= width`` (0 mono, 1 unchanged, up to 2 wider) on ``(..., 2, T)``."""
    x = check_signal(x, min_ndim=2)
    if x.shape[-2] != 2:
        raise ValueError(f"expected stereo (2 channels on dim -2), got shape {tuple(x.shape)}")
    check_range(width, "width", 0.0, 2.0, low_inclusive=True, high_inclusive=True)
    w = as_control(width, x[..., 0, :], "width")
    mid = (x[..., 0, :] + x[..., 1, :]) / 2
    side = (x[..., 0, :] - x[..., 1, :]) / 2 * w
    return torch.stack([mid + side, mid - side], dim=-2)


def tremolo(
    x: torch.Tensor,
    sample_rate: float,
    rate_hz: float | torch.Tensor,
    depth: float | torch.Tensor,
) -> torch.Tensor:
    """Amplitude modulation by a sine LFO: gain ``1 - depth (1 - cos(2 pi rate t)) / 2``.

    ``depth`` in [0, 1] (1: the gain dips to 0); the gain starts at 1 (t = 0).
    """
    x = check_signal(x)
    check_range(depth, "depth", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    check_range(rate_hz, "rate_hz", 0.0, sample_rate / 2, low_inclusive=True)
    rate = as_control(rate_hz, x, "rate_hz").to(torch.float64)
    if rate.shape[-1] == 1:
        rate = rate.expand(*rate.shape[:-1], x.shape[-1])
    phase = torch.cumsum(rate / sample_rate, -1) - rate / sample_rate
    d = as_control(depth, x, "depth")
    gain = 1 - d * (1 - torch.cos(2 * math.pi * phase).to(x.dtype)) / 2
    return x * gain


def _delay_line(
    x: torch.Tensor, delay_samples: torch.Tensor, feedback: torch.Tensor
) -> torch.Tensor:
    """Run the feedback-delay kernel on rows; controls already ``(*b, Tc)`` tensors."""
    from ..ops import FeedbackDelay
    from .filters import _batch_shape, _rows

    batch = _batch_shape(
        x, delay_samples.shape[:-1], feedback.shape[:-1], names=("delay", "feedback")
    )
    n_t = x.shape[-1]
    y = FeedbackDelay.apply(
        _rows(x, batch, (n_t,)),
        _rows(delay_samples, batch, (delay_samples.shape[-1],)),
        _rows(feedback, batch, (feedback.shape[-1],)),
    )
    return y.reshape(*batch, n_t)


def delay(
    x: torch.Tensor,
    sample_rate: float,
    delay_ms: float | torch.Tensor,
    *,
    feedback: float | torch.Tensor = 0.0,
    mix: float | torch.Tensor = 0.5,
) -> torch.Tensor:
    """Feedback delay (echo) with a fractional, modulatable delay time.

    The wet signal is ``y[t] = u(t - delay)`` with ``u = x + feedback * y``, read with
    linear interpolation between samples, so it is differentiable in the delay time;
    out = ``(1 - mix) x + mix y``. The delay is at least one sample.

    Args:
        x: audio ``(..., T)``.
        sample_rate: Hz.
        delay_ms: ms, ``>= 1000 / sample_rate``; float, per item or time-varying.
        feedback: in ``(-1, 1)``; float, per item or time-varying.
        mix: 0 dry .. 1 wet.

    Returns:
        ``(..., T)``. Gradients: x, delay_ms, feedback, mix.

    >>> y = delay(torch.tensor([1.0, 0, 0, 0, 0, 0]), 1000, 2.0, feedback=0.5, mix=1.0)
    >>> y.tolist()
    [0.0, 0.0, 1.0, 0.0, 0.5, 0.0]
    """
    x = check_signal(x)
    check_range(delay_ms, "delay_ms", 1000.0 / sample_rate, math.inf, low_inclusive=True)
    check_range(feedback, "feedback", -1.0, 1.0)
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    d = as_control(delay_ms, x, "delay_ms") * (sample_rate / 1000.0)
    fb = as_control(feedback, x, "feedback")
    m = as_control(mix, x, "mix")
    return (1 - m) * x + m * _delay_line(x, d, fb)


def chorus(
    x: torch.Tensor,
    sample_rate: float,
    *,
    rate_hz: float | torch.Tensor = 0.8,
    depth_ms: float | torch.Tensor = 3.0,
    centre_ms: float | torch.Tensor = 15.0,
    feedback: float | torch.Tensor = 0.0,
    mix: float | torch.Tensor = 0.5,
) -> torch.Tensor:
    """Chorus / flanger: a delay swept by a sine LFO, ``centre_ms + depth_ms sin(2 pi rate t)``.

    Chorus: centre 10-30 ms, little feedback; flanger: centre 1-5 ms with feedback.
    Controls: floats or per item. Gradients: x and every control.
    """
    x = check_signal(x)
    check_range(rate_hz, "rate_hz", 0.0, sample_rate / 2, low_inclusive=True)
    check_range(depth_ms, "depth_ms", 0.0, math.inf, low_inclusive=True)
    check_range(centre_ms, "centre_ms", 0.0, math.inf)
    t = torch.arange(x.shape[-1], dtype=torch.float64, device=x.device) / sample_rate
    rate = as_control(rate_hz, x, "rate_hz")
    lfo_wave = torch.sin(2 * math.pi * rate.to(torch.float64) * t).to(x.dtype)
    delay_ms = (
        as_control(centre_ms, x, "centre_ms") + as_control(depth_ms, x, "depth_ms") * lfo_wave
    )
    delay_ms = delay_ms.reshape((1,) * (x.ndim - delay_ms.ndim) + tuple(delay_ms.shape))
    floor = 1000.0 / sample_rate
    lowest = as_control(centre_ms, x, "centre_ms") - as_control(depth_ms, x, "depth_ms")
    if bool((lowest.detach() < floor).any()):  # the sweep's bottom, whatever the signal length
        raise ValueError(
            f"expected centre_ms - depth_ms >= {floor:g} ms (one sample), "
            f"got {float(lowest.detach().min()):g} ms"
        )
    return delay(x, sample_rate, delay_ms, feedback=feedback, mix=mix)


def ping_pong_delay(
    x: torch.Tensor,
    sample_rate: float,
    delay_ms: float | torch.Tensor,
    *,
    feedback: float | torch.Tensor = 0.5,
    mix: float | torch.Tensor = 0.5,
) -> torch.Tensor:
    """Stereo ping-pong delay: two delay lines, each feeding back into the other.

    ``uL = xL + feedback yR``, ``uR = xR + feedback yL``, ``y(t) = u(t - delay)``: echoes
    bounce left, right, left... A mono input enters the left line only (the first echo
    is on the left). Run exactly as two single-line delays on the sum (feedback ``+fb``)
    and difference (``-fb``) of the lines, so it shares the fractional delay kernel and is
    differentiable in the delay time.

    Args:
        x: audio ``(..., C, T)``, ``C`` in {1, 2}.
        sample_rate: Hz.
        delay_ms: ms per bounce, ``>= 1000 / sample_rate``; float, per item or time-varying.
        feedback: in ``(-1, 1)``.
        mix: 0 dry .. 1 wet.

    Returns:
        ``(..., 2, T)``. Gradients: x, delay_ms, feedback, mix.
    """
    x = check_mono_or_stereo(x)
    check_range(delay_ms, "delay_ms", 1000.0 / sample_rate, math.inf, low_inclusive=True)
    check_range(feedback, "feedback", -1.0, 1.0)
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    left = x[..., 0:1, :]
    right = x[..., 1:2, :] if x.shape[-2] == 2 else torch.zeros_like(left)
    d = as_control(delay_ms, left, "delay_ms") * (sample_rate / 1000.0)
    fb = as_control(feedback, left, "feedback")
    both = torch.cat([left + right, left - right], -2)  # sum and difference lines
    fb2 = torch.cat([fb, -fb], -2) if fb.ndim >= 2 else torch.stack([fb, -fb], -2)
    y = _delay_line(both, d, fb2)
    wet = torch.cat([y[..., 0:1, :] + y[..., 1:2, :], y[..., 0:1, :] - y[..., 1:2, :]], -2) / 2
    dry = left.expand(*left.shape[:-2], 2, left.shape[-1]) if x.shape[-2] == 1 else x
    m = as_control(mix, left, "mix")
    return (1 - m) * dry + m * wet


def phaser(
    x: torch.Tensor,
    sample_rate: float,
    *,
    rate_hz: float | torch.Tensor = 0.5,
    depth_octaves: float | torch.Tensor = 2.0,
    centre_hz: float | torch.Tensor = 800.0,
    stages: int = 4,
    mix: float | torch.Tensor = 0.5,
) -> torch.Tensor:
    """Phaser: a chain of first-order allpasses whose break frequency an LFO sweeps.

    Break frequency ``centre_hz * 2 ** (depth_octaves * sin(2 pi rate t))`` (kept below
    0.45 ``sample_rate``); each stage is ``(c + z^-1) / (1 + c z^-1)`` with
    ``c = (tan(pi f / fs) - 1) / (tan(pi f / fs) + 1)``, run on the time-varying IIR
    kernel. Mixing with the dry signal (``mix`` 0.5: deepest) puts ``stages / 2`` notches
    into the spectrum that sweep up and down. No feedback around the chain.

    Args:
        x: audio ``(..., T)``.
        sample_rate: Hz.
        rate_hz: sweep rate; float or per item.
        depth_octaves: sweep half-range in octaves, ``>= 0``.
        centre_hz: centre break frequency.
        stages: number of allpasses (2 to 12, even for notches).
        mix: 0 dry .. 1 wet.

    Returns:
        ``(..., T)``. Gradients: x, rate_hz, depth_octaves, centre_hz, mix.
    """
    x = check_signal(x)
    if not (isinstance(stages, int) and 1 <= stages <= 12):
        raise ValueError(f"expected stages as an integer in [1, 12], got {stages!r}")
    check_range(rate_hz, "rate_hz", 0.0, sample_rate / 2, low_inclusive=True)
    check_range(depth_octaves, "depth_octaves", 0.0, 8.0, low_inclusive=True, high_inclusive=True)
    check_range(centre_hz, "centre_hz", 0.0, sample_rate / 2)
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    t = torch.arange(x.shape[-1], dtype=torch.float64, device=x.device) / sample_rate
    rate = as_control(rate_hz, x, "rate_hz")
    sweep = torch.sin(2 * math.pi * rate.to(torch.float64) * t).to(x.dtype)
    octaves = as_control(depth_octaves, x, "depth_octaves") * sweep
    f = (as_control(centre_hz, x, "centre_hz") * torch.exp2(octaves)).clamp(max=0.45 * sample_rate)
    w = torch.tan(math.pi * f / sample_rate)
    c = (w - 1) / (w + 1)
    c = c.reshape((1,) * (x.ndim - c.ndim) + tuple(c.shape))
    c = c.expand(*c.shape[:-1], x.shape[-1])  # per-sample coefficients, dims as x
    one = torch.ones_like(c)
    b = torch.stack([c, one], -1)  # (..., T, 2): per-sample coefficients
    a = torch.stack([one, c], -1)
    y = x
    for _ in range(stages):
        y = lfilter(y, b, a)
    m = as_control(mix, x, "mix")
    return (1 - m) * x + m * y
