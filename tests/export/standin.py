"""A small stand-in for :class:`ddsp.export.model.ExportedModel`, for the format tests.

A one-pole low-pass (state: the last output sample per channel), a gain knob, a pole knob
and a delay line of ``latency`` samples (state: the last ``latency`` filtered samples), so
that the declared latency is real. Mono -> stereo writes ``(y, 0.5 y)``; stereo -> stereo
filters each channel. It keeps the contract: TorchScript-scriptable, torch.export-traceable,
``forward(x (batch, in_channels, n), knobs (K,)) -> (batch, out_channels, n)``, state in
buffers carried between calls, silent state re-allocated when the batch size changes, and
``reset()`` exported for TorchScript.
"""

# No `from __future__ import annotations`: TorchScript reads the class annotations as types.
import torch
from torch import Tensor

__all__ = ["StandIn"]


class StandIn(torch.nn.Module):
    sample_rate: float
    block_size: int
    in_channels: int
    out_channels: int
    latency: int
    knob_names: list[str]
    knob_descriptions: list[str]
    knob_defaults: list[float]

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        *,
        latency: int = 37,
        sample_rate: float = 48000.0,
        block_size: int = 256,
        knob_names: tuple[str, ...] = ("gain", "1.pole"),
    ) -> None:
        super().__init__()
        assert (in_channels, out_channels) in ((1, 1), (1, 2), (2, 2))
        self.sample_rate = float(sample_rate)
        self.block_size = int(block_size)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.latency = int(latency)
        self.knob_names = list(knob_names)
        descriptions = ["output gain, 0 to 2", "pole of the low-pass, 0.5 to 0.99"]
        self.knob_descriptions = descriptions[: len(knob_names)]
        self.knob_defaults = [0.5, 0.25][: len(knob_names)]
        self.chunk = 64  # the recursion runs as (chunk x chunk) matrix products
        self.register_buffer("memory", torch.zeros(1, in_channels))
        self.register_buffer("line", torch.zeros(1, in_channels, self.latency))

    def _gain_and_pole(self, knobs: Tensor) -> tuple[Tensor, Tensor]:
        gain = 2.0 * knobs[0] if knobs.shape[0] > 0 else torch.ones((), dtype=knobs.dtype)
        pole = 0.5 + 0.49 * knobs[1] if knobs.shape[0] > 1 else torch.full((), 0.6)
        return gain, pole

    def forward(self, x: Tensor, knobs: Tensor) -> Tensor:
        batch, n = x.shape[0], x.shape[-1]
        if self.memory.shape[0] != batch:
            self.memory = torch.zeros(batch, self.in_channels, dtype=x.dtype, device=x.device)
            self.line = torch.zeros(
                batch, self.in_channels, self.latency, dtype=x.dtype, device=x.device
            )
        gain, pole = self._gain_and_pole(knobs)
        k = torch.arange(self.chunk, dtype=x.dtype, device=x.device)
        lag = k[:, None] - k[None, :]
        # powers[i, j] = pole ** (i - j) for i >= j, else 0 (lower-triangular Toeplitz)
        powers = torch.where(lag >= 0, torch.pow(pole, lag.clamp(min=0.0)), torch.zeros_like(lag))
        decay = torch.pow(pole, k + 1.0)
        last = self.memory
        chunks: list[Tensor] = []
        for start in range(0, n, self.chunk):
            c = min(self.chunk, n - start)
            xc = x[..., start : start + c]
            yc = (1.0 - pole) * torch.matmul(xc, powers[:c, :c].transpose(0, 1))
            yc = yc + last[..., None] * decay[:c]
            last = yc[..., -1]
            chunks.append(yc)
        y = torch.cat(chunks, -1)
        full = torch.cat([self.line, y], -1)
        out = full[..., :n]
        self.memory.copy_(last)
        self.line.copy_(full[..., n:])
        out = gain * out
        if self.in_channels == 1 and self.out_channels == 2:
            out = torch.cat([out, 0.5 * out], 1)
        return out

    @torch.jit.export
    def reset(self) -> None:
        self.memory.zero_()
        self.line.zero_()
