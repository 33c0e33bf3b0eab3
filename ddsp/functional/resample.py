"""Sample-rate conversion of long signals in bounded memory."""

from __future__ import annotations

import math

import torch

__all__ = ["resample"]


def resample(x: torch.Tensor, orig: int, new: int, block: int = 1 << 19) -> torch.Tensor:
    """Resample ``(..., time)`` from ``orig`` Hz to ``new`` Hz (torchaudio's windowed sinc).

    The signal is processed in blocks with margins, so hours of audio need a few
    block-sized buffers beyond input and output. Blocks start on multiples of the rate
    ratio's period and their margins exceed the kernel's reach, so the result equals the
    one-pass resampling. The single resampler of the library's commands.
    """
    import torchaudio.functional as taf

    g = math.gcd(orig, new)
    period_in, period_out = orig // g, new // g
    margin = period_in * max(8, math.ceil(64 * orig / min(orig, new) / period_in))
    step = max(period_in, block // period_in * period_in)
    n_t = x.shape[-1]
    if n_t <= step + 2 * margin:
        return taf.resample(x, orig, new)
    n_out = math.ceil(n_t * new / orig)
    out = []
    for start in range(0, n_t, step):
        lo, hi = max(0, start - margin), min(n_t, start + step + margin)
        y = taf.resample(x[..., lo:hi], orig, new)
        skip = (start - lo) // period_in * period_out
        keep = min(step, n_t - start) * new // orig if start + step < n_t else None
        out.append(y[..., skip : None if keep is None else skip + keep])
    return torch.cat(out, -1)[..., :n_out]
