"""Effects without a long recursion: parametric EQ (biquad cascade), distortion, stereo
panning and width, tremolo. Audio ``(..., channels, time)`` where channels matter."""

from __future__ import annotations

import math

import torch

from .._checks import check_mono_or_stereo, check_range, check_sample_rate, check_signal
from ._controls import as_control, lfo_phase
from .filters import LFilterState, biquad, lfilter

__all__ = [
    "parametric_eq",
    "distortion",
    "SHAPERS",
    "pan",
    "stereo_width",
    "tremolo",
    "phaser",
]

SHAPERS = ("tanh", "soft", "hard", "asymmetric")


def parametric_eq(
    x: torch.Tensor,
    *,
    sample_rate: float,
    peaks: list[tuple] = (),
    low_shelf: tuple | None = None,
    high_shelf: tuple | None = None,
    low_cut_hz: float | torch.Tensor | None = None,
    high_cut_hz: float | torch.Tensor | None = None,
    zi: list[LFilterState] | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[LFilterState]]:
    """Parametric EQ: high-pass, low shelf, peaking bands, high shelf, low-pass, in series.

    Args:
        x: audio ``(..., T)``.
        sample_rate: Hz.
        peaks: ``(cutoff_hz, gain_db, q)`` per peaking band; controls as for the filters.
        low_shelf, high_shelf: ``(cutoff_hz, gain_db)`` (shelf q = 1/sqrt(2)).
        low_cut_hz, high_cut_hz: Butterworth high-pass / low-pass corners (12 dB/octave).
        zi: one :class:`LFilterState` per band present, in the order above (a previous
            block's final states), or None for silence.
        return_state: also return the final states.

    Returns:
        ``(..., T)``, or ``(y, states)``. Gradients: x and every control given as a tensor.
    """
    y = check_signal(x)
    butterworth = 1 / math.sqrt(2)
    bands: list[tuple] = []  # (kind, cutoff, q, gain) in series order
    if low_cut_hz is not None:
        bands.append(("highpass", low_cut_hz, butterworth, 0.0))
    if low_shelf is not None:
        bands.append(("lowshelf", low_shelf[0], butterworth, low_shelf[1]))
    for band in peaks:
        if len(band) != 3:
            raise ValueError(f"expected each peak as (cutoff_hz, gain_db, q), got {band!r}")
        bands.append(("peaking", band[0], band[2], band[1]))
    if high_shelf is not None:
        bands.append(("highshelf", high_shelf[0], butterworth, high_shelf[1]))
    if high_cut_hz is not None:
        bands.append(("lowpass", high_cut_hz, butterworth, 0.0))
    if zi is not None and len(zi) != len(bands):
        raise ValueError(f"expected zi with one state per band ({len(bands)}), got {len(zi)}")
    states = []
    for i, (kind, fc, q, gain) in enumerate(bands):
        out = biquad(
            y,
            kind,
            fc,
            q,
            gain,
            sample_rate=sample_rate,
            zi=None if zi is None else zi[i],
            return_state=return_state,
        )
        y, state = out if return_state else (out, None)
        states.append(state)
    return (y, states) if return_state else y


def _shape(v: torch.Tensor, shape: str) -> torch.Tensor:
    if shape == "tanh":
        return torch.tanh(v)
    if shape == "soft":  # cubic soft clip: smooth, flat beyond |v| = 1.5
        c = v.clamp(-1.5, 1.5)
        return c - (4.0 / 27.0) * c**3
    if shape == "hard":
        return v.clamp(-1.0, 1.0)
    # asymmetric: tanh for the positive half, a gentler exponential for the negative; the
    # exponential reads v <= 0 only, or its overflow in the branch not taken makes NaN
    # gradients (0 * inf) at high drive
    neg = v.clamp(max=0.0)
    return torch.where(v >= 0, torch.tanh(v), -(1 - torch.exp(neg)) * 0.8 + torch.tanh(v) * 0.2)


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
        raise ValueError(
            "expected stereo x (2 channels on dim -2 of (..., C, T)), "
            f"got {x.shape[-2]} channel(s) (shape {tuple(x.shape)})"
        )
    check_range(width, "width", 0.0, 2.0, low_inclusive=True, high_inclusive=True)
    w = as_control(width, x[..., 0, :], "width")
    mid = (x[..., 0, :] + x[..., 1, :]) / 2
    side = (x[..., 0, :] - x[..., 1, :]) / 2 * w
    return torch.stack([mid + side, mid - side], dim=-2)


