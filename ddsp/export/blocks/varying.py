"""Time-varying filters over whole blocks: SVF and biquad with per-sample controls,
phaser, tremolo.

A voice modulates a filter's controls per sample (an envelope sweeping an SVF's cutoff),
so its coefficients change every sample and the closed forms of
:mod:`ddsp.export.blocks.linear` do not apply. The recursion is still linear in its
state: ``s[t] = A[t] s[t-1] + b[t]`` with ``A[t]`` from the sample's coefficients and
``b[t]`` from its input, so the block composes the per-sample affine maps by doubling
(:func:`~ddsp.export.blocks.scan.affine_scan`, ``log2(n)`` batched steps in float64)
and reads every state at once:

* SVF (trapezoidal, Simper's form): state the two integrators, ``A[t]`` 2 x 2;
* biquad (direct form I, RBJ designs per sample): the feed-forward part is a
  convolution of the known input, the feedback a 2 x 2 companion recursion on the last
  two outputs;
* phaser: first-order allpasses in series that share one coefficient per sample, so the
  products of the doubling steps are computed once and every stage runs a scalar scan
  (:func:`~ddsp.export.blocks.scan.scalar_scan`);
* tremolo: a gain from the running LFO phase (no recursion).

Controls come from ``inputs`` as ``(1, 1)`` knobs or ``(batch, n)`` modulation in
physical units (the export-time values otherwise), exactly as the stream takes
per-sample controls; the LFO phases of the phaser and tremolo start, at the first block
after ``allocate``, ``delay`` samples back at the rate of that block, as a stream's do.
"""

import math

import torch
from torch import Tensor

from ...functional.filters import SVF_MODES, rbj_coefficients
from ...modules.filters import NYQUIST_MARGIN
from .scan import affine_scan, apply_scan, scalar_levels, scalar_scan
from .sources import ParamBlock, last_value

__all__ = ["VaryingSVFBlock", "VaryingBiquadBlock", "PhaserBlock", "TremoloBlock"]


def _rows(v: Tensor, batch: int, channels: int, n: int) -> Tensor:
    """A control ``(1, 1)`` or ``(batch, [1,] n)`` (a voice's modulation, one channel) as
    ``(batch * channels, n)`` rows."""
    v = v.reshape(v.shape[0], v.shape[-1])
    return v[:, None, :].expand(batch, channels, n).reshape(batch * channels, n)


def _with_state(s0: Tensor, states: Tensor) -> Tensor:
    """``(S, R, n + 1)``: the state before the block, then after each sample."""
    return torch.cat([s0[:, :, None], states], 2)


