"""Oscillators in physical units: the fused harmonic (additive) oscillator bank."""

from __future__ import annotations

import math

import torch

from .._checks import check_finite, check_range, check_signal
from ..ops import HarmonicFunction, SinusoidalFunction
from ._controls import upsample_frames

__all__ = ["harmonic", "sinusoidal", "frame_interpolation"]


def frame_interpolation(
    n_frames: int, n_samples: int, device: torch.device | None = None, method: str = "linear"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tables for linear interpolation of ``n_frames >= 2`` frames to ``n_samples``.

    Frames are spread evenly from the first to the last sample (ends aligned), as in
    :func:`ddsp.functional._controls.upsample_frames`; ``method="window"`` gives the
    raised-cosine weights of overlapping Hann windows instead of linear ones.

    Returns:
        ``index (T,)`` int64 in ``[0, F-2]``, ``weight (T,)`` float64 in ``[0, 1]`` and
        ``starts (F,)`` int64: the first sample of each frame interval, then ``T``.
    """
    if n_samples == 1:
        pos = torch.zeros(1, dtype=torch.float64, device=device)
    else:
        pos = torch.arange(n_samples, dtype=torch.float64, device=device) * (
            (n_frames - 1) / (n_samples - 1)
        )
    if method not in ("linear", "window"):
        raise ValueError(f"expected method 'linear' or 'window', got {method!r}")
    index = pos.floor().clamp(max=n_frames - 2).to(torch.int64)
    weight = pos - index
    if method == "window":
        weight = 0.5 - 0.5 * torch.cos(math.pi * weight)
    frames = torch.arange(n_frames, device=device)
    starts = torch.searchsorted(index, frames)  # index is sorted; starts[F-1] = T
    return index, weight, starts


def harmonic(
    f0_hz: torch.Tensor,
    amplitudes: torch.Tensor,
    *,
    sample_rate: float,
    n_samples: int,
    initial_phase: torch.Tensor | None = None,
    return_phase: bool = False,
    amplitude_interpolation: str = "linear",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Harmonic (additive) oscillator: the DDSP core, fused in one numba kernel.

    ``y[t] = sum_h A_h[t] sin(2 pi h p[t])`` with ``p`` the running phase of ``f0`` in
    cycles (Engel et al., "DDSP", ICLR 2020, section 3.2). Controls at frame rate are
    upsampled linearly inside the kernel (ends aligned); harmonics at or above Nyquist
    are silent sample by sample. The phase is accumulated in float64 and wrapped, so long
    renders stay in tune; harmonics come from a Chebyshev recurrence, not one sine each,
    and neither pass materialises a ``(batch, time, harmonics)`` tensor.

    Args:
        f0_hz: fundamental in Hz, ``(batch, frames)`` (or ``(batch, n_samples)`` per
            sample); ``>= 0``.
        amplitudes: per-harmonic amplitudes ``(batch, frames_a, n_harmonics)``, linear,
            frames of their own rate (``frames_a >= 1``).
        sample_rate: Hz.
        n_samples: output length.
        initial_phase: start phase in cycles ``(batch,)``; zero if None.
        return_phase: also return the final phase (the next block's ``initial_phase``).
        amplitude_interpolation: ``"linear"`` or ``"window"`` (overlapping Hann windows,
            smooth at every frame: DDSP's choice for amplitudes).

    Returns:
        ``y (batch, n_samples)``, or ``(y, phase)`` with ``phase (batch,)`` in cycles.

    Devices: cpu, cuda. Gradients: f0_hz, amplitudes, initial_phase.

    >>> f0 = torch.full((1, 10), 1000.0)
    >>> y = harmonic(f0, torch.ones(1, 10, 1), sample_rate=8000, n_samples=3)
    >>> [round(v, 4) for v in y[0].tolist()]
    [0.0, 0.7071, 1.0]
    """
    f0_hz = check_signal(f0_hz, "f0_hz", min_ndim=2)
    amplitudes = check_signal(amplitudes, "amplitudes", min_ndim=3)
    if f0_hz.ndim != 2 or amplitudes.ndim != 3:
        raise ValueError(
            f"expected f0_hz (batch, frames) and amplitudes (batch, frames, n_harmonics), "
            f"got shapes {tuple(f0_hz.shape)} and {tuple(amplitudes.shape)}"
        )
    if amplitudes.shape[0] != f0_hz.shape[0]:
        raise ValueError(
            f"expected amplitudes with batch {f0_hz.shape[0]} like f0_hz, got {amplitudes.shape[0]}"
        )
    if amplitudes.dtype != f0_hz.dtype or amplitudes.device != f0_hz.device:
        raise TypeError(
            f"expected amplitudes with dtype {f0_hz.dtype} on {f0_hz.device} like f0_hz, "
            f"got {amplitudes.dtype} on {amplitudes.device}"
        )
    if amplitudes.shape[1] == 0 or amplitudes.shape[2] == 0 or f0_hz.shape[1] == 0:
        raise ValueError(
            f"expected at least one frame and one harmonic, got f0_hz {tuple(f0_hz.shape)} "
            f"and amplitudes {tuple(amplitudes.shape)}"
        )
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"expected n_samples to be a positive int, got {n_samples!r}")
    check_range(sample_rate, "sample_rate", 0.0, math.inf)
    check_range(f0_hz, "f0_hz", 0.0, math.inf, low_inclusive=True)
    batch = f0_hz.shape[0]
    if initial_phase is None:
        p0 = torch.zeros(batch, dtype=torch.float64, device=f0_hz.device)
    else:
        if not isinstance(initial_phase, torch.Tensor) or initial_phase.shape != (batch,):
            got = (
                tuple(initial_phase.shape)
                if isinstance(initial_phase, torch.Tensor)
                else initial_phase
            )
            raise ValueError(f"expected initial_phase of shape ({batch},), got {got}")
        check_finite(initial_phase, "initial_phase")
        p0 = initial_phase.to(torch.float64)
    # Per-sample f0 in float64 whatever the input dtype: float32 interpolation would put
    # ~1e-7 relative error into every increment, and the phase integrates it.
    f0 = f0_hz.to(torch.float64)
    f0 = f0 if f0.shape[1] in (1, n_samples) else upsample_frames(f0, n_samples)
    f0 = f0.expand(batch, n_samples).contiguous()
    amps = amplitudes if amplitudes.shape[1] > 1 else amplitudes.expand(-1, 2, -1)
    index, weight, starts = frame_interpolation(
        amps.shape[1], n_samples, f0.device, amplitude_interpolation
    )
    y, p_end, _ = HarmonicFunction.apply(
        f0, amps.contiguous(), p0, index, weight, starts, float(sample_rate)
    )  # y takes the amplitudes' dtype
    if return_phase:
        return y, p_end if initial_phase is None else p_end.to(initial_phase.dtype)
    return y