def tremolo(
    x: torch.Tensor,
    rate_hz: float | torch.Tensor,
    depth: float | torch.Tensor,
    *,
    sample_rate: float,
    phase: torch.Tensor | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Amplitude modulation by a sine LFO: gain ``1 - depth (1 - cos(2 pi rate t)) / 2``.

    ``depth`` in [0, 1] (1: the gain dips to 0); the gain starts at 1 (t = 0), or at the
    LFO ``phase`` (cycles, from a previous block's returned state).
    """
    x = check_signal(x)
    check_range(depth, "depth", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    check_sample_rate(sample_rate)
    check_range(rate_hz, "rate_hz", 0.0, sample_rate / 2, low_inclusive=True)
    rate = as_control(rate_hz, x, "rate_hz")
    cycles, end = lfo_phase(rate, x.shape[-1], sample_rate, phase)
    d = as_control(depth, x, "depth")
    gain = 1 - d * (1 - torch.cos(2 * math.pi * cycles).to(x.dtype)) / 2
    return (x * gain, end) if return_state else x * gain


def phaser(
    x: torch.Tensor,
    *,
    sample_rate: float,
    rate_hz: float | torch.Tensor = 0.5,
    depth_octaves: float | torch.Tensor = 2.0,
    centre_hz: float | torch.Tensor = 800.0,
    stages: int = 4,
    mix: float | torch.Tensor = 0.5,
    state: tuple[torch.Tensor, list[LFilterState]] | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, list[LFilterState]]]:
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
        ``(..., T)``, or ``(y, (lfo_phase, stage_states))`` with ``return_state`` (pass it as
        ``state`` to continue in the next block). Gradients: x, rate_hz, depth_octaves,
        centre_hz, mix.
    """
    x = check_signal(x)
    if not (isinstance(stages, int) and 1 <= stages <= 12):
        raise ValueError(f"expected stages as an integer in [1, 12], got {stages!r}")
    check_sample_rate(sample_rate)
    check_range(rate_hz, "rate_hz", 0.0, sample_rate / 2, low_inclusive=True)
    check_range(depth_octaves, "depth_octaves", 0.0, 8.0, low_inclusive=True, high_inclusive=True)
    check_range(centre_hz, "centre_hz", 0.0, sample_rate / 2)
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    rate = as_control(rate_hz, x, "rate_hz")
    cycles, end = lfo_phase(rate, x.shape[-1], sample_rate, None if state is None else state[0])
    sweep = torch.sin(2 * math.pi * cycles).to(x.dtype)
    octaves = as_control(depth_octaves, x, "depth_octaves") * sweep
    f = (as_control(centre_hz, x, "centre_hz") * torch.exp2(octaves)).clamp(max=0.45 * sample_rate)
    w = torch.tan(math.pi * f / sample_rate)
    c = (w - 1) / (w + 1)
    c = c.reshape((1,) * (x.ndim - c.ndim) + tuple(c.shape))
    c = c.expand(*c.shape[:-1], x.shape[-1])  # per-sample coefficients, dims as x
    one = torch.ones_like(c)
    b = torch.stack([c, one], -1)  # (..., T, 2): per-sample coefficients
    a = torch.stack([one, c], -1)
    y, states = x, []
    for i in range(stages):
        out = lfilter(y, b, a, None if state is None else state[1][i], return_state=return_state)
        y, st = out if return_state else (out, None)
        states.append(st)
    m = as_control(mix, x, "mix")
    out = (1 - m) * x + m * y
    return (out, (end, states)) if return_state else out
