"""Sources and modulators over whole blocks: ADSR, Oscillator, FM, Wavetable, LFO,
Harmonic (per sample or by frames) and FilteredNoise (white or by frames).

Each block mirrors the processor's streaming form (``stream_state`` / ``stream_step``):
the same state (phases, envelope edges, noise counter, decimation history, frames) in
buffers, the same arithmetic on whole blocks, so a block matches ``ddsp.Stream`` fed the
same inputs (within float32 rounding; the noise exactly).

* Phases are exclusive cumulative sums of float64 increments, wrapped per block
  (:func:`~ddsp.export.blocks.scan.running_phase`), as the library's.
* The ADSR is the library's closed form (edges found with ``cummax``), its note edges
  and clock carried across blocks.
* The Oscillator renders at 4x with PolyBLEP/BLAMP residuals and decimates with the
  library's Kaiser-windowed sinc, its last 256 oversampled samples carried; the output
  lags by 32 samples (``latency``) and the amplitude waits in a 32-sample FIFO.
* The harmonic bank sums ``sin(2 pi h p)`` over a ``(batch, n, harmonics)`` grid (the
  phase of each harmonic reduced in float64, the sine in float32: < 4e-7 of the
  amplitude), instead of the kernel's Chebyshev recurrence.
* White noise ports the library's counter-based hash (Wellons' lowbias32 on int64
  holding 32-bit words): the same seed gives the same samples, bit for bit.

Sources take ``x`` as a ``(batch, 0, n)`` tensor (batch, length and output dtype) and
return ``(batch, 1, n)``; ADSR and LFO too (the stream returns their control signal as
``(batch, n)``: take channel 0). Parameters absent from ``inputs`` keep their export-time
values; a ``(1, 1)`` knob or a ``(batch, n)`` modulation replaces them for the block.
Where the library holds a control for a whole block (ADSR times, Harmonic gain and tilt)
the block takes the modulation's last sample, as the stream does.
"""

import math

import torch
from torch import Tensor

from ...functional.noise import _hash32
from ...functional.oscillators import _blamp, _blep, _decimator, oscillator_latency
from .base import Block, ExportError, exporting, knob_values, param
from .scan import doubling, export_steps, fixed_doubling, running_phase

__all__ = [
    "ParamBlock",
    "ADSRBlock",
    "OscillatorBlock",
    "FMBlock",
    "WavetableBlock",
    "LFOBlock",
    "HarmonicBlock",
    "FilteredNoiseBlock",
    "hash32",
    "white_noise_block",
]


class ParamBlock(Block):
    """A block whose parameters default to their export-time values, held in ``(1, 1)``
    float64 buffers named ``v_<parameter>``; ``knob_params`` are checked against them."""

    knob_params: list[str]

    def __init__(
        self,
        proc,
        in_channels: int,
        out_channels: int,
        latency: int,
        knob_params: list[str],
        block_size: int,
    ) -> None:
        name = type(proc).__name__
        values = knob_values(proc, knob_params)
        super().__init__(name, in_channels, out_channels, latency)
        self.knob_params = list(knob_params)
        self.sample_rate = float(proc.sample_rate)
        for key, value in values.items():
            self.register_buffer("v_" + key, torch.tensor([[value]], dtype=torch.float64))
        # an exported program's scans take a fixed count of steps and serve up to
        # 2 ** steps samples; blocks up to one less (a phaser scans n + 1 samples)
        self.export_steps = export_steps(block_size)
        self.max_block = (1 << self.export_steps) - 1

    def _steps(self, n: int) -> list[int]:
        """Spans of the doubling steps over ``n`` samples (a fixed count in an exported
        program, which checks ``n <= max_block``)."""
        if torch.jit.is_scripting() or not exporting():
            return doubling(n)
        return self._fixed_steps(n)

    @torch.jit.unused
    def _fixed_steps(self, n: int) -> list[int]:
        torch._check(n <= self.max_block + 1, lambda: f"{self.name}: blocks up to {self.max_block}")
        return fixed_doubling(self.export_steps)

    def _value(self, inputs: dict[str, Tensor], name: str, default: Tensor) -> Tensor:
        """A parameter in float64: ``(1, 1)`` (export time or a knob) or ``(batch, n)``."""
        return param(inputs, name, default).to(torch.float64)

    def _held(self, inputs: dict[str, Tensor], name: str, default: Tensor) -> Tensor:
        """A parameter held for the block (see :func:`last_value`)."""
        if name in inputs:
            return last_value(inputs[name].to(torch.float64), default)
        return default


