"""``FDNReverb`` and ``Freeverb`` over whole blocks, as the library's stream runs them
(:func:`ddsp.functional.algorithmic._network_block`).

A delay network of ``N`` lines per signal: each line's output ``s`` passes a one-pole
filter ``a[t] = k s[t] + p a[t-1]``, is mixed back into the lines (``v = A a + b x``) and
tapped to the output. The lines' ring ``(rows, N, longest)`` is a buffer; a block runs in
sub-blocks no longer than the shortest line (fixed by the processor, so the same in every
form), each one gather, the one-pole over the sub-block by a doubling scan
(:func:`one_pole`, ``log2`` steps), a matrix product and one ``index_copy_``.

``FDNReverb`` feeds its lines the downmix through the pre-delay's FIFO (as long as the
spec's longest pre-delay, so ``pre_delay_ms`` can move) and taps them to two outputs.
``Freeverb`` runs eight lowpass-feedback combs per output channel on the mono sum, then
four allpasses in series (:class:`~ddsp.export.blocks.delays.DelayLine` with feedback 0.5).
Every parameter may be a knob: the network's coefficients follow it at the next block
(the library holds them for a block too). Coefficients are computed in the input's dtype
as the library computes them, the recursions in float64.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...functional.algorithmic import (
    _ALLPASSES,
    _COMBS,
    _FIXED_GAIN,
    _LN_1000,
    _WET_SCALE,
    _freeverb_lengths,
)
from .base import Block, ExportError, constant, knob_values, param, per_sample
from .delays import DelayLine

__all__ = ["FDNBlock", "FreeverbBlock", "Network", "one_pole"]


def one_pole(b: Tensor, p: Tensor, a0: Tensor) -> Tensor:
    """``a[t] = p a[t-1] + b[t]`` for ``b (R, N, n)``, ``p (1 or R, N or 1, 1)`` and the
    last output before the block ``a0 (R, N, 1)``, by a doubling scan: after the step of
    shift ``s``, ``y[t]`` sums ``p^i b[t-i]`` for ``i < 2 s``."""
    n = b.shape[-1]
    y = b
    power = p
    shift = 1
    while shift < n:
        y = y + power * F.pad(y[..., : n - shift], [shift, 0])
        power = power * power
        shift *= 2
    return y + torch.pow(p, torch.arange(1, n + 1, dtype=p.dtype)) * a0


def _last(v: Tensor) -> Tensor:
    """A control ``(1, 1)`` or ``(batch, [1,] n)`` held for the block (its last value, as
    the library holds a ramped one): ``(1 or batch, 1)``."""
    v = v.reshape(v.shape[0], -1)
    return v[:, v.shape[1] - 1 :]


class Network(nn.Module):
    """The lines of a delay network for ``rows`` signals, ``delays (G, N)`` samples (rows
    cycle through the ``G`` sets of lengths), with their ring and one-pole states."""

    def __init__(self, delays: list[list[int]], rows: int) -> None:
        super().__init__()
        table = torch.tensor(delays, dtype=torch.int64)
        self.groups, self.count = int(table.shape[0]), int(table.shape[1])
        self.longest = int(table.max())
        self.shortest = int(table.min())
        self.register_buffer("delays", table)
        self.register_buffer(
            "ring", torch.zeros(rows, self.count, self.longest, dtype=torch.float64)
        )
        self.register_buffer("head", torch.zeros(1, dtype=torch.int64))
        self.register_buffer("filters", torch.zeros(rows, self.count, 1, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, rows: int) -> None:
        self.ring = torch.zeros(rows, self.count, self.longest, dtype=torch.float64)
        self.head.zero_()  # in place: TorchScript folds a constant zeros() into one shared tensor
        self.filters = torch.zeros(rows, self.count, 1, dtype=torch.float64)

    def forward(
        self, x: Tensor, mixing: Tensor, gains: Tensor, k: Tensor, p: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Lines fed ``gains (N, 1) * x (R, 1, n)`` plus ``mixing (1 or R, N, N) @ a``;
        ``k``, ``p`` ``(1 or R, N or 1, 1)``. Returns the filtered and raw line outputs
        ``a, s (R, N, n)``."""
        rows, n = x.shape[0], x.shape[2]
        size = self.longest
        m = self.delays.reshape(1, self.groups, self.count)
        m = m.expand(rows // self.groups, self.groups, self.count).reshape(rows, self.count, 1)
        head = self.head
        filt = self.filters
        a_pieces: list[Tensor] = []
        s_pieces: list[Tensor] = []
        for start in range(0, n, self.shortest):
            stop = min(start + self.shortest, n)
            t = torch.arange(start, stop, dtype=torch.int64)
            s = self.ring.gather(2, torch.remainder(head + t - m, size))
            a = one_pole(k * s, p, filt)
            filt = a[..., a.shape[2] - 1 :]
            v = torch.matmul(mixing, a) + gains * x[..., start:stop]
            self.ring.index_copy_(2, torch.remainder(head + t, size), v)
            a_pieces.append(a)
            s_pieces.append(s)
        self.head.copy_(torch.remainder(head + n, size))
        self.filters.copy_(filt)
        if len(a_pieces) == 1:
            return a_pieces[0], s_pieces[0]
        return torch.cat(a_pieces, 2), torch.cat(s_pieces, 2)


def _check(proc, channels: int, knob_params: list[str]) -> dict[str, float]:
    name = type(proc).__name__
    values = knob_values(proc, knob_params)
    if channels not in (1, 2):
        raise ExportError(f"{name} takes 1 or 2 channels, got {channels}")
    return values


class FDNBlock(Block):
    """``FDNReverb``: the feedback matrix and gains at export; ``rt60_s``,
    ``high_rt60_ratio``, ``pre_delay_ms`` and ``mix`` as knobs."""

    def __init__(self, proc, channels: int, block_size: int, knob_params: list[str]) -> None:
        values = _check(proc, channels, knob_params)
        super().__init__("FDNReverb", channels, 2)
        self.sample_rate = float(proc.sample_rate)
        self.ln_1000 = _LN_1000
        self.fifo_length = round(proc.spec("pre_delay_ms").maximum * self.sample_rate / 1000.0)
        with torch.no_grad():
            mixing = proc.feedback_matrix().detach().to(torch.float32)  # as the stream has it
            gin = proc.input_gains.detach().to(torch.float32)
            gout = proc.output_gains.detach().to(torch.float32)
        self.register_buffer("mixing", mixing.to(torch.float64)[None])
        self.register_buffer("gains", gin.to(torch.float64)[:, None])
        self.register_buffer("taps", gout.to(torch.float64))
        self.register_buffer("lengths", torch.tensor(proc.delays, dtype=torch.float64))
        for key in ("rt60_s", "high_rt60_ratio", "pre_delay_ms", "mix"):
            self.register_buffer(key, constant(values[key]))
        self.network = Network([list(proc.delays)], 1)
        self.register_buffer("fifo", torch.zeros(1, self.fifo_length, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.network.allocate(batch)
        self.fifo = torch.zeros(batch, self.fifo_length, dtype=torch.float64)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, n = x.shape[0], x.shape[2]
        if n == 0:
            return x.new_zeros(batch, 2, 0)
        # absorption (ddsp.functional.algorithmic.absorption) in x's dtype, as the library
        rt = _last(param(inputs, "rt60_s", self.rt60_s)).to(x.dtype)
        ratio = _last(param(inputs, "high_rt60_ratio", self.high_rt60_ratio)).to(x.dtype)
        m = self.lengths.to(x.dtype)
        log_g_dc = -self.ln_1000 * m / (self.sample_rate * rt)
        log_r = log_g_dc / ratio - log_g_dc
        p = -torch.tanh(log_r / 2)
        k = torch.exp(log_g_dc) * (1 - p)
        # the downmix through the pre-delay's FIFO
        u = x.to(torch.float64)
        mono = u.mean(1)
        pre = param(inputs, "pre_delay_ms", self.pre_delay_ms).reshape(-1)[-1:]
        shift = torch.round(pre.to(torch.float64) * self.sample_rate / 1000.0).to(torch.int64)
        shift = shift.clamp(0, self.fifo_length)
        joined = torch.cat([self.fifo, mono], 1)
        late = joined.index_select(1, self.fifo_length - shift + torch.arange(n))
        self.fifo.copy_(joined[:, n:])
        a, s = self.network(
            late[:, None],
            self.mixing,
            self.gains,
            k.to(torch.float64)[:, :, None],
            p.to(torch.float64)[:, :, None],
        )
        wet = torch.matmul(self.taps, a)  # (batch, 2, n)
        mx = per_sample(param(inputs, "mix", self.mix)).to(torch.float64)
        y = (1.0 - mx) * u.expand(batch, 2, n) + mx * wet
        return y.to(x.dtype)


class FreeverbBlock(Block):
    """``Freeverb``: every parameter as a knob."""

    shortest: list[int]

    def __init__(self, proc, channels: int, block_size: int, knob_params: list[str]) -> None:
        values = _check(proc, channels, knob_params)
        super().__init__("Freeverb", channels, 2)
        sr = float(proc.sample_rate)
        self.fixed_gain, self.wet_scale = _FIXED_GAIN, _WET_SCALE
        combs = _freeverb_lengths(sr, _COMBS)
        self.network = Network(combs, 2)
        self.register_buffer("eye", torch.eye(len(_COMBS), dtype=torch.float64))
        self.register_buffer(
            "gains", torch.full((len(_COMBS), 1), _FIXED_GAIN, dtype=torch.float64)
        )
        pairs = _freeverb_lengths(sr, _ALLPASSES, columns=True)
        self.allpasses = nn.ModuleList([DelayLine(2, max(pair) + 2) for pair in pairs])
        self.register_buffer("allpass_delays", torch.tensor(pairs, dtype=torch.float64).t())
        self.shortest = [min(pair) for pair in pairs]
        self.register_buffer("allpass_feedback", torch.full((1, 1), 0.5, dtype=torch.float64))
        for key in ("room_size", "damping", "width", "mix"):
            self.register_buffer(key, constant(values[key]))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.network.allocate(2 * batch)
        for line in self.allpasses:
            line.allocate(2 * batch)

    def _per_row(self, v: Tensor) -> Tensor:
        """A per-signal control ``(1 or B, 1)`` for the (signal, channel) rows."""
        v = v.to(torch.float64)
        return v if v.shape[0] == 1 else v.repeat_interleave(2, 0)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, n = x.shape[0], x.shape[2]
        if n == 0:
            return x.new_zeros(batch, 2, 0)
        room = _last(param(inputs, "room_size", self.room_size)).to(x.dtype)
        damp = 0.4 * _last(param(inputs, "damping", self.damping)).to(x.dtype)
        fb = self._per_row(0.7 + 0.28 * room)  # (1 or R, 1)
        k = self._per_row(1 - damp)[:, :, None]
        p = self._per_row(damp)[:, :, None]
        u = x.to(torch.float64)
        rows = u.sum(1)[:, None].expand(batch, 2, n).reshape(2 * batch, 1, n)
        _, s = self.network(rows, fb[:, :, None] * self.eye, self.gains, k, p)
        y = s.sum(1)  # (R, n): the combs' sum
        delays = self.allpass_delays.repeat(batch, 1)  # (R, 4)
        i = 0
        for line in self.allpasses:
            y = (
                line(y, delays[:, i : i + 1], self.allpass_feedback, True, self.shortest[i], True)
                - y
            )
            i += 1
        wet = y.reshape(batch, 2, n) * self.wet_scale
        w = per_sample(param(inputs, "width", self.width)).to(torch.float64)
        left, right = wet[:, 0:1], wet[:, 1:2]
        wet1, wet2 = (1 + w) / 2, (1 - w) / 2
        wet = torch.cat([wet1 * left + wet2 * right, wet1 * right + wet2 * left], 1)
        mx = per_sample(param(inputs, "mix", self.mix)).to(torch.float64)
        y = (1.0 - mx) * u.expand(batch, 2, n) + mx * wet
        return y.to(x.dtype)
