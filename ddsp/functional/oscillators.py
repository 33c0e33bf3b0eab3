"""Band-limited classic waveforms (saw, square/pulse with width modulation, triangle).

PolyBLEP and PolyBLAMP (Välimäki, Pekonen & Nam, "Perceptually informed synthesis of
bandlimited classical waveforms using integrated polynomial interpolation", JASA 2012):
the naive waveform plus a two-sample polynomial residual at each discontinuity of the
value (saw, pulse) or of the slope (triangle). The phase is accumulated in float64.

Two-sample residuals alone leave aliasing only ~15 dB below a naive waveform's at
f0 = 2 kHz, 48 kHz; rendering at 4x the rate and decimating with a Kaiser-windowed sinc
(stop band beyond the output's Nyquist) brings it ~60 dB below (tests/test_sources.py).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from .._checks import check_finite, check_range, check_sample_rate, check_signal
from ._controls import upsample_frames

__all__ = [
    "oscillator",
    "fm",
    "wavetable",
    "WAVEFORMS",
    "OscillatorState",
    "oscillator_state",
    "oscillator_latency",
]

WAVEFORMS = ("saw", "square", "pulse", "triangle")


def _blep(t: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """Two-sample PolyBLEP residual of a rising step of height 2 at phase 0."""
    x_after = t / dt
    x_before = (t - 1) / dt
    after = -((1 - x_after) ** 2)
    before = (x_before + 1) ** 2
    return torch.where(t < dt, after, torch.where(t > 1 - dt, before, torch.zeros_like(t)))


def _blamp(t: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """Two-sample PolyBLAMP residual (integral of the BLEP one, in samples) at phase 0."""
    x_after = t / dt
    x_before = (t - 1) / dt
    after = (1 - x_after) ** 3 / 3
    before = (x_before + 1) ** 3 / 3
    return torch.where(t < dt, after, torch.where(t > 1 - dt, before, torch.zeros_like(t)))


def _decimator(factor: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Low-pass FIR for decimation by ``factor``: Kaiser-windowed sinc, unit DC gain."""
    half = 32 * factor
    n = torch.arange(-half, half + 1, dtype=torch.float64)
    cutoff = 0.92 / factor  # of the oversampled Nyquist: pass band up to 0.92 of the output's
    h = torch.special.sinc(cutoff * n) * torch.kaiser_window(
        2 * half + 1, periodic=False, beta=10.0, dtype=torch.float64
    )
    return (h / h.sum()).to(dtype=dtype, device=device)


def _per_sample(
    value: float | torch.Tensor,
    batch: int,
    n_samples: int,
    like: torch.Tensor,
    hold: int = 1,
) -> torch.Tensor:
    """A control as ``(batch, n_samples)``: frames interpolated (ends aligned); values given
    per output sample (``n_samples / hold`` of them) held over ``hold`` sub-samples."""
    if isinstance(value, torch.Tensor):
        if value.ndim == 2:
            v = value.to(like.dtype)
            if v.shape[-1] == 1:
                return v.expand(v.shape[0], n_samples)
            if v.shape[-1] * hold == n_samples:
                return v.repeat_interleave(hold, -1) if hold > 1 else v
            return upsample_frames(v, n_samples)
        return value.to(like.dtype).reshape(-1, 1).expand(batch, n_samples)
    return torch.full((batch, n_samples), float(value), dtype=like.dtype, device=like.device)


class OscillatorState(NamedTuple):
    """State of :func:`oscillator` between blocks.

    Attributes:
        phase: ``(batch, 1)`` cycles (float64) at the next sample.
        history: ``(batch, taps - 1)`` the last oversampled samples the decimation filter
            still reads (empty without oversampling).
        amplitude: ``(batch, latency)`` the last amplitudes, applied when their samples
            leave the filter.
    """

    phase: torch.Tensor
    history: torch.Tensor
    amplitude: torch.Tensor


