"""Delay lines over whole blocks: ``Delay``, ``PingPongDelay``, ``Chorus`` and ``Flanger``.

The library's kernel (``kernels/delay.py``) steps per sample:

    u[t] = x[t] + fb[t] y[t],    y[t] = (1 - f) u[t - k] + f u[t - k - 1],

``k = floor(d[t]) >= 1``, ``f = d[t] - k``, ``d`` the delay in samples, the past of ``u`` in
a ring of history. Here the ring is a buffer ``(rows, H)`` (``H`` as long as the spec's
longest delay, as the stream's, so knobs and modulation reach the whole range) with its
write position ``head``; a block reads both taps of every sample with one gather and
writes its ``u`` back with one ``index_copy_``:

* without feedback (``fb`` 0 at export and no ``feedback`` input) ``u = x``: the whole
  block at once, reading the block itself where the delay is shorter than the block;
* with feedback, in sub-blocks no longer than the shortest delay in the block, so every
  sample a sub-block reads was written before it (a loop of ``n / k`` steps, one when the
  delay is longer than the block). TorchScript and eager runs take the sub-block length
  from the block's delays; an exported program fixes it at trace time from the shortest
  delay the export-time values (or, for parameters given in ``inputs``, the spec) allow.

The delay in samples is computed as the library computes it, in the input's dtype (so
the integer and fractional parts of each delay are the library's), then everything runs
in float64. The chorus and flanger LFO phase is carried in float64, started ``delay``
samples back as the stream's.
"""

import math

import torch
from torch import Tensor, nn

from .base import Block, ExportError, constant, exporting, knob_values, param, per_sample

__all__ = ["DelayBlock", "ChorusBlock", "DelayLine"]


def _ring_length(longest_ms: float, sample_rate: float) -> int:
    """The stream's line length for delays up to ``longest_ms``."""
    return int(math.ceil(longest_ms * sample_rate / 1000.0)) + 2


def _sub_block(shortest_samples: float) -> int:
    """A sub-block no longer than the shortest delay (a margin for float32 rounding)."""
    return max(1, int(math.floor(shortest_samples - 1e-3)))


def _rows(v: Tensor, batch: int, lines: int) -> Tensor:
    """``(batch or 1, lines or 1, n')`` -> rows ``(1 or batch * lines, n')``."""
    if v.shape[0] == 1 and v.shape[1] == 1:
        return v.reshape(1, v.shape[-1])
    return v.expand(batch, lines, v.shape[-1]).reshape(batch * lines, v.shape[-1])


def _take(source: Tensor, index: Tensor) -> Tensor:
    """``source (R, H)`` read at ``index (1 or R, m)`` along time."""
    if index.shape[0] == 1:
        return source.index_select(1, index[0])
    return source.gather(1, index)