def last_value(v: Tensor, default: Tensor) -> Tensor:
    """A control held for the block, ``(1, 1)`` or ``(batch, 1)``: a knob, a ``(batch, n)``
    modulation's last sample, or ``default`` (the export-time value) when ``n = 0``."""
    return torch.cat([default.expand(v.shape[0], 1), v], 1)[:, -1:]


def _amp(gain_db: Tensor) -> Tensor:
    return torch.pow(10.0, gain_db / 20.0)


# --------------------------------------------------------------------------- ADSR


class ADSRBlock(ParamBlock):
    """:func:`ddsp.functional.adsr` across blocks: ``gate (batch, n)`` -> envelope."""

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
        super().__init__(proc, 0, 1, 0, knob_params, block_size)
        self.ms = self.sample_rate / 1000.0
        self.register_buffer("time", torch.zeros(1, 1, dtype=torch.int64))
        self.register_buffer("last_on", torch.full((1, 1), -1, dtype=torch.int64))
        self.register_buffer("last_off", torch.full((1, 1), -1, dtype=torch.int64))
        self.register_buffer("gate_on", torch.zeros(1, 1, dtype=torch.bool))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.time = torch.zeros(batch, 1, dtype=torch.int64)
        self.last_on = torch.full((batch, 1), -1, dtype=torch.int64)
        # a copy: TorchScript may merge two equal factory calls into one tensor, and the
        # state is written in place
        self.last_off = self.last_on.clone()
        self.gate_on = torch.zeros(batch, 1, dtype=torch.bool)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        n = x.shape[2]
        gate = inputs["gate"]
        a = self._held(inputs, "attack_ms", self.v_attack_ms) * self.ms
        d = self._held(inputs, "decay_ms", self.v_decay_ms) * self.ms
        r = self._held(inputs, "release_ms", self.v_release_ms) * self.ms
        s = self._held(inputs, "sustain", self.v_sustain)
        on = gate > 0.5
        prev = torch.cat([self.gate_on, on], -1)[:, :n]
        t = self.time + torch.arange(n, device=gate.device)
        since_on, last_on = _samples_since(on & ~prev, t, self.last_on)
        since_off, last_off = _samples_since(~on & prev, t, self.last_off)
        note_len = last_off - last_on - 1  # samples held before the release began
        levels = _held(torch.stack([since_on, note_len]).to(torch.float64), a, d, s)
        level_on, at_release = levels[0], levels[1]
        released = at_release * torch.clamp(1 - (since_off.to(torch.float64) + 1) / r, min=0.0)
        released = torch.where(
            (since_off >= 0) & (last_off > last_on), released, torch.zeros_like(released)
        )
        env = torch.where(on & (since_on >= 0), level_on, released)
        self.time.copy_(self.time + n)
        self.last_on.copy_(torch.cat([self.last_on, last_on], -1)[:, -1:])
        self.last_off.copy_(torch.cat([self.last_off, last_off], -1)[:, -1:])
        self.gate_on.copy_(torch.cat([self.gate_on, on], -1)[:, -1:])
        return env[:, None].to(x.dtype)


def _samples_since(edges: Tensor, t: Tensor, before: Tensor) -> tuple[Tensor, Tensor]:
    """As the library's: samples since the last edge (-1 before any) and its index."""
    last = torch.cummax(torch.where(edges, t, torch.full_like(t, -1)), dim=-1).values
    last = torch.maximum(last, before)
    return torch.where(last >= 0, t - last, torch.full_like(t, -1)), last


def _held(tau: Tensor, a: Tensor, d: Tensor, s: Tensor) -> Tensor:
    """The envelope's level after ``tau`` samples of a held note."""
    rise = (tau + 1) / a
    fall = 1 - (1 - s) * (tau + 1 - a) / d
    return torch.where(tau + 1 < a, rise, torch.where(tau + 1 < a + d, fall, s.expand_as(tau)))


