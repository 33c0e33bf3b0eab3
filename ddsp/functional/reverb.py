"""Reverbs by convolution: a given (learnable or measured) impulse response, and DDSP's
parametric noise reverb (exponentially decaying noise, per-band decay times)."""

from __future__ import annotations

import math

import torch

from .._checks import check_finite, check_range, check_sample_rate, check_signal
from .noise import white_noise

__all__ = [
    "fft_convolve",
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


def convolution_reverb(
    x: torch.Tensor, ir: torch.Tensor, *, mix: float | torch.Tensor = 0.3
) -> torch.Tensor:
    """Convolve with an impulse response and mix: ``(1 - mix) x + mix (x * ir)``.

    Args:
        x: audio ``(..., T)``; give it room (zeros) at the end for the tail to ring out.
        ir: ``(L,)`` shared or broadcastable ``(..., L)``.
        mix: 0 dry .. 1 wet; float or per item.

    Returns:
        ``(..., T)``. Gradients: x, ir, mix.
    """
    x = check_signal(x)
    ir = check_signal(ir, "ir")
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    m = mix[..., None] if isinstance(mix, torch.Tensor) and mix.ndim else mix
    return (1 - m) * x + m * fft_convolve(x, ir)


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