def sinusoidal(
    frequencies_hz: torch.Tensor,
    amplitudes: torch.Tensor,
    *,
    sample_rate: float,
    n_samples: int,
    initial_phase: torch.Tensor | None = None,
    return_phase: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Bank of sinusoids with free, time-varying frequencies (additive/spectral modelling).

    Each oscillator accumulates its own float64 phase; frame controls are interpolated
    linearly inside the kernel (ends aligned) and an oscillator at or above Nyquist (or
    below 0 Hz) is silent sample by sample. Memory stays O(batch x time).

    Args:
        frequencies_hz: ``(batch, frames, n_sinusoids)`` in Hz.
        amplitudes: ``(batch, frames, n_sinusoids)``, linear, same dtype.
        sample_rate: Hz.
        n_samples: output length.
        initial_phase: ``(batch, n_sinusoids)`` in cycles; zero if None.
        return_phase: also return the final phases.

    Returns:
        ``(batch, n_samples)``, or ``(y, phases)``.

    Devices: cpu, cuda. Gradients: frequencies_hz, amplitudes, initial_phase.
    """
    frequencies_hz = check_signal(frequencies_hz, "frequencies_hz", min_ndim=3)
    amplitudes = check_signal(amplitudes, "amplitudes", min_ndim=3)
    if frequencies_hz.ndim != 3 or frequencies_hz.shape != amplitudes.shape:
        raise ValueError(
            f"expected frequencies_hz and amplitudes of one shape (batch, frames, n_sinusoids), "
            f"got {tuple(frequencies_hz.shape)} and {tuple(amplitudes.shape)}"
        )
    if frequencies_hz.dtype != amplitudes.dtype:
        raise TypeError(f"expected one dtype, got {frequencies_hz.dtype} and {amplitudes.dtype}")
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"expected n_samples to be a positive int, got {n_samples!r}")
    check_range(sample_rate, "sample_rate", 0.0, math.inf)
    batch, _, n_k = frequencies_hz.shape
    if initial_phase is None:
        p0 = torch.zeros(batch, n_k, dtype=torch.float64, device=frequencies_hz.device)
    else:
        if initial_phase.shape != (batch, n_k):
            raise ValueError(
                f"expected initial_phase of shape ({batch}, {n_k}), "
                f"got {tuple(initial_phase.shape)}"
            )
        check_finite(initial_phase, "initial_phase")
        p0 = initial_phase.to(torch.float64)
    freqs, amps = frequencies_hz, amplitudes
    if freqs.shape[1] == 1:
        freqs, amps = freqs.expand(-1, 2, -1), amps.expand(-1, 2, -1)
    index, weight, starts = frame_interpolation(freqs.shape[1], n_samples, freqs.device)
    y, p_end, _ = SinusoidalFunction.apply(
        freqs.contiguous(), amps.contiguous(), p0, index, weight, starts, float(sample_rate)
    )
    return (y, p_end) if return_phase else y
