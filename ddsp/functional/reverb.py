"""Reverbs by convolution: a given (learnable or measured) impulse response, and DDSP's
parametric noise reverb (exponentially decaying noise, per-band decay times)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from .._checks import check_finite, check_range, check_sample_rate, check_signal
from ..ops import spectral_mac
from ._controls import as_control
from .noise import white_noise

__all__ = [
    "fft_convolve",
    "ConvolutionState",
    "convolution_state",
    "convolve_blocks",
    "ir_partitions",
    "partition_size",
    "convolution_reverb",
    "noise_reverb_ir",
    "load_impulse_response",
    "rt60_from_ir",
]

_LN_1000 = math.log(1000.0)  # a 60 dB amplitude decay is a factor of 1000


def fft_convolve(x: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
    """Linear convolution along time by FFT, cut to ``x``'s length: ``(..., T) * (..., L)``."""
    check_finite(x, "x")
    check_finite(ir, "ir")
    n_t, n_ir = x.shape[-1], ir.shape[-1]
    n_fft = 1 << (n_t + n_ir - 2).bit_length()
    spec = torch.fft.rfft(x, n_fft) * torch.fft.rfft(ir.to(x.dtype), n_fft)
    return torch.fft.irfft(spec, n_fft)[..., :n_t]


class ConvolutionState(NamedTuple):
    """State of a partitioned convolution between blocks (see :func:`convolve_blocks`).

    Attributes:
        history: the last ``P - 1`` input samples ``(..., P - 1)`` (the head's memory).
        chunk: the input of the current partition so far ``(..., P)``; ``fill`` of it is set.
        previous: the previous full partition of input ``(..., P)``.
        spectra: FFTs of the last ``K - 1`` two-partition windows ``(..., K - 1, P + 1)``,
            a ring (the frequency-domain delay line): window ``j`` in slot ``j % (K - 1)``.
        tail: the tail's output for the current partition's samples ``(..., P)``.
        fill: samples of the current partition received.
        count: windows written to the ring so far.
    """

    history: torch.Tensor
    chunk: torch.Tensor
    previous: torch.Tensor
    spectra: torch.Tensor
    tail: torch.Tensor
    fill: int
    count: int = 0


def partition_size(ir_length: int, largest: int = 512) -> int:
    """Partition size of the streamed convolution: a power of two up to ``largest``."""
    return max(1, min(largest, 1 << max(0, (ir_length - 1).bit_length())))


