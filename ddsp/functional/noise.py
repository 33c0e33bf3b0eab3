"""Noise sources: seeded white noise and DDSP filtered noise (time-varying FIR by
frequency sampling, applied frame by frame with overlap-add)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from .._checks import check_finite, check_signal

__all__ = [
    "white_noise",
    "magnitudes_to_impulse_responses",
    "filtered_noise",
    "frequency_filter",
    "NoiseState",
    "noise_state",
    "filtered_noise_blocks",
    "frames_starting",
]


_M32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``x * c mod 2^32`` for ``x`` in [0, 2^32) held in int64, without overflowing int64."""
    lo = x * (c & 0xFFFF)
    hi = ((x * (c >> 16)) & 0xFFFF) << 16
    return (lo + hi) & _M32


def _hash32(x: torch.Tensor) -> torch.Tensor:
    """Chris Wellons' "lowbias32" integer hash (a bijection on 32-bit words, strong
    avalanche), on int64 tensors holding 32-bit values."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def white_noise(
    shape: tuple[int, ...],
    *,
    seed: int | None = None,
    offset: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Uniform white noise in [-1, 1): a counter-based generator, seekable and streamable.

    Sample ``t`` of row ``r`` (rows: every index but the last) is a hash of ``(seed, r,
    offset + t)``, so the same seed gives the same noise on any device and in any
    block split: ``white_noise((b, n), seed=s, offset=k)`` continues
    ``white_noise((b, k), seed=s)`` exactly. ``seed=None`` draws a seed from torch's
    global generator (``torch.manual_seed`` makes it repeatable). 24-bit resolution.

    >>> a = white_noise((2, 8), seed=3)
    >>> bool(torch.equal(torch.cat([a[:, :5], white_noise((2, 3), seed=3, offset=5)], 1), a))
    True
    """
    if seed is None:
        seed = int(torch.randint(0, 2**31 - 1, ()))
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"expected an integer seed or None, got {seed!r}")
    n_t = shape[-1] if shape else 1
    rows = 1
    for d in shape[:-1]:
        rows *= d
    dev = torch.device(device) if device is not None else None
    # odd constants keep zero inputs away from the hash's fixed point at 0
    key = _hash32(torch.tensor((seed & _M32) ^ 0x9E3779B9, dtype=torch.int64, device=dev))
    key = _hash32(key ^ ((seed >> 32) & _M32) ^ 0x85EBCA6B)
    r = torch.arange(rows, dtype=torch.int64, device=dev)[:, None]
    t = offset + torch.arange(n_t, dtype=torch.int64, device=dev)[None, :]
    h = _hash32(_hash32(key ^ (r & _M32) ^ 0xC2B2AE35) ^ ((t >> 32) & _M32) ^ 0x27D4EB2F)
    h = _hash32(h ^ (t & _M32))
    u = (h >> 8).to(torch.float64) * (2.0**-24)
    return (u * 2 - 1).to(dtype).reshape(shape)


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
    check_finite(magnitudes, "magnitudes")
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


class NoiseState(NamedTuple):
    """State of :func:`filtered_noise_blocks` between blocks.

    Attributes:
        offset: samples of noise drawn so far (the counter of :func:`white_noise`).
        pending: ``(batch, frame_size + ir_size - 1)`` the overlap-add tail: what the
            frames started so far still add to the coming samples.
        seed: the noise seed.
    """

    offset: int
    pending: torch.Tensor
    seed: int


def noise_state(
    batch: int,
    frame_size: int,
    ir_size: int,
    seed: int | None,
    *,
    dtype: torch.dtype = torch.float32,
    device: Any = None,
) -> NoiseState:
    """The state of a silent filtered-noise stream (``seed=None`` draws one, see
    :func:`white_noise`)."""
    if seed is None:
        seed = int(torch.randint(0, 2**31 - 1, ()))
    pending = torch.zeros(batch, frame_size + ir_size - 1, dtype=dtype, device=device)
    return NoiseState(0, pending, int(seed))


def frames_starting(start: int, n_samples: int, frame_size: int) -> int:
    """How many frames of ``frame_size`` samples start in samples ``[start, start + n)``."""
    first = -(-start // frame_size)
    last = -(-(start + n_samples) // frame_size)
    return last - first


def filtered_noise_blocks(
    magnitudes: torch.Tensor, n_samples: int, state: NoiseState, *, frame_size: int
) -> tuple[torch.Tensor, NoiseState]:
    """:func:`filtered_noise` block by block: frames of ``frame_size`` samples.

    Args:
        magnitudes: ``(batch, k, n_bands)`` for the ``k`` frames that start in this block
            (:func:`frames_starting`), each shaping the noise of its own ``frame_size``
            samples as in :func:`frequency_filter`.
        n_samples: block length.
        state: from :func:`noise_state` (its ``ir_size`` fixes the filters' length) or
            the previous block.

    Returns:
        ``(noise (batch, n_samples), state)``. The output lags :func:`filtered_noise` by
        ``(ir_size - 1) // 2`` samples (the linear-phase filters' centre): offline the
        filters are centred on their frames; streamed, a frame adds its filtered noise
        when it starts. Gradients: magnitudes.
    """
    batch, k, n_bands = magnitudes.shape
    span = state.pending.shape[-1]
    ir_size = span - frame_size + 1
    start = state.offset
    want = frames_starting(start, n_samples, frame_size)
    if k != want:
        raise ValueError(
            f"expected magnitudes for the {want} frame(s) of {frame_size} samples starting in "
            f"samples [{start}, {start + n_samples}), got {k}"
        )
    acc = torch.nn.functional.pad(state.pending, (0, n_samples))
    if k:
        first = -(-start // frame_size)
        ir = magnitudes_to_impulse_responses(magnitudes, ir_size).to(acc.dtype)  # (B, k, L)
        n_fft = 1 << (frame_size + ir_size - 2).bit_length()
        spans = []
        for j in range(k):
            t0 = (first + j) * frame_size
            noise = white_noise(
                (batch, frame_size), seed=state.seed, offset=t0, dtype=acc.dtype, device=acc.device
            )
            spans.append((t0 - start, noise))
        noise = torch.stack([n for _, n in spans], 1)  # (B, k, frame_size)
        y = torch.fft.irfft(torch.fft.rfft(noise, n_fft) * torch.fft.rfft(ir, n_fft), n_fft)
        y = y[..., :span]
        pieces = [acc]
        for j, (at, _) in enumerate(spans):
            pieces.append(torch.nn.functional.pad(y[:, j], (at, acc.shape[-1] - at - span)))
        acc = sum(pieces)
    out = acc[:, :n_samples]
    return out, NoiseState(start + n_samples, acc[:, n_samples:].detach(), state.seed)
