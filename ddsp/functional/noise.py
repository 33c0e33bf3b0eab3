"""Noise sources: seeded white noise and DDSP filtered noise (time-varying FIR by
frequency sampling, applied frame by frame with overlap-add)."""

from __future__ import annotations

import torch

from .._checks import check_signal

__all__ = ["white_noise", "magnitudes_to_impulse_responses", "filtered_noise", "frequency_filter"]


def white_noise(
    shape: tuple[int, ...],
    *,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Uniform white noise in [-1, 1): the same ``seed`` gives the same noise on a device.

    >>> bool(torch.equal(white_noise((2, 8), seed=3), white_noise((2, 8), seed=3)))
    True
    """
    gen = None
    if seed is not None:
        gen = torch.Generator(device=device or "cpu").manual_seed(int(seed))
    return torch.rand(shape, generator=gen, dtype=dtype, device=device) * 2 - 1


def magnitudes_to_impulse_responses(
    magnitudes: torch.Tensor, ir_size: int | None = None
) -> torch.Tensor:
    """Per-frame linear-phase FIR filters from magnitude responses (frequency sampling).

    The magnitudes (``n_bands`` bins spaced evenly from 0 Hz to Nyquist) are taken as a
    zero-phase spectrum, inverted, shifted to be causal and symmetric, and windowed with
    a Hann window (the frequency-sampling method, Oppenheim & Schafer 7.6; DDSP's
    ``frequency_impulse_response``).

    Args:
        magnitudes: ``(..., frames, n_bands)``, linear, >= 0.
        ir_size: taps (odd); defaults to ``2 * (n_bands - 1) + 1``.

    Returns:
        ``(..., frames, ir_size)``.
    """
    n_bands = magnitudes.shape[-1]
    n_fft = 2 * (n_bands - 1)
    ir = torch.fft.irfft(
        magnitudes.to(torch.promote_types(magnitudes.dtype, torch.float32)), n=n_fft
    )
    ir = torch.roll(ir, n_fft // 2, dims=-1)  # zero phase -> centred, causal
    size = ir_size or n_fft + 1
    if size % 2 == 0 or not 1 <= size <= n_fft + 1:
        raise ValueError(f"expected an odd ir_size in [1, {n_fft + 1}], got {size}")
    ir = torch.cat([ir, ir[..., :1]], -1)  # n_fft + 1 taps, symmetric about the centre
    start = n_fft // 2 - size // 2
    ir = ir[..., start : start + size]
    window = torch.hann_window(size + 2, periodic=False, dtype=ir.dtype, device=ir.device)[1:-1]
    return ir * window


def frequency_filter(
    x: torch.Tensor, magnitudes: torch.Tensor, ir_size: int | None = None
) -> torch.Tensor:
    """Filter ``x (batch, T)`` with per-frame magnitude responses ``(batch, frames, n_bands)``.

    The signal is cut into ``frames`` equal blocks (the last one may be shorter); each
    block is convolved (FFT) with its frame's impulse response and the tails overlap-add,
    so the output has the input's length and the filter changes at block boundaries.
    """
    x = check_signal(x, "x", min_ndim=2)
    magnitudes = check_signal(magnitudes, "magnitudes", min_ndim=3)
    if x.ndim != 2 or magnitudes.ndim != 3 or magnitudes.shape[0] != x.shape[0]:
        raise ValueError(
            f"expected x (batch, time) and magnitudes (batch, frames, n_bands) of one batch, "
            f"got {tuple(x.shape)} and {tuple(magnitudes.shape)}"
        )
    if magnitudes.shape[-1] < 2:
        raise ValueError(f"expected at least 2 bands, got {magnitudes.shape[-1]}")
    batch, n_t = x.shape
    n_frames = magnitudes.shape[1]
    ir = magnitudes_to_impulse_responses(magnitudes, ir_size).to(x.dtype)  # (B, F, L)
    hop = -(-n_t // n_frames)  # ceil
    blocks = torch.nn.functional.pad(x, (0, hop * n_frames - n_t)).reshape(batch, n_frames, hop)
    size = hop + ir.shape[-1] - 1
    n_fft = 1 << (size - 1).bit_length()
    y = torch.fft.irfft(torch.fft.rfft(blocks, n_fft) * torch.fft.rfft(ir, n_fft), n_fft)[
        ..., :size
    ]
    # Overlap-add the frames' outputs (each starts hop samples after the previous one).
    out = torch.nn.functional.fold(
        y.transpose(1, 2),
        output_size=(1, hop * (n_frames - 1) + size),
        kernel_size=(1, size),
        stride=(1, hop),
    )
    delay = (ir.shape[-1] - 1) // 2  # linear phase: centre the filters in time
    return out.reshape(batch, -1)[:, delay : delay + n_t]


def filtered_noise(
    magnitudes: torch.Tensor,
    n_samples: int,
    *,
    seed: int | None = None,
    ir_size: int | None = None,
) -> torch.Tensor:
    """DDSP filtered noise: white noise shaped by per-frame magnitude responses.

    Args:
        magnitudes: ``(batch, frames, n_bands)`` linear gains from 0 Hz to Nyquist.
        n_samples: output length.
        seed: noise seed (None: torch's global generator).

    Returns:
        ``(batch, n_samples)``. Gradients: magnitudes.
    """
    noise = white_noise(
        (magnitudes.shape[0], n_samples),
        seed=seed,
        dtype=magnitudes.dtype,
        device=magnitudes.device,
    )
    return frequency_filter(noise, magnitudes, ir_size)