def oscillator_latency(oversample: int = 4) -> int:
    """Samples by which a streamed :func:`oscillator` lags the offline one (its decimation
    filter is centred: half of it reads ahead)."""
    return (
        0
        if oversample == 1
        else (_decimator(oversample, torch.float64, "cpu").shape[0] // 2) // oversample
    )


def oscillator_state(
    batch: int, *, oversample: int = 4, dtype: torch.dtype = torch.float32, device: Any = None
) -> OscillatorState:
    """The state of a silent oscillator stream (phase 0)."""
    taps = 0 if oversample == 1 else _decimator(oversample, dtype, device or "cpu").shape[0] - 1
    return OscillatorState(
        torch.zeros(batch, 1, dtype=torch.float64, device=device),
        torch.zeros(batch, taps, dtype=dtype, device=device),
        torch.zeros(batch, oscillator_latency(oversample), dtype=dtype, device=device),
    )


def oscillator(
    f0_hz: torch.Tensor,
    *,
    sample_rate: float,
    n_samples: int,
    shape: str = "saw",
    width: float | torch.Tensor = 0.5,
    amplitude: float | torch.Tensor = 1.0,
    initial_phase: torch.Tensor | None = None,
    return_phase: bool = False,
    oversample: int = 4,
    state: OscillatorState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Any]:
    """Band-limited saw, square, pulse (with width modulation) or triangle.

    Controls given per output sample (``n_samples`` values) are held over the oversampled
    sub-samples; fewer frames are interpolated, ends aligned. Streamed (``state`` given),
    the output lags by :func:`oscillator_latency` samples: the decimation filter is
    centred, so each block returns the samples its filter has fully seen.

    Args:
        f0_hz: ``(batch, frames)`` (or per sample), Hz in ``[0, sample_rate / 2)``.
        sample_rate: Hz.
        n_samples: output length.
        shape: one of :data:`WAVEFORMS` (``"square"`` is ``"pulse"`` at width 0.5).
        width: pulse width in ``(0, 1)``; float, ``(batch,)`` or ``(batch, frames)``.
        amplitude: linear; float, ``(batch,)`` or ``(batch, frames)``.
        initial_phase: ``(batch,)`` in cycles; zero if None.
        return_phase: also return the final phase.
        oversample: render at this multiple of the rate, then decimate (1: off).
        state: a previous block's :class:`OscillatorState` (see :func:`oscillator_state`).
        return_state: also return the next state.

    Returns:
        ``(batch, n_samples)`` in about ``[-amplitude, amplitude]``; or ``(y, phase)``;
        or ``(y, state)``.
        Gradients: f0_hz, width, amplitude, initial_phase.

    >>> y = oscillator(torch.full((1, 2), 100.0), sample_rate=8000, n_samples=800)
    >>> tuple(y.shape), abs(float(y.mean())) < 0.01
    ((1, 800), True)
    """
    f0_hz = check_signal(f0_hz, "f0_hz", min_ndim=2)
    if shape not in WAVEFORMS:
        raise ValueError(f"expected shape in {WAVEFORMS}, got {shape!r}")
    if f0_hz.ndim != 2:
        raise ValueError(f"expected f0_hz of shape (batch, frames), got {tuple(f0_hz.shape)}")
    check_sample_rate(sample_rate)
    check_range(f0_hz, "f0_hz", 0.0, sample_rate / 2, low_inclusive=True)
    check_finite(amplitude, "amplitude")
    check_range(width, "width", 0.0, 1.0)
    if not isinstance(oversample, int) or oversample < 1:
        raise ValueError(f"expected a positive int oversample, got {oversample!r}")
    batch = f0_hz.shape[0]
    n_os = n_samples * oversample
    f0 = _per_sample(f0_hz.to(torch.float64), batch, n_os, f0_hz.to(torch.float64), oversample)
    inc = f0 / (sample_rate * oversample)
    p0 = torch.zeros(batch, 1, dtype=torch.float64, device=f0.device)
    if initial_phase is not None:
        check_finite(initial_phase, "initial_phase")
        p0 = initial_phase.to(torch.float64).reshape(batch, 1)
    if return_state and state is None:  # a stream starting from silence
        state = oscillator_state(
            batch, oversample=oversample, dtype=f0_hz.dtype, device=f0_hz.device
        )
    if state is not None:
        p0 = state.phase.detach().to(torch.float64).reshape(batch, 1)
    cycles = p0 + torch.cumsum(inc, -1) - inc
    p = torch.remainder(cycles, 1.0)
    dt = inc.clamp_min(1e-12)
    if shape == "saw":
        y = 2 * p - 1 - _blep(p, dt)
    elif shape == "triangle":
        # corners: slope +8 dt per sample at p = 0, -8 dt at p = 0.5
        corners = _blamp(p, dt) - _blamp(torch.remainder(p + 0.5, 1.0), dt)
        y = 1 - 4 * torch.abs(p - 0.5) + 4 * dt * corners
    else:
        w = (
            0.5
            if shape == "square"
            else _per_sample(width, batch, n_os, f0, oversample).to(torch.float64)
        )
        naive = torch.where(p < w, 1.0, -1.0).to(torch.float64)
        # rising edge at p = 0, falling edge at p = w
        y = naive + _blep(p, dt) - _blep(torch.remainder(p + 1 - w, 1.0), dt)
        if shape == "pulse":
            y = y - (2 * w - 1)  # remove the DC of an asymmetric pulse
    y = y.to(f0_hz.dtype)
    history = y[:, :0]
    if oversample > 1:
        h = _decimator(oversample, y.dtype, y.device)
        half = h.shape[0] // 2
        if state is None:  # offline: the filter is centred on each output sample
            padded = torch.nn.functional.pad(y[:, None], (half, half))
        else:  # streamed: the samples seen so far; the output lags by half the filter
            padded = torch.cat([state.history.to(y.dtype), y], -1)[:, None]
            history = padded[:, 0, padded.shape[-1] - 2 * half :].detach()
        y = torch.nn.functional.conv1d(padded, h.flip(0)[None, None], stride=oversample)
        y = y[:, 0, :n_samples]
    end = p0[:, 0] + (inc.sum(-1) if n_os else 0.0)
    amp = _per_sample(amplitude, batch, n_samples, f0_hz)
    amp_hist = amp[:, :0]
    if state is not None:  # an amplitude meets its sample when it leaves the filter
        joined = torch.cat([state.amplitude.to(amp.dtype), amp], -1)
        amp_hist = joined[:, joined.shape[-1] - state.amplitude.shape[-1] :].detach()
        amp = joined[:, :n_samples]
    y = amp * y
    if return_state:
        return y, OscillatorState(torch.remainder(end, 1.0)[:, None], history, amp_hist)
    if return_phase:
        return y, torch.remainder(end, 1.0)
    return y


def _phase(
    f0_hz: torch.Tensor, n_samples: int, sample_rate: float, p0: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample phase in cycles (float64, wrapped) of ``(batch, frames)`` frequencies,
    the per-sample frequencies, and the phase at the next sample ``(batch, 1)``."""
    batch = f0_hz.shape[0]
    f0 = _per_sample(f0_hz.to(torch.float64), batch, n_samples, f0_hz.to(torch.float64))
    inc = f0 / sample_rate
    start = torch.zeros(batch, 1, dtype=torch.float64, device=f0.device) if p0 is None else p0
    end = torch.remainder(start + inc.sum(-1, keepdim=True), 1.0)
    return torch.remainder(start + torch.cumsum(inc, -1) - inc, 1.0), f0, end


def fm(
    f0_hz: torch.Tensor,
    *,
    sample_rate: float,
    n_samples: int,
    ratio: float | torch.Tensor = 1.0,
    index: float | torch.Tensor = 1.0,
    amplitude: float | torch.Tensor = 1.0,
    state: torch.Tensor | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Two-operator FM (phase modulation, as in Chowning 1973 and the DX7):
    ``y = amplitude * sin(2 pi p_c + index * sin(2 pi p_m))``, the modulator at
    ``ratio * f0``. Sidebands above Nyquist are not removed: keep ``index * ratio * f0``
    well below it.

    Args:
        f0_hz: carrier ``(batch, frames)`` in Hz.
        ratio: modulator / carrier frequency ratio ``> 0``; float, ``(batch,)`` or
            ``(batch, frames)``.
        index: modulation index (radians of peak phase deviation) ``>= 0``; same forms.
        amplitude: linear; same forms.
        state: carrier and modulator phases ``(batch, 2)`` in cycles from a previous block.
        return_state: also return the phases at the next sample.

    Returns:
        ``(batch, n_samples)``, or ``(y, state)``. Gradients: f0_hz, ratio, index, amplitude.
    """
    f0_hz = check_signal(f0_hz, "f0_hz", min_ndim=2)
    if f0_hz.ndim != 2:
        raise ValueError(f"expected f0_hz of shape (batch, frames), got {tuple(f0_hz.shape)}")
    check_sample_rate(sample_rate)
    check_range(f0_hz, "f0_hz", 0.0, sample_rate / 2, low_inclusive=True)
    check_finite(amplitude, "amplitude")
    check_range(ratio, "ratio", 0.0, math.inf)
    check_range(index, "index", 0.0, math.inf, low_inclusive=True)
    batch = f0_hz.shape[0]
    start = None if state is None else state.detach().to(torch.float64)
    p_c, f0, end_c = _phase(f0_hz, n_samples, sample_rate, None if start is None else start[:, :1])
    r = _per_sample(ratio, batch, n_samples, f0)
    inc_m = f0 * r / sample_rate
    m0 = 0.0 if start is None else start[:, 1:]
    p_m = torch.remainder(m0 + torch.cumsum(inc_m, -1) - inc_m, 1.0)
    end_m = torch.remainder(m0 + inc_m.sum(-1, keepdim=True), 1.0)
    mod = _per_sample(index, batch, n_samples, f0) * torch.sin(2 * math.pi * p_m)
    y = torch.sin(2 * math.pi * p_c + mod).to(f0_hz.dtype)
    y = _per_sample(amplitude, batch, n_samples, f0_hz) * y
    if return_state:
        return y, torch.cat([end_c, end_m.expand(batch, 1)], -1).detach()
    return y


def wavetable(
    f0_hz: torch.Tensor,
    table: torch.Tensor,
    *,
    sample_rate: float,
    n_samples: int,
    amplitude: float | torch.Tensor = 1.0,
    state: torch.Tensor | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Wavetable oscillator with a learnable single-cycle table, band-limited by mip-maps.

    The table's spectrum (``rfft``) is cut into octave levels: level ``m`` keeps the
    harmonics up to ``table_size / 2^(m+1)``. Each sample reads the level whose highest
    harmonic stays below Nyquist at its f0, with linear interpolation between table
    entries. Differentiable in the table and the amplitude (and in f0 through the phase).

    Args:
        f0_hz: ``(batch, frames)`` in Hz.
        table: one cycle, ``(table_size,)`` shared or ``(batch, table_size)``; size a power of 2.
        amplitude: linear; float, ``(batch,)`` or ``(batch, frames)``.
        state: the phase ``(batch, 1)`` in cycles from a previous block.
        return_state: also return the phase at the next sample.

    Returns:
        ``(batch, n_samples)``, or ``(y, state)``.
    """
    f0_hz = check_signal(f0_hz, "f0_hz", min_ndim=2)
    table = check_signal(table, "table")
    size = table.shape[-1]
    if size < 4 or size & (size - 1):
        raise ValueError(f"expected a power-of-two table size >= 4, got {size}")
    if table.ndim == 1:
        table = table.expand(f0_hz.shape[0], size)
    if table.ndim != 2 or table.shape[0] != f0_hz.shape[0]:
        raise ValueError(
            f"expected table (table_size,) or (batch, table_size), got {tuple(table.shape)}"
        )
    check_sample_rate(sample_rate)
    check_range(f0_hz, "f0_hz", 0.0, sample_rate / 2, low_inclusive=True)
    check_finite(amplitude, "amplitude")
    batch = f0_hz.shape[0]
    spec = torch.fft.rfft(table.to(torch.float64))  # (B, size/2 + 1)
    n_levels = int(math.log2(size)) - 1
    harm = torch.arange(spec.shape[-1], device=spec.device)
    levels = torch.stack(
        [torch.fft.irfft(spec * (harm <= size // 2 ** (m + 1)), n=size) for m in range(n_levels)], 1
    )  # (B, L, size): level m keeps harmonics <= size / 2^(m+1)
    p, f0, end = _phase(
        f0_hz, n_samples, sample_rate, None if state is None else state.detach().double()
    )
    max_harm = torch.floor((sample_rate / 2) / f0.clamp_min(1e-9))  # highest audible harmonic
    # smallest m with size / 2^(m+1) <= max_harm
    level = (
        torch.ceil(torch.log2((size / 2) / max_harm.clamp_min(1.0))).clamp(0, n_levels - 1).long()
    )
    pos = p * size
    i0 = pos.floor().long() % size
    frac = pos - pos.floor()
    i1 = (i0 + 1) % size
    flat = levels.reshape(batch, n_levels * size)
    v0 = torch.gather(flat, 1, level * size + i0)
    v1 = torch.gather(flat, 1, level * size + i1)
    y = (v0 + frac * (v1 - v0)).to(f0_hz.dtype)
    y = _per_sample(amplitude, batch, n_samples, f0_hz) * y
    return (y, end.detach()) if return_state else y