class DelayLine(nn.Module):
    """Fractional feedback delay lines for ``rows`` signals: the ring of their last
    ``length`` inputs ``u`` and where the next goes (the kernel's recursion, see the module
    docstring)."""

    def __init__(self, rows: int, length: int) -> None:
        super().__init__()
        self.ring_length = int(length)
        self.register_buffer("ring", torch.zeros(rows, length, dtype=torch.float64))
        self.register_buffer("head", torch.zeros(1, dtype=torch.int64))

    @torch.jit.export
    def allocate(self, rows: int) -> None:
        self.ring = torch.zeros(rows, self.ring_length, dtype=torch.float64)
        self.head.zero_()  # in place: TorchScript folds a constant zeros() into one shared tensor

    def forward(
        self,
        u: Tensor,
        d: Tensor,
        fb: Tensor,
        feedback: bool,
        static_sub: int,
        whole_samples: bool = False,
    ) -> Tensor:
        """Run the lines on rows ``u (R, n)`` float64 with delays ``d (1 or R, 1 or n)`` in
        samples (float64, their float32 values when the stream runs in float32) and
        feedback ``fb (1 or R, 1 or n)``; returns the delayed signal ``y (R, n)`` and moves
        the ring on by ``n``. Without ``feedback`` the lines hear ``u`` as it is; with it,
        sub-blocks no longer than the shortest delay (TorchScript, eager) or than
        ``static_sub`` (an exported program). ``whole_samples``: the delays are integers
        (one tap read)."""
        n = u.shape[1]
        size = self.ring_length
        d = d.clamp(1.0, float(size - 2))
        whole = torch.floor(d)
        frac = d - whole
        t = torch.arange(n, dtype=torch.int64)
        back = t - whole.to(torch.int64)  # (1 or R, n): where tap 0 reads
        head = self.head
        if not feedback:
            taps = torch.cat([back, back - 1], 1)
            old = _take(self.ring, torch.remainder(head + taps, size))
            new = _take(u, taps.clamp_min(0))
            v = torch.where(taps >= 0, new, old)
            y = (1.0 - frac) * v[:, :n] + frac * v[:, n:]
            keep = min(n, size)
            self.ring.index_copy_(1, torch.remainder(head + t[n - keep :], size), u[:, n - keep :])
        else:
            if torch.jit.is_scripting() or not exporting():
                step = max(1, int(whole.min()))
            else:
                step = static_sub
            read0 = torch.remainder(head + back, size)
            read1 = torch.remainder(read0 - 1, size)
            write = torch.remainder(head + t, size)
            per_f = frac.shape[1] != 1
            per_fb = fb.shape[1] != 1
            pieces: list[Tensor] = []
            for start in range(0, n, step):
                stop = min(start + step, n)
                y_s = _take(self.ring, read0[:, start:stop])
                if not whole_samples:
                    v1 = _take(self.ring, read1[:, start:stop])
                    y_s = torch.lerp(y_s, v1, frac[:, start:stop] if per_f else frac)
                g = fb[:, start:stop] if per_fb else fb
                self.ring.index_copy_(1, write[start:stop], torch.addcmul(u[:, start:stop], g, y_s))
                pieces.append(y_s)
            y = pieces[0] if len(pieces) == 1 else torch.cat(pieces, 1)
        self.head.copy_(torch.remainder(head + n, size))
        return y


class _LineBlock(Block):
    """Base of the delay blocks: one line per row (``lines`` rows per signal)."""

    def __init__(
        self, name: str, in_channels: int, out_channels: int, lines: int, ring: int
    ) -> None:
        super().__init__(name, in_channels, out_channels)
        self.lines = int(lines)
        self.line = DelayLine(lines, ring)

    def _allocate_line(self, batch: int) -> None:
        self.batch = batch
        self.line.allocate(batch * self.lines)


class DelayBlock(_LineBlock):
    """``Delay`` (one line per channel) and ``PingPongDelay`` (the sum and difference of
    the two channels on two lines, feedback ``+fb`` and ``-fb``, as the library runs it)."""

    def __init__(self, proc, channels: int, block_size: int, knob_params: list[str]) -> None:
        name = type(proc).__name__
        values = knob_values(proc, knob_params)
        self.ping_pong = name == "PingPongDelay"
        if self.ping_pong and channels not in (1, 2):
            raise ExportError(f"PingPongDelay takes 1 or 2 channels, got {channels}")
        spec = proc.spec("delay_ms")
        sr = float(proc.sample_rate)
        super().__init__(
            name,
            channels,
            2 if self.ping_pong else channels,
            2 if self.ping_pong else channels,
            _ring_length(spec.maximum, sr),
        )
        self.sample_rate = sr
        self.ms = sr / 1000.0
        self.min_delay_ms = float(spec.minimum)
        self.export_delay_ms = float(values["delay_ms"])
        self.has_feedback = values["feedback"] != 0.0 or "feedback" in knob_params
        for key in ("delay_ms", "feedback", "mix"):
            self.register_buffer(key, constant(values[key]))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self._allocate_line(batch)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, n = x.shape[0], x.shape[2]
        if n == 0:
            return x.new_zeros(batch, self.out_channels, 0)
        lines = self.lines
        d = per_sample(param(inputs, "delay_ms", self.delay_ms)).to(x.dtype) * self.ms
        d = _rows(d.to(torch.float64), batch, lines)
        fb = per_sample(param(inputs, "feedback", self.feedback)).to(torch.float64)
        m = per_sample(param(inputs, "mix", self.mix)).to(torch.float64)
        u = x.to(torch.float64)
        if self.ping_pong:
            left = u[:, 0:1]
            right = u[:, 1:2] if self.in_channels == 2 else torch.zeros_like(left)
            u = torch.cat([left + right, left - right], 1)
            fb = torch.cat([fb, -fb], 1)
        fb = _rows(fb, batch, lines)
        feedback = self.has_feedback or "feedback" in inputs
        shortest = self.min_delay_ms if "delay_ms" in inputs else self.export_delay_ms
        static_sub = _sub_block(shortest * self.ms)
        y = self.line(u.reshape(batch * lines, n), d, fb, feedback, static_sub)
        y = y.reshape(batch, lines, n)
        if self.ping_pong:
            wet = torch.cat([y[:, 0:1] + y[:, 1:2], y[:, 0:1] - y[:, 1:2]], 1) / 2.0
            dry = x.to(torch.float64).expand(batch, 2, n)
        else:
            wet = y
            dry = x.to(torch.float64)
        return ((1.0 - m) * dry + m * wet).to(x.dtype)