# --------------------------------------------------------------------------- oscillators


class _PhaseBlock(ParamBlock):
    """A source with running phases ``(batch, count)`` in cycles."""

    def __init__(
        self, proc, latency: int, knob_params: list[str], block_size: int, count: int
    ) -> None:
        super().__init__(proc, 0, 1, latency, knob_params, block_size)
        self.count = count
        self.register_buffer("phase", torch.zeros(1, count, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.phase = torch.zeros(batch, self.count, dtype=torch.float64)

    def _f0(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        return inputs["f0_hz"].to(torch.float64).expand(x.shape[0], x.shape[2])

    def _gain(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        """Linear gain ``(1, 1)`` or per sample ``(batch, n)``."""
        return _amp(self._value(inputs, "gain_db", self.v_gain_db))


class OscillatorBlock(_PhaseBlock):
    """:func:`ddsp.functional.oscillator` streamed: 4x oversampling, decimation latency."""

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
        super().__init__(proc, oscillator_latency(), knob_params, block_size, 1)
        self.shape = str(proc.shape)
        self.factor = 4
        h = _decimator(self.factor, torch.float64, "cpu")
        self.memory = int(h.shape[0]) - 1  # oversampled samples the filter still reads
        self.os_rate = self.sample_rate * self.factor
        self.register_buffer("fir", h.flip(0).contiguous())
        self.register_buffer("history", torch.zeros(1, self.memory, dtype=torch.float64))
        self.register_buffer("amp_fifo", torch.zeros(1, self.latency, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.phase = torch.zeros(batch, 1, dtype=torch.float64)
        self.history = torch.zeros(batch, self.memory, dtype=torch.float64)
        self.amp_fifo = torch.zeros(batch, self.latency, dtype=torch.float64)

    def _hold(self, v: Tensor, batch: int, n: int) -> Tensor:
        """``(1, 1)`` or ``(batch, n)`` -> ``(batch, 4 n)``, each sample held 4 times."""
        v = v.expand(batch, n)
        return v[:, :, None].expand(batch, n, self.factor).reshape(batch, n * self.factor)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, n = x.shape[0], x.shape[2]
        inc = self._hold(self._f0(x, inputs), batch, n) / self.os_rate
        p, end = running_phase(inc, self.phase)
        dt = inc.clamp_min(1e-12)
        if self.shape == "saw":
            y = 2 * p - 1 - _blep(p, dt)
        elif self.shape == "triangle":
            corners = _blamp(p, dt) - _blamp(torch.remainder(p + 0.5, 1.0), dt)
            y = 1 - 4 * torch.abs(p - 0.5) + 4 * dt * corners
        else:
            if self.shape == "square":
                w = torch.full_like(p, 0.5)
            else:
                w = self._hold(self._value(inputs, "width", self.v_width), batch, n)
            naive = torch.where(p < w, 1.0, -1.0).to(torch.float64)
            y = naive + _blep(p, dt) - _blep(torch.remainder(p + 1 - w, 1.0), dt)
            if self.shape == "pulse":
                y = y - (2 * w - 1)
        joined = torch.cat([self.history, y], 1)
        self.history.copy_(joined[:, n * self.factor :])
        # the decimation filter in the signal's dtype, as the library's: the windows of the
        # taps every 4 samples (a spare window at the end: any n >= 0)
        padded = torch.nn.functional.pad(joined.to(x.dtype), [0, self.factor])
        windows = padded.unfold(1, self.memory + 1, self.factor)  # (batch, n + 1, taps)
        out = torch.matmul(windows, self.fir.to(x.dtype))[:, :n]
        amp = torch.cat([self.amp_fifo, self._gain(x, inputs).expand(batch, n)], 1)
        self.amp_fifo.copy_(amp[:, n:])
        self.phase.copy_(end)
        return (amp[:, :n].to(x.dtype) * out)[:, None]


class FMBlock(_PhaseBlock):
    """:func:`ddsp.functional.fm` streamed: carrier and modulator phases carried."""

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
        super().__init__(proc, 0, knob_params, block_size, 2)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        f0 = self._f0(x, inputs)
        inc = f0 / self.sample_rate
        p_c, end_c = running_phase(inc, self.phase[:, :1])
        ratio = self._value(inputs, "ratio", self.v_ratio)
        p_m, end_m = running_phase(f0 * ratio / self.sample_rate, self.phase[:, 1:])
        index = self._value(inputs, "index", self.v_index)
        two_pi = 2.0 * math.pi
        y = torch.sin(two_pi * p_c + index * torch.sin(two_pi * p_m))
        self.phase.copy_(torch.cat([end_c, end_m], 1))
        return (self._gain(x, inputs) * y)[:, None].to(x.dtype)


class WavetableBlock(_PhaseBlock):
    """:func:`ddsp.functional.wavetable` streamed: the export-time table's mip-map levels
    (octave band limits) in a buffer, read with linear interpolation."""

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
        super().__init__(proc, 0, knob_params, block_size, 1)
        table = proc.table.detach().to(torch.float64).cpu()
        size = int(table.shape[0])
        spec = torch.fft.rfft(table)
        self.n_levels = int(math.log2(size)) - 1
        harm = torch.arange(spec.shape[-1])
        levels = [
            torch.fft.irfft(spec * (harm <= size // 2 ** (m + 1)), n=size)
            for m in range(self.n_levels)
        ]
        self.size = size
        self.register_buffer("levels", torch.stack(levels).reshape(-1).contiguous())

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        f0 = self._f0(x, inputs)
        p, end = running_phase(f0 / self.sample_rate, self.phase)
        max_harm = torch.floor((self.sample_rate / 2) / f0.clamp_min(1e-9))
        level = torch.ceil(torch.log2((self.size / 2) / max_harm.clamp_min(1.0)))
        level = level.clamp(0, self.n_levels - 1).to(torch.int64)
        pos = p * self.size
        base = torch.floor(pos)
        frac = pos - base
        i0 = torch.remainder(base.to(torch.int64), self.size)
        i1 = torch.remainder(i0 + 1, self.size)
        v0 = torch.take(self.levels, level * self.size + i0)
        v1 = torch.take(self.levels, level * self.size + i1)
        self.phase.copy_(end)
        return (self._gain(x, inputs) * (v0 + frac * (v1 - v0)))[:, None].to(x.dtype)


class LFOBlock(_PhaseBlock):
    """:func:`ddsp.functional.lfo` streamed. The phase starts, at the first block after
    ``allocate``, at ``phase - rate_hz * delay / sample_rate`` (the values of that block:
    export time or knobs), as a stream built with those values starts."""

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
        super().__init__(proc, 0, knob_params, block_size, 1)
        self.shape = str(proc.shape)
        self.delay = int(delay)
        self.register_buffer("fresh", torch.ones(1, 1, dtype=torch.bool))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.phase = torch.zeros(batch, 1, dtype=torch.float64)
        self.fresh = torch.ones(batch, 1, dtype=torch.bool)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, n = x.shape[0], x.shape[2]
        rate = self._value(inputs, "rate_hz", self.v_rate_hz)
        held_rate = last_value(rate, self.v_rate_hz)
        start = (
            self._held(inputs, "phase", self.v_phase) - held_rate * self.delay / self.sample_rate
        )
        p0 = torch.where(self.fresh, torch.remainder(start, 1.0), self.phase)
        inc = (rate / self.sample_rate).expand(batch, n)
        cycles, end = running_phase(inc, p0)
        p = cycles.to(x.dtype)  # the library shapes the wave in the output's dtype
        if self.shape == "sine":
            wave = torch.sin(2 * math.pi * p)
        elif self.shape == "triangle":
            wave = 1 - 4 * torch.abs(p - 0.5)
        elif self.shape == "saw":
            wave = 2 * p - 1
        else:
            wave = torch.where(p < 0.5, 1.0, -1.0).to(x.dtype)
        self.phase.copy_(end.expand(batch, 1))
        self.fresh.copy_(torch.zeros_like(self.fresh))
        depth = self._value(inputs, "depth", self.v_depth).to(x.dtype)
        return (depth * wave)[:, None]


# --------------------------------------------------------------------------- harmonic


class HarmonicBlock(_PhaseBlock):
    """``Harmonic`` streamed, per sample (no ``frame_size``) or by frames.

    Inputs: ``f0_hz``, and optionally ``amplitude`` and ``harmonic_distribution`` (else
    ``gain_db`` and ``tilt_db_per_octave``): per sample ``(batch, n)``, ``(batch, n, H)``,
    or, with a ``frame_size``, the ``k`` frames that start in the block ``(batch, k)``,
    ``(batch, k, H)``; then the output lags by one frame (``latency = frame_size``).
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
        super().__init__(proc, int(proc.stream_latency(frame_size)), knob_params, block_size, 1)
        self.n_harmonics = int(proc.n_harmonics)
        self.frames = frame_size is not None
        self.hop = int(frame_size or 1)
        self.window = proc.amplitude_interpolation == "window"
        self.nyquist = self.sample_rate / 2
        h = torch.arange(1, self.n_harmonics + 1, dtype=torch.float64)
        self.register_buffer("harmonics", h)
        self.register_buffer("log2_harmonics", torch.log2(h))
        self.register_buffer("position", torch.zeros(1, dtype=torch.int64))  # per row, equal
        self.register_buffer("f0_frames", torch.zeros(1, 2, dtype=torch.float64))
        self.register_buffer("amp_frames", torch.zeros(1, 2, self.n_harmonics, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.phase = torch.zeros(batch, 1, dtype=torch.float64)
        self.position = torch.zeros(batch, dtype=torch.int64)
        self.f0_frames = torch.zeros(batch, 2, dtype=torch.float64)
        self.amp_frames = torch.zeros(batch, 2, self.n_harmonics, dtype=torch.float64)

    def _amplitudes(self, f0: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        """Per-harmonic amplitudes ``(batch, F, H)`` at ``f0 (batch, F)``, as the library's
        ``Harmonic._amplitudes``: harmonics at or above Nyquist removed, the
        distribution normalised to sum to one, times the amplitude."""
        if "harmonic_distribution" in inputs:
            dist = inputs["harmonic_distribution"].to(torch.float64)
        else:
            tilt = self._held(inputs, "tilt_db_per_octave", self.v_tilt_db_per_octave)
            dist = torch.pow(10.0, tilt[:, :, None] * self.log2_harmonics / 20.0)
        if "amplitude" in inputs:
            amplitude = inputs["amplitude"].to(torch.float64)
        else:
            amplitude = _amp(self._held(inputs, "gain_db", self.v_gain_db))
        audible = self.harmonics * f0[:, :, None] < self.nyquist
        dist = dist * audible
        dist = dist / dist.sum(-1, keepdim=True).clamp_min(1e-7)
        return amplitude[:, :, None] * dist

    def _bank(self, f0: Tensor, amps: Tensor, masked: bool) -> Tensor:
        """``sum_h amps[..., h] sin(2 pi h p)`` with the running phase of ``f0 (batch, n)``;
        ``masked``: silence the harmonics at or above Nyquist at each sample's f0."""
        p, end = running_phase(f0 / self.sample_rate, self.phase)
        self.phase.copy_(end)
        cycles = torch.remainder(p[:, :, None] * self.harmonics, 1.0)
        sines = torch.sin((2 * math.pi) * cycles.to(torch.float32)).to(torch.float64)
        if masked:
            amps = amps * (self.harmonics * f0[:, :, None] < self.nyquist)
        return (amps * sines).sum(-1)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        if self.frames:
            y = self._frames(x, inputs)
        else:
            f0 = self._f0(x, inputs)
            y = self._bank(f0, self._amplitudes(f0, inputs), False)
        self.position.copy_(self.position + x.shape[2])
        return y[:, None].to(x.dtype)

    def _frames(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, n, hop = x.shape[0], x.shape[2], self.hop
        f0 = inputs["f0_hz"].to(torch.float64)
        k = f0.shape[1]
        if torch.jit.is_scripting() or not exporting():
            start = int(self.position[0])  # TorchScript: the check costs one read
            want = (start + n + hop - 1) // hop - (start + hop - 1) // hop
            if k != want:
                raise ValueError(
                    f"Harmonic: expected f0_hz for the {want} frame(s) of {hop} samples starting "
                    f"in samples [{start}, {start + n}), got {k}"
                )
        amps = self._amplitudes(f0, inputs).expand(batch, k, self.n_harmonics)
        frames_f0 = torch.cat([self.f0_frames, f0], 1)  # frames first - 2 .. first + k - 1
        frames_amps = torch.cat([self.amp_frames, amps], 1)
        self.f0_frames.copy_(frames_f0[:, k:])
        self.amp_frames.copy_(frames_amps[:, k:])
        position = self.position[:1]
        first = torch.div(position + hop - 1, hop, rounding_mode="floor")
        # offline samples u = start - hop .. start + n - 1 - hop leave the stream now
        u = position - hop + torch.arange(n, device=x.device)
        valid = u >= 0
        u = u.clamp_min(0)
        index = torch.div(u, hop, rounding_mode="floor")
        frac = (u - index * hop).to(torch.float64) / hop
        rel = torch.where(valid, index - (first - 2), torch.zeros_like(index))
        f0a = frames_f0.index_select(1, rel)
        f0_u = f0a + frac * (frames_f0.index_select(1, rel + 1) - f0a)
        f0_u = torch.where(valid, f0_u, torch.zeros_like(f0_u))  # no phase before the start
        w = frac if not self.window else 0.5 - 0.5 * torch.cos(math.pi * frac)
        a0 = frames_amps.index_select(1, rel)
        a1 = frames_amps.index_select(1, rel + 1)
        amps_u = (a0 + w[None, :, None] * (a1 - a0)) * valid[None, :, None]
        return self._bank(f0_u, amps_u, True)


# --------------------------------------------------------------------------- noise


def _mul32(x: Tensor, c_lo: int, c_hi: int) -> Tensor:
    """``x * c mod 2^32``, ``c = c_hi 2^16 + c_lo``, for ``x`` in [0, 2^32) in int64."""
    lo = x * c_lo
    hi = ((x * c_hi) & 0xFFFF) << 16
    return (lo + hi) & 0xFFFFFFFF


def hash32(x: Tensor) -> Tensor:
    """The library's lowbias32 hash (:func:`ddsp.functional.noise._hash32`), scriptable."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x352D, 0x7FEB)  # 0x7FEB352D
    x = x ^ (x >> 15)
    x = _mul32(x, 0xA68B, 0x846C)  # 0x846CA68B
    return x ^ (x >> 16)


def white_noise_block(key: Tensor, rows: Tensor, t: Tensor) -> Tensor:
    """:func:`ddsp.functional.white_noise` at rows ``(R, 1)`` and sample indices ``t``
    (int64, broadcast against the rows), the seed given by its ``key``: float64 in
    [-1, 1), 24-bit values (exact in float32)."""
    h = hash32(
        hash32(key ^ (rows & 0xFFFFFFFF) ^ 0xC2B2AE35) ^ ((t >> 32) & 0xFFFFFFFF) ^ 0x27D4EB2F
    )
    h = hash32(h ^ (t & 0xFFFFFFFF))
    return (h >> 8).to(torch.float64) * (2.0**-24) * 2 - 1


def _seed_key(seed: int) -> int:
    """The hash key of a seed, as :func:`ddsp.functional.white_noise` derives it."""
    m32 = 0xFFFFFFFF
    key = _hash32(torch.tensor((seed & m32) ^ 0x9E3779B9, dtype=torch.int64))
    return int(_hash32(key ^ ((seed >> 32) & m32) ^ 0x85EBCA6B))


class FilteredNoiseBlock(ParamBlock):
    """``FilteredNoise`` streamed: white noise (no ``n_bands``), or noise filtered frame by
    frame by the magnitudes of the frames that start in the block (``(batch, k,
    n_bands)``, needs a ``frame_size``), overlap-added; then ``latency = n_bands - 1``.

    The seed is fixed at export: the processor's, or one drawn from torch's generator
    when it has none (``seed`` attribute; a stream without a seed draws a new one at
    every reset, a block keeps its own).
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
        n_bands = proc.n_bands
        if n_bands is not None and frame_size is None:
            raise ExportError(
                "FilteredNoise with n_bands filters by frames: export it with a frame_size"
            )
        super().__init__(proc, 0, 1, int(proc.stream_latency(frame_size)), knob_params, block_size)
        seed = proc.seed if proc.seed is not None else int(torch.randint(0, 2**31 - 1, ()))
        self.seed = int(seed)
        self.register_buffer("key", torch.tensor([[_seed_key(self.seed)]], dtype=torch.int64))
        self.register_buffer("offset", torch.zeros(1, dtype=torch.int64))  # per row, equal
        self.filtered = n_bands is not None
        self.n_bands = int(n_bands or 2)
        self.hop = int(frame_size or 1)
        self.ir_size = int(proc.ir_size)
        self.ir_fft = 2 * (self.n_bands - 1)
        self.ir_start = self.ir_fft // 2 - self.ir_size // 2
        self.span = self.hop + self.ir_size - 1
        self.n_fft = 1 << (self.hop + self.ir_size - 2).bit_length()
        window = torch.hann_window(self.ir_size + 2, periodic=False, dtype=torch.float64)[1:-1]
        self.register_buffer("window", window.contiguous())
        self.register_buffer("pending", torch.zeros(1, self.span, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.offset = torch.zeros(batch, dtype=torch.int64)
        self.pending = torch.zeros(batch, self.span, dtype=torch.float64)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, n = x.shape[0], x.shape[2]
        rows = torch.arange(batch, device=x.device)[:, None]
        if self.filtered:
            y = self._filtered(inputs["magnitudes"], rows, batch, n)
        else:
            t = self.offset[:1] + torch.arange(n, device=x.device)
            y = white_noise_block(self.key, rows, t[None, :])
        self.offset.copy_(self.offset + n)
        gain = _amp(self._value(inputs, "gain_db", self.v_gain_db))
        return (gain * y)[:, None].to(x.dtype)

    def _filtered(self, mags: Tensor, rows: Tensor, batch: int, n: int) -> Tensor:
        hop = self.hop
        k = mags.shape[1]
        if torch.jit.is_scripting() or not exporting():
            start = int(self.offset[0])
            want = (start + n + hop - 1) // hop - (start + hop - 1) // hop
            if k != want:
                raise ValueError(
                    f"FilteredNoise: expected magnitudes for the {want} frame(s) of {hop} "
                    f"samples starting in samples [{start}, {start + n}), got {k}"
                )
        offset = self.offset[:1]
        first = torch.div(offset + hop - 1, hop, rounding_mode="floor")  # (1,)
        # a silent frame first (added at the block's start), so no FFT is ever empty
        silent = torch.zeros(batch, 1, self.n_bands, dtype=torch.float64, device=mags.device)
        ir = torch.fft.irfft(torch.cat([silent, mags.to(torch.float64)], 1), n=self.ir_fft)
        ir = torch.roll(ir, self.ir_fft // 2, -1)
        ir = torch.cat([ir, ir[..., :1]], -1)[..., self.ir_start : self.ir_start + self.ir_size]
        ir = ir * self.window
        j = torch.arange(k, device=mags.device)
        t = (first + j)[:, None] * hop + torch.arange(hop, device=mags.device)  # (k, hop)
        noise = white_noise_block(self.key, rows[:, :, None], t[None])  # (B, k, hop)
        noise = torch.cat([silent[:, :, :1].expand(batch, 1, hop), noise], 1)
        spec = torch.fft.rfft(noise, self.n_fft) * torch.fft.rfft(ir, self.n_fft)
        y = torch.fft.irfft(spec, self.n_fft)[..., : self.span]
        at = (first * hop - offset) + j * hop  # each frame's start in the block
        at = torch.cat([torch.zeros(1, dtype=at.dtype, device=at.device), at])
        index = (at[:, None] + torch.arange(self.span, device=mags.device)).reshape(-1)
        acc = torch.nn.functional.pad(self.pending, [0, n])
        acc = acc.index_add(1, index, y.reshape(batch, (k + 1) * self.span))
        self.pending.copy_(acc[:, n:])
        return acc[:, :n]