class VaryingSVFBlock(ParamBlock):
    """The trapezoidal SVF (:func:`ddsp.functional.svf`) with controls per sample.

    Per sample, ``g = tan(pi fc / sr)``, ``k = 2 (1 - resonance)``, ``a1 = 1 / (1 + g (g +
    k))``, ``a2 = g a1``, ``a3 = g a2``; with the integrators ``s`` before the sample,
    ``v1 = a1 s1 - a2 s2 + a2 x``, ``v2 = a2 s1 + (1 - a3) s2 + a3 x`` give the output,
    and ``s' = 2 v - s`` the next state: ``A = [[2 a1 - 1, -2 a2], [2 a2, 1 - 2 a3]]``,
    ``b = (2 a2, 2 a3) x``.
    """

    def __init__(
        self,
        proc,
        channels: int,
        block_size: int,
        knob_params: list[str],
        *,
        delay: int = 0,
        frame_size: int | None = None,
    ) -> None:
        super().__init__(proc, channels, channels, 0, knob_params, block_size)
        self.nyquist = NYQUIST_MARGIN * self.sample_rate
        mix = SVF_MODES[proc.mode]
        self.m_lp, self.m_bp, self.m_hp = float(mix[0]), float(mix[1]), float(mix[2])
        self.register_buffer("state", torch.zeros(1, channels, 2, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.state = torch.zeros(batch, self.in_channels, 2, dtype=torch.float64)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, channels, n = x.shape[0], x.shape[1], x.shape[2]
        rows = batch * channels
        dtype = x.dtype  # the coefficients as the stream designs them, in the signal's dtype
        fc = self._value(inputs, "cutoff_hz", self.v_cutoff_hz).clamp(max=self.nyquist)
        g = torch.tan((math.pi / self.sample_rate) * fc.to(dtype))
        k = 2.0 * (1.0 - self._value(inputs, "resonance", self.v_resonance).to(dtype))
        g = _rows(g.to(torch.float64), batch, channels, n)
        k = _rows(k.to(torch.float64), batch, channels, n)
        gk = g * (g + k)
        a1 = 1.0 / (1.0 + gk)
        a2 = g * a1
        a3 = g * a2
        u = x.reshape(rows, n).to(torch.float64)
        # [A - I | b] per sample, planar: A - I = [[-2 g (g + k) a1, -2 a2], [2 a2, -2 a3]]
        delta = torch.stack([-2 * gk * a1, -2 * a2, 2 * a2 * u, 2 * a2, -2 * a3, 2 * a3 * u])
        s0 = self.state.reshape(rows, 2).t()
        states = _with_state(
            s0, apply_scan(affine_scan(delta.reshape(2, 3, rows, n), self._steps(n)), s0)
        )
        s1, s2 = states[0, :, :n], states[1, :, :n]  # before each sample
        v1 = a1 * s1 - a2 * s2 + a2 * u
        v2 = a2 * s1 + (1 - a3) * s2 + a3 * u
        y = self.m_lp * v2 + self.m_bp * v1 + self.m_hp * (u - k * v1 - v2)
        self.state.copy_(states[:, :, -1].t().reshape(batch, channels, 2))
        return y.reshape(batch, channels, n).to(x.dtype)


class VaryingBiquadBlock(ParamBlock):
    """The RBJ biquad (:func:`ddsp.functional.biquad`) with controls per sample, designed
    per sample as the library does (cutoff kept below Nyquist), run in direct form I:
    ``y[t] = b0 x[t] + b1 x[t-1] + b2 x[t-2] - a1 y[t-1] - a2 y[t-2]``, the state the
    last two inputs and outputs (as the stream's)."""

    def __init__(
        self,
        proc,
        channels: int,
        block_size: int,
        knob_params: list[str],
        *,
        delay: int = 0,
        frame_size: int | None = None,
    ) -> None:
        super().__init__(proc, channels, channels, 0, knob_params, block_size)
        self.kind = str(proc.kind)
        self.nyquist = NYQUIST_MARGIN * self.sample_rate
        # x[-1], x[-2] and y[-1], y[-2] per signal (most recent first, as LFilterState)
        self.register_buffer("x_state", torch.zeros(1, channels, 2, dtype=torch.float64))
        self.register_buffer("y_state", torch.zeros(1, channels, 2, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.x_state = torch.zeros(batch, self.in_channels, 2, dtype=torch.float64)
        self.y_state = self.x_state.clone()  # not an equal factory call: TorchScript merges those

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, channels, n = x.shape[0], x.shape[1], x.shape[2]
        rows = batch * channels
        dtype = x.dtype  # designed as the stream designs, in the signal's dtype
        fc = self._value(inputs, "cutoff_hz", self.v_cutoff_hz).clamp(max=self.nyquist)
        q = self._value(inputs, "q", self.v_q).to(dtype)
        gain = self._value(inputs, "gain_db", self.v_gain_db).to(dtype)
        w0 = (2.0 * math.pi / self.sample_rate) * fc.to(dtype)
        b, a = rbj_coefficients(self.kind, w0, q, gain)
        b, a = b.to(torch.float64), a.to(torch.float64)
        b0 = _rows(b[..., 0], batch, channels, n)
        b1 = _rows(b[..., 1], batch, channels, n)
        b2 = _rows(b[..., 2], batch, channels, n)
        a1 = _rows(a[..., 1], batch, channels, n)
        a2 = _rows(a[..., 2], batch, channels, n)
        xs = self.x_state.reshape(rows, 2)
        u = torch.cat([xs[:, 1:], xs[:, :1], x.reshape(rows, n).to(torch.float64)], 1)
        v = b0 * u[:, 2:] + b1 * u[:, 1 : n + 1] + b2 * u[:, :n]
        zero = torch.zeros_like(v)
        # [A - I | b] per sample, planar: A = [[-a1, -a2], [1, 0]] on (y[t-1], y[t-2])
        delta = torch.stack([-a1 - 1, -a2, v, torch.ones_like(v), -torch.ones_like(v), zero])
        s0 = self.y_state.reshape(rows, 2).t()
        states = _with_state(
            s0, apply_scan(affine_scan(delta.reshape(2, 3, rows, n), self._steps(n)), s0)
        )
        self.y_state.copy_(states[:, :, -1].t().reshape(batch, channels, 2))
        self.x_state.copy_(torch.stack([u[:, -1], u[:, -2]], -1).reshape(batch, channels, 2))
        return states[0, :, 1:].reshape(batch, channels, n).to(x.dtype)


class _LFOEffect(ParamBlock):
    """An effect driven by a sine LFO whose phase ``(batch, 1)`` starts ``delay`` samples
    back, at the first block after ``allocate`` (the stream's ``_start_phase``)."""

    def __init__(
        self, proc, channels: int, knob_params: list[str], block_size: int, delay: int
    ) -> None:
        super().__init__(proc, channels, channels, 0, knob_params, block_size)
        self.delay = int(delay)
        self.register_buffer("phase", torch.zeros(1, 1, dtype=torch.float64))
        self.register_buffer("fresh", torch.ones(1, 1, dtype=torch.bool))

    def _cycles(self, batch: int, n: int, inputs: dict[str, Tensor]) -> Tensor:
        """The LFO's phase at each sample ``(batch, n)`` (float64, wrapped)."""
        rate = self._value(inputs, "rate_hz", self.v_rate_hz)
        held = last_value(rate, self.v_rate_hz)
        start = torch.remainder(-held * self.delay / self.sample_rate, 1.0)
        p0 = torch.where(self.fresh, start, self.phase)
        inc = (rate / self.sample_rate).expand(batch, n)
        cycles = p0 + torch.cumsum(inc, -1) - inc
        self.phase.copy_(torch.remainder(p0 + inc.sum(-1, keepdim=True), 1.0))
        self.fresh.copy_(torch.zeros_like(self.fresh))
        return torch.remainder(cycles, 1.0)


class TremoloBlock(_LFOEffect):
    """:func:`ddsp.functional.tremolo`: gain ``1 - depth (1 - cos(2 pi p)) / 2``."""

    def __init__(
        self,
        proc,
        channels: int,
        block_size: int,
        knob_params: list[str],
        *,
        delay: int = 0,
        frame_size: int | None = None,
    ) -> None:
        super().__init__(proc, channels, knob_params, block_size, delay)

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.phase = torch.zeros(batch, 1, dtype=torch.float64)
        self.fresh = torch.ones(batch, 1, dtype=torch.bool)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, n = x.shape[0], x.shape[2]
        wave = torch.cos(2 * math.pi * self._cycles(batch, n, inputs)).to(x.dtype)
        depth = self._value(inputs, "depth", self.v_depth).to(x.dtype)
        return x * (1 - depth * (1 - wave) / 2)[:, None, :]


class PhaserBlock(_LFOEffect):
    """:func:`ddsp.functional.phaser`: ``stages`` first-order allpasses ``(c + z^-1) / (1 +
    c z^-1)`` whose break frequency ``centre 2^(depth sin(2 pi p))`` the LFO sweeps, mixed
    with the dry signal. State: the last input and each stage's last output."""

    def __init__(
        self,
        proc,
        channels: int,
        block_size: int,
        knob_params: list[str],
        *,
        delay: int = 0,
        frame_size: int | None = None,
    ) -> None:
        super().__init__(proc, channels, knob_params, block_size, delay)
        self.stages = int(proc.stages)
        self.centre_max = NYQUIST_MARGIN * self.sample_rate
        self.break_max = 0.45 * self.sample_rate
        self.register_buffer(
            "memory", torch.zeros(1, channels, self.stages + 1, dtype=torch.float64)
        )

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.phase = torch.zeros(batch, 1, dtype=torch.float64)
        self.fresh = torch.ones(batch, 1, dtype=torch.bool)
        self.memory = torch.zeros(batch, self.in_channels, self.stages + 1, dtype=torch.float64)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, channels, n = x.shape[0], x.shape[1], x.shape[2]
        rows = batch * channels
        dtype = x.dtype  # the coefficients as the stream computes them, in the signal's dtype
        sweep = torch.sin(2 * math.pi * self._cycles(batch, n, inputs)).to(dtype)
        octaves = self._value(inputs, "depth_octaves", self.v_depth_octaves).to(dtype) * sweep
        centre = self._value(inputs, "centre_hz", self.v_centre_hz).clamp(max=self.centre_max)
        f = (centre.to(dtype) * torch.exp2(octaves)).clamp(max=self.break_max)
        w = torch.tan(math.pi * f / self.sample_rate)
        c = _rows(((w - 1) / (w + 1)).to(torch.float64), batch, channels, n)
        # one leading sample per stage carries its last output: u[:, 0] is the state
        c_ext = torch.nn.functional.pad(c, [1, 0])
        steps = self._steps(n + 1)
        levels = scalar_levels(-c_ext, steps)
        memory = self.memory.reshape(rows, self.stages + 1)
        u = torch.cat([memory[:, :1], x.reshape(rows, n).to(torch.float64)], 1)
        last: list[Tensor] = [u[:, -1]]
        for i in range(self.stages):
            drive = c * u[:, 1:] + u[:, :n]  # c x[t] + x[t-1]
            u = scalar_scan(levels, torch.cat([memory[:, i + 1 : i + 2], drive], 1), steps)
            last.append(u[:, -1])
        self.memory.copy_(torch.stack(last, -1).reshape(batch, channels, self.stages + 1))
        mix = self._value(inputs, "mix", self.v_mix)
        y = u[:, 1:].reshape(batch, channels, n)
        return ((1 - mix[:, None, :]) * x.to(torch.float64) + mix[:, None, :] * y).to(x.dtype)
