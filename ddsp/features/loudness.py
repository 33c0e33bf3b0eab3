"""A-weighted loudness in dB, power-averaged across frequency."""

from __future__ import annotations

import math

import torch

from .._checks import check_range
from ._frames import as_mono_batch, frame_chunks, n_frames

__all__ = ["loudness", "a_weighting_db", "default_n_fft"]


def a_weighting_db(freqs_hz: torch.Tensor) -> torch.Tensor:
    """IEC 61672-1 A-weighting in dB (0 dB at 1 kHz; -inf at 0 Hz)."""
    f2 = freqs_hz.double() ** 2
    ra = (12194.0**2 * f2**2) / (
        (f2 + 20.6**2) * torch.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2)
    )
    return 20 * torch.log10(ra) + 2.0


def default_n_fft(sample_rate: float) -> int:
    """A power of two near 128 ms (DDSP's 2048 at 16 kHz), at least 256."""
    return max(256, 1 << round(math.log2(0.128 * sample_rate)))


def loudness(
    x: torch.Tensor,
    sample_rate: float,
    frame_rate: float = 250.0,
    *,
    n_fft: int | None = None,
    floor_db: float = -120.0,
) -> torch.Tensor:
    """A-weighted loudness per frame, in dB relative to a full-scale square wave's power.

    Each frame (Hann window of ``n_fft`` samples centred on ``i / frame_rate`` s) is
    transformed, every bin's *power* is weighted by the A-curve, and the weighted powers
    are summed across frequency and scaled to the frame's mean-square value (Parseval) --
    averaging power, not dB, across frequency. So a steady sine of amplitude ``A`` at
    ``f`` Hz reads ``10 log10(A^2 / 2) + a_weighting_db(f)``.

    Args:
        x: ``(time,)``, ``(batch, time)`` or ``(batch, channels, time)`` (channels averaged).
        sample_rate: Hz.
        frame_rate: frames per second (any positive rate, not only divisors of the rate).
        n_fft: window length; default :func:`default_n_fft`.
        floor_db: the value of silence (added as power, so no log of zero).

    Returns:
        ``(batch, frames)`` dB, ``frames = ceil(time * frame_rate / sample_rate)``.
        Differentiable; runs wherever ``x`` is (CPU or CUDA), in chunks of frames.
    """
    x = as_mono_batch(x)
    check_range(sample_rate, "sample_rate", 0.0, math.inf)
    check_range(frame_rate, "frame_rate", 0.0, sample_rate, high_inclusive=True)
    n = n_fft or default_n_fft(sample_rate)
    if n < 16:
        raise ValueError(f"expected n_fft >= 16, got {n}")
    window = torch.hann_window(n, periodic=True, dtype=x.dtype, device=x.device)
    freqs = torch.fft.rfftfreq(n, 1.0 / sample_rate)
    weight = 10 ** (a_weighting_db(freqs) / 10)
    weight[1:-1] *= 2  # one-sided spectrum: every bin but DC and Nyquist counts twice
    if n % 2:
        weight[-1] *= 2
    weight = (weight / (n * float(window.square().sum()))).to(x.dtype).to(x.device)
    total = n_frames(x.shape[-1], sample_rate, frame_rate)
    # results go into one preallocated tensor: small per-chunk tensors kept between the
    # chunks' large temporaries fragment the heap, and the process grows chunk by chunk
    mean_square = x.new_empty(x.shape[0], total)
    for start, frames in frame_chunks(x, sample_rate, frame_rate, n, total):
        power = torch.view_as_real(torch.fft.rfft(frames * window)).square().sum(-1)
        mean_square[:, start : start + frames.shape[1]] = (power * weight).sum(-1)
    return 10 * torch.log10(mean_square + 10 ** (floor_db / 10))
