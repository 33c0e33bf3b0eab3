"""A streaming decimator: the analysis of the live pipeline runs near the model's rate.

The pitch tracker and the loudness read the input at ``sample_rate / factor``, the rate
closest to the model's that divides the host's hop (48 kHz: 16 kHz). Output sample ``m``
is the input low-passed (a linear-phase windowed-sinc FIR, cut off at 90% of the new
Nyquist) and centred on input sample ``m * factor``: it needs ``lookahead = factor *
half_width`` input samples past it. A block of ``n`` input samples completes
``n // factor`` or one more of them, so the output comes in ``n // factor + 2`` slots with
the count of real ones, a shape that does not depend on the data.
"""

import torch
from torch import Tensor, nn

__all__ = ["Decimator", "decimation_factor"]


def decimation_factor(sample_rate: float, model_rate: float, hop: int) -> int:
    """The largest ``factor`` that keeps ``sample_rate / factor >= model_rate`` and
    divides ``hop`` (1: no decimation)."""
    best = 1
    for factor in range(2, int(sample_rate // model_rate) + 1):
        if hop % factor == 0:
            best = factor
    return best


class Decimator(nn.Module):
    """``forward(x (B, n)) -> (y (B, n // factor + 2), count (1,) int64)``; state in
    buffers (``allocate(batch)`` clears it).

    Args:
        factor: decimation factor (1: the input passes through, one sample per slot).
        half_width: FIR half-length in output samples.
    """

    def __init__(self, factor: int, half_width: int = 12) -> None:
        super().__init__()
        self.factor = int(factor)
        self.reach = self.factor * half_width if self.factor > 1 else 0  # input samples
        self.lookahead = self.reach
        taps = 2 * self.reach + 1
        k = torch.arange(taps, dtype=torch.float64) - self.reach
        cutoff = 0.45 / self.factor  # cycles per input sample
        h = 2 * cutoff * torch.special.sinc(2 * cutoff * k)
        h = h * torch.hann_window(taps + 2, periodic=False, dtype=torch.float64)[1:-1]
        self.register_buffer("taps", (h / h.sum()).float())
        self.keep = 2 * self.reach + self.factor  # input samples remembered
        self.register_buffer("history", torch.zeros(1, self.keep))
        self.register_buffer("seen", torch.zeros(1, dtype=torch.int64))
        self.register_buffer("made", torch.zeros(1, dtype=torch.int64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.history = torch.zeros(batch, self.keep)
        self.seen.zero_()
        self.made.zero_()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n = x.shape[1]
        f = self.factor
        signal = torch.cat([self.history, x], 1)  # starts at input sample seen - keep
        slots = n // f + 2
        m = self.made + torch.arange(slots)  # output samples of the slots
        first = m * f - self.reach - (self.seen - self.keep)  # window starts in `signal`
        # a complete output's window lies inside; a pending slot's start is clamped (per
        # slot, so that each window stays contiguous for compilers)
        taps = self.taps.shape[0]
        first = first.clamp(0, signal.shape[1] - taps)
        index = first[:, None] + torch.arange(taps)
        y = (signal[:, index] * self.taps).sum(-1)  # (B, slots)
        # output m is complete once input sample m * f + reach is in
        ready = torch.div(self.seen + n - 1 - self.reach, f, rounding_mode="floor") + 1
        count = (ready.clamp_min(0) - self.made).clamp(0, slots)
        self.history.copy_(signal[:, signal.shape[1] - self.keep :])
        self.seen.add_(n)
        self.made.add_(count)
        return y, count