class ChorusBlock(_LineBlock):
    """``Chorus`` and ``Flanger``: a line per channel swept by a sine LFO,
    ``centre_ms + depth_ms sin(2 pi phase)``, the phase carried between blocks."""

    def __init__(
        self, proc, channels: int, block_size: int, knob_params: list[str], delay: int = 0
    ) -> None:
        name = type(proc).__name__
        values = knob_values(proc, knob_params)
        centre, depth = proc.spec("centre_ms"), proc.spec("depth_ms")
        sr = float(proc.sample_rate)
        super().__init__(
            name, channels, channels, channels, _ring_length(centre.maximum + depth.maximum, sr)
        )
        self.sample_rate = sr
        self.ms = sr / 1000.0
        self.min_centre_ms, self.max_depth_ms = float(centre.minimum), float(depth.maximum)
        self.export_centre_ms = float(values["centre_ms"])
        self.export_depth_ms = float(values["depth_ms"])
        self.has_feedback = values["feedback"] != 0.0 or "feedback" in knob_params
        for key in ("rate_hz", "depth_ms", "centre_ms", "feedback", "mix"):
            self.register_buffer(key, constant(values[key]))
        # the stream's start phase: the LFO starts ``delay`` samples back (at the export
        # rate) from the processor's own start (a Chorus ``lfo_phase``)
        first = float(getattr(proc, "lfo_phase", 0.0))
        self.start_phase = (first - values["rate_hz"] * int(delay) / sr) % 1.0
        self.register_buffer("phase", torch.full((1, 1), self.start_phase, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self._allocate_line(batch)
        self.phase = torch.full((batch, 1), self.start_phase, dtype=torch.float64)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, channels, n = x.shape[0], x.shape[1], x.shape[2]
        if n == 0:
            return x
        # the LFO as :func:`ddsp.functional._controls.lfo_phase` runs it
        rate = per_sample(param(inputs, "rate_hz", self.rate_hz)).to(x.dtype)
        rate = rate.to(torch.float64)
        # one phase for all signals unless a modulation gives each its own rate
        p0 = (self.phase[:1] if rate.shape[0] == 1 else self.phase)[:, :, None]
        if rate.shape[-1] == 1:
            k = torch.arange(n, dtype=torch.float64)
            cycles = p0 + rate * (k / self.sample_rate)
            end = p0 + rate * (float(n) / self.sample_rate)
        else:
            inc = rate / self.sample_rate
            cycles = p0 + torch.cumsum(inc, -1) - inc
            end = p0 + inc.sum(-1, keepdim=True)
        self.phase.copy_(torch.remainder(end, 1.0).reshape(-1, 1).expand(batch, 1))
        wave = torch.sin(2 * math.pi * cycles).to(x.dtype)
        centre = per_sample(param(inputs, "centre_ms", self.centre_ms)).to(x.dtype)
        depth = per_sample(param(inputs, "depth_ms", self.depth_ms)).to(x.dtype)
        d = (centre + depth * wave) * self.ms  # in x's dtype, as the library computes it
        d = _rows(d.to(torch.float64), batch, channels)
        fb = per_sample(param(inputs, "feedback", self.feedback)).to(torch.float64)
        fb = _rows(fb, batch, channels)
        m = per_sample(param(inputs, "mix", self.mix)).to(torch.float64)
        feedback = self.has_feedback or "feedback" in inputs
        centre_min = self.min_centre_ms if "centre_ms" in inputs else self.export_centre_ms
        depth_max = self.max_depth_ms if "depth_ms" in inputs else self.export_depth_ms
        static_sub = _sub_block((centre_min - depth_max) * self.ms)
        u = x.to(torch.float64)
        y = self.line(u.reshape(batch * channels, n), d, fb, feedback, static_sub)
        return ((1.0 - m) * u + m * y.reshape(batch, channels, n)).to(x.dtype)