def ir_partitions(ir: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An IR ``(..., L)`` cut for :func:`convolve_blocks`: the head ``(..., P)`` and the
    spectra of the other partitions (FFT size ``2 P``), in the order the ring of window
    spectra reads them: partitions ``K - 1 .. 1``, twice, ``(..., 2 (K - 1), P + 1)``."""
    n_parts = max(1, -(-ir.shape[-1] // size))
    padded = torch.nn.functional.pad(ir, (0, n_parts * size - ir.shape[-1]))
    parts = padded.reshape(*ir.shape[:-1], n_parts, size)
    if n_parts == 1:  # the head holds the whole IR
        cdtype = torch.complex128 if ir.dtype == torch.float64 else torch.complex64
        return parts[..., 0, :], ir.new_zeros((*ir.shape[:-1], 0, size + 1), dtype=cdtype)
    backwards = torch.fft.rfft(parts[..., 1:, :], 2 * size).flip(-2)
    return parts[..., 0, :], torch.cat([backwards, backwards], -2)


def _tail(ring: torch.Tensor, count: int, spectra: torch.Tensor, size: int) -> torch.Tensor:
    """The tail's output for the next partition: window ``j`` (ring slot ``j % M``) meets
    IR partition ``count - j``; with the partitions stored backwards and twice, that is one
    contiguous slice."""
    m = ring.shape[-2]
    start = (-count) % m
    grad = torch.is_grad_enabled() and (ring.requires_grad or spectra.requires_grad)
    if not grad and spectra.ndim == 2:  # the numba sum (no graph)
        rows = ring.reshape(-1, m, ring.shape[-1])
        acc = spectral_mac(rows, spectra, start).reshape(*ring.shape[:-2], ring.shape[-1])
    else:
        acc = (ring * spectra[..., start : start + m, :]).sum(-2)
    return torch.fft.irfft(acc, 2 * size)[..., size:]


def convolution_state(
    shape: tuple[int, ...], ir_length: int, size: int, *, dtype: torch.dtype, device: Any
) -> ConvolutionState:
    """The state of a silent stream of signals ``(*shape, n)`` through an IR of ``ir_length``."""
    n_parts = max(1, -(-ir_length // size))
    complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64

    def zeros(n: int) -> torch.Tensor:
        return torch.zeros(*shape, n, dtype=dtype, device=device)

    spectra = torch.zeros(*shape, n_parts - 1, size + 1, dtype=complex_dtype, device=device)
    return ConvolutionState(zeros(size - 1), zeros(size), zeros(size), spectra, zeros(size), 0)


def convolve_blocks(
    x: torch.Tensor, head: torch.Tensor, spectra: torch.Tensor, state: ConvolutionState
) -> tuple[torch.Tensor, ConvolutionState]:
    """Linear convolution of a stream, block by block, with no latency.

    Uniformly partitioned convolution (Gardner, "Efficient convolution without
    input-output delay", JAES 1995; Wefers, "Partitioned convolution algorithms for
    real-time auralization", 2015): the IR's first partition runs as a direct (FFT)
    convolution of each block, and the others in the frequency domain, one partition of
    ``P`` input samples at a time, through a delay line of input spectra. Each full
    partition of input prepares the tail of the next ``P`` output samples, so any block
    size works and the output is the offline convolution, sample for sample (up to
    rounding). Cost: ``O(P)`` per sample for the head, ``O(K + log P)`` per sample for
    the tail, whatever the IR length ``L = K P``.

    Args:
        x: the block ``(..., n)``.
        head, spectra: the IR from :func:`ir_partitions` (broadcastable to ``x``'s rows).
        state: from :func:`convolution_state` or the previous block.

    Returns:
        ``(y, state)``: the block's convolution ``(..., n)`` and the next state.
        Gradients: x, the IR (within the block; the carried state holds values).
    """
    size = state.chunk.shape[-1]
    n = x.shape[-1]
    joined = torch.cat([state.history.expand(*x.shape[:-1], -1), x], -1)
    y = fft_convolve(joined, head)[..., size - 1 :]
    history = joined[..., joined.shape[-1] - (size - 1) :].detach()
    chunk, previous, ring, tail = state.chunk, state.previous, state.spectra, state.tail
    fill, count, pos, tails = state.fill, state.count, 0, []
    xd = x.detach()
    m = ring.shape[-2]
    # the ring is written in place (the state passed in changes), unless autograd keeps
    # it for the IR's gradient: then every write goes to a fresh copy
    inplace = not (torch.is_grad_enabled() and spectra.requires_grad)
    while pos < n:
        take = min(size - fill, n - pos)
        tails.append(tail[..., fill : fill + take])
        chunk = torch.cat(
            [chunk[..., :fill], xd[..., pos : pos + take], chunk[..., fill + take :]], -1
        )
        fill, pos = fill + take, pos + take
        if fill == size:
            if m:
                if not inplace:
                    ring = ring.clone()
                ring[..., count % m, :] = torch.fft.rfft(torch.cat([previous, chunk], -1))
                count += 1
                tail = _tail(ring, count, spectra, size)
            previous, chunk, fill = chunk, torch.zeros_like(chunk), 0
    if tails and m:
        y = y + torch.cat(tails, -1)
    new = ConvolutionState(history, chunk, previous, ring, tail.detach(), fill, count)
    return y, new


def convolution_reverb(
    x: torch.Tensor,
    ir: torch.Tensor,
    *,
    mix: float | torch.Tensor = 0.3,
    state: ConvolutionState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, ConvolutionState]:
    """Convolve with an impulse response and mix: ``(1 - mix) x + mix (x * ir)``.

    Offline, one FFT convolution of the whole signal; block by block (``state`` given,
    see :func:`convolution_state`), a zero-latency partitioned convolution
    (:func:`convolve_blocks`) whose output joins up to the offline one.

    Args:
        x: audio ``(..., T)``; give it room (zeros) at the end for the tail to ring out.
        ir: ``(L,)`` shared or broadcastable ``(..., L)``.
        mix: 0 dry .. 1 wet; float, per item or time-varying.
        state: a previous block's :class:`ConvolutionState`.
        return_state: also return the final state (starting from silence if ``state``
            is None).

    Returns:
        ``(..., T)``, or ``(y, state)``. Gradients: x, ir, mix.
    """
    x = check_signal(x)
    ir = check_signal(ir, "ir")
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    m = as_control(mix, x, "mix")
    if not return_state and state is None:
        return (1 - m) * x + m * fft_convolve(x, ir)
    if state is None:
        size = partition_size(ir.shape[-1])
        rows = torch.broadcast_shapes(x.shape[:-1], ir.shape[:-1])
        state = convolution_state(rows, ir.shape[-1], size, dtype=x.dtype, device=x.device)
    head, spectra = ir_partitions(ir.to(x.dtype), state.chunk.shape[-1])
    wet, new = convolve_blocks(x, head, spectra, state)
    y = (1 - m) * x + m * wet
    return (y, new) if return_state else y


def noise_reverb_ir(
    rt60_s: float | torch.Tensor,
    n_samples: int,
    *,
    sample_rate: float,
    pre_delay_ms: float = 0.0,
    high_rt60_ratio: float | torch.Tensor = 0.5,
    crossover_hz: float = 3000.0,
    seed: int | None = 0,
) -> torch.Tensor:
    """DDSP-style parametric IR: white noise under an exponential decay, in two bands.

    The low band (below ``crossover_hz``) decays 60 dB in ``rt60_s``, the high band in
    ``rt60_s * high_rt60_ratio`` (air and walls absorb highs first). The IR starts after
    ``pre_delay_ms`` of silence and is normalised to unit energy.

    Args:
        rt60_s: decay time in s, ``> 0``; float or ``(batch,)``.
        n_samples: IR length.
        sample_rate: Hz.
        pre_delay_ms: silence before the tail.
        high_rt60_ratio: high-band decay time relative to ``rt60_s`` (``> 0``).
        crossover_hz: band split.
        seed: noise seed.

    Returns:
        ``(batch, n_samples)`` (batch 1 for float controls). Gradients: rt60_s, high_rt60_ratio.
    """
    check_range(rt60_s, "rt60_s", 0.0, math.inf)
    check_range(high_rt60_ratio, "high_rt60_ratio", 0.0, math.inf)
    check_sample_rate(sample_rate)
    check_range(pre_delay_ms, "pre_delay_ms", 0.0, math.inf, low_inclusive=True)
    check_range(crossover_hz, "crossover_hz", 0.0, sample_rate / 2, low_inclusive=True)
    rt = torch.as_tensor(rt60_s, dtype=torch.float32).reshape(-1, 1)
    ratio = torch.as_tensor(high_rt60_ratio, dtype=rt.dtype, device=rt.device).reshape(-1, 1)
    delay = int(round(pre_delay_ms * sample_rate / 1000.0))
    n_tail = max(n_samples - delay, 1)
    noise = white_noise((1, n_tail), seed=seed, dtype=rt.dtype, device=rt.device)
    spec = torch.fft.rfft(noise)
    freqs = torch.fft.rfftfreq(n_tail, 1.0 / sample_rate).to(rt.device)
    low = torch.fft.irfft(spec * (freqs < crossover_hz), n_tail)
    high = noise - low
    t = torch.arange(n_tail, dtype=rt.dtype, device=rt.device) / sample_rate
    ir = low * torch.exp(-_LN_1000 * t / rt) + high * torch.exp(-_LN_1000 * t / (rt * ratio))
    ir = ir / ir.square().sum(-1, keepdim=True).sqrt().clamp_min(1e-12)
    return torch.nn.functional.pad(ir, (delay, 0))[..., :n_samples]


def rt60_from_ir(
    ir: torch.Tensor, *, sample_rate: float, fit_db: tuple[float, float] = (-5.0, -35.0)
) -> torch.Tensor:
    """RT60 in s by Schroeder backward integration, extrapolating a line fitted from
    ``fit_db[0]`` to ``fit_db[1]`` dB of the energy decay curve (T30 by default)."""
    energy = ir.double().square().flip(-1).cumsum(-1).flip(-1)
    edc = 10 * torch.log10(energy / energy[..., :1] + 1e-300)
    t = torch.arange(ir.shape[-1], dtype=torch.float64) / sample_rate
    out = []
    for curve in edc.reshape(-1, ir.shape[-1]):
        sel = (curve <= fit_db[0]) & (curve >= fit_db[1])
        tt, cc = t[sel], curve[sel]
        slope = ((tt - tt.mean()) * (cc - cc.mean())).sum() / (tt - tt.mean()).square().sum()
        out.append(-60.0 / slope)
    return torch.stack(out).reshape(ir.shape[:-1])


def load_impulse_response(
    path: str, *, sample_rate: float, channel: int | None = None
) -> torch.Tensor:
    """Read a measured IR with soundfile, resampled to ``sample_rate``: ``(channels, L)``.

    Raises ``ValueError`` for unreadable or empty files.
    """
    import soundfile as sf
    import torchaudio.functional as taf

    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for bad files
        raise ValueError(f"cannot read impulse response {path!r}: {e}") from None
    if data.shape[0] == 0:
        raise ValueError(f"impulse response {path!r} is empty")
    ir = torch.from_numpy(data.T.copy())
    if channel is not None:
        ir = ir[channel : channel + 1]
    if rate != sample_rate:
        ir = taf.resample(ir, int(rate), int(sample_rate))
    return ir
