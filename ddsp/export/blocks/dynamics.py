"""Compressor, expander and limiter over whole blocks, exactly as the streaming kernel.

The kernel (``kernels/compressor.py``) steps per sample: an optional RMS detector
``p[t] = r p[t-1] + (1 - r) x[t]^2``, a static gain curve ``g[t]`` of the level, and the
attack/release smoother ``y[t] = c[t] y[t-1] + (1 - c[t]) g[t]`` with ``c[t]`` the attack
coefficient when ``g[t] < y[t-1]`` and the release coefficient otherwise.

The detector (a linear recursion, :func:`first_order`) and the curve run over the whole
block. The smoother's branch depends on its own past, so it has no closed form:

* TorchScript (Neutone, nn~) steps it on Python floats (:func:`attack_release`), a few
  interpreter instructions per sample;
* an exported program (``torch.export``) cannot loop on data, so it solves it by policy
  iteration: guess which samples attack, solve the then linear recursion for the whole
  block at once, re-decide each sample from the result, repeat until no decision changes.
  The fixed point is the kernel's output (every decision agrees with the value before it)
  and each round fixes at least the first wrong decision, so it ends; on music two or
  three rounds are typical (fast attacks can take many more). It runs a fixed number of
  rounds, then continues with ``torch.cond`` / ``while_loop`` only if a decision changed.
"""

import math

import torch
from torch import Tensor

from ...functional.dynamics import _FLOOR
from .base import Block, exporting, knob_values, param

__all__ = ["DynamicsBlock", "first_order", "attack_release"]

_LN9 = math.log(9.0)
LOG10_SCALE = 10.0 / math.log(10.0)  # 10 log10(p) = LOG10_SCALE ln(p)
DB_TO_NEPER = math.log(10.0) / 20.0  # 10^(G/20) = exp(DB_TO_NEPER G)
_ROUNDS = 4  # policy rounds an exported program always runs
_SPAN = 600.0  # largest -log of a product within a chunk (exp(600) is finite in float64)


def first_order(log_c: Tensor, g: Tensor, y0: Tensor, length: int) -> Tensor:
    """``y[t] = c[t] y[t-1] + (1 - c[t]) g[t]`` for ``(R, N)`` rows from ``y0 (R,)``, in
    closed form, ``c = exp(log_c)`` in (0, 1], ``g >= 0`` and ``y0 >= 0``.

    Within chunks of ``length`` samples, ``y[t] = P[t] (y_start + cumsum(d / P)[t])`` with
    ``d = (1 - c) g`` and ``P`` the running product of ``c`` from the chunk's start; every
    term is >= 0, so the sums lose no precision, and ``length`` must keep ``1 / P`` finite
    (``-sum(log_c) < 700`` over a chunk). Between chunks the same recursion runs on the
    chunk ends as an ``M x M`` matrix of products (exps of differences of cumulative logs
    that are <= 0).
    """
    rows, n = g.shape[0], g.shape[1]
    chunks = (n + length - 1) // length
    pad = chunks * length - n
    lc = torch.nn.functional.pad(log_c, [0, pad]).reshape(rows, chunks, length)
    d = torch.nn.functional.pad((1 - torch.exp(log_c)) * g, [0, pad])
    lp = torch.cumsum(lc, -1)  # log P
    z = torch.exp(lp) * torch.cumsum(d.reshape(rows, chunks, length) * torch.exp(-lp), -1)
    if chunks == 1:
        return (z + torch.exp(lp) * y0[:, None, None]).reshape(rows, length)[:, :n]
    total = lp[..., -1]  # (R, M)
    after = torch.cumsum(total, -1)
    before = after - total
    outer = torch.tril(torch.ones(chunks, chunks, dtype=torch.bool), -1)
    e = torch.where(outer, torch.exp(before[..., :, None] - after[..., None, :]), 0.0)
    start = torch.matmul(e, z[..., -1:])[..., 0] + torch.exp(before) * y0[:, None]
    y = z + torch.exp(lp) * start[..., None]
    return y.reshape(rows, chunks * length)[:, :n]


def attack_release(
    g: Tensor, y0: Tensor, attack: float, release: float, rising: bool = False
) -> Tensor:
    """The smoother sample by sample on Python floats: ``g (R, N)``, ``y0 (R,)``, the
    coefficients -> ``(R, N)`` (what TorchScript runs: cheap per sample). It attacks where
    ``g`` falls below its output (a gain), or with ``rising`` where it climbs above it (a
    level envelope)."""
    out = torch.empty_like(g)
    for r in range(g.shape[0]):
        values: list[float] = g[r].tolist()
        prev = float(y0[r])
        smoothed: list[float] = []
        for v in values:
            c = attack if (v > prev if rising else v < prev) else release
            prev = c * prev + (1.0 - c) * v
            smoothed.append(prev)
        out[r] = torch.tensor(smoothed, dtype=torch.float64)
    return out


class DynamicsBlock(Block):
    """``Compressor``, ``Expander`` and ``Limiter`` (its ratio infinite)."""

    knob_params: list[str]

    def __init__(self, proc, channels: int, block_size: int, knob_params: list[str]) -> None:
        name = type(proc).__name__
        values = knob_values(proc, knob_params)
        super().__init__(name, channels, channels)
        self.knob_params = list(knob_params)
        self.compress = name != "Expander"
        self.limiter = name == "Limiter"
        detector = getattr(proc, "detector", "peak")
        self.rms = detector == "rms"
        # "envelope": |x| through the attack/release smoother, the curve's gain unsmoothed
        self.envelope = detector == "envelope"
        self.linked = bool(getattr(proc, "link_channels", True))
        self.gains = 1 if self.linked else channels
        self.sample_rate = float(proc.sample_rate)
        self.rms_log_coef = -_LN9 / (10.0 * self.sample_rate / 1000.0)  # 10 ms detector
        self.floor, self.floor2 = _FLOOR, _FLOOR**2
        self.ln9, self.log10_scale, self.db_to_neper = _LN9, LOG10_SCALE, DB_TO_NEPER
        # chunks of the closed-form smoother: the fastest attack a knob can reach decides
        attack = (
            proc.spec("attack_ms").minimum if "attack_ms" in knob_params else values["attack_ms"]
        )
        fastest = _LN9 / (attack * self.sample_rate / 1000.0)  # -log c per sample
        self.length = int(min(max(1, math.floor(_SPAN / fastest)), max(block_size, 1)))
        for key in ("threshold_db", "ratio", "knee_db", "attack_ms", "release_ms", "makeup_db"):
            value = math.inf if key == "ratio" and self.limiter else values[key]
            self.register_buffer(key, torch.tensor([[value]], dtype=torch.float64))
        self.register_buffer("power", torch.zeros(1, channels, dtype=torch.float64))
        self.register_buffer("gain", torch.ones(1, self.gains, dtype=torch.float64))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.power = torch.zeros(batch, self.in_channels, dtype=torch.float64)
        self.gain = torch.ones(batch, self.gains, dtype=torch.float64)

    def _value(self, inputs: dict[str, Tensor], name: str, default: Tensor) -> Tensor:
        return param(inputs, name, default).to(torch.float64).reshape(1, 1)

    def _curve(self, level_db: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        thr = self._value(inputs, "threshold_db", self.threshold_db)
        width = self._value(inputs, "knee_db", self.knee_db).clamp_min(1e-6)
        ratio = self._value(inputs, "ratio", self.ratio)
        if self.compress:
            slope = 1.0 / ratio - 1.0
            o = level_db - thr
        else:
            slope = 1.0 - ratio
            o = thr - level_db
        knee = slope * (o + width / 2) ** 2 / (2 * width)
        db = torch.where(o >= width / 2, slope * o, knee)
        db = torch.where(o <= -width / 2, torch.zeros_like(o), db)
        return torch.exp(self.db_to_neper * db)

    def _smooth(
        self, g: Tensor, y0: Tensor, inputs: dict[str, Tensor], rising: bool = False
    ) -> Tensor:
        """The attack/release smoother of ``g (R, N)`` from ``y0 (R,)``: it attacks where
        ``g`` falls (a gain) or, with ``rising``, where it climbs (a level)."""
        scale = self.sample_rate / 1000.0
        la = -self.ln9 / (self._value(inputs, "attack_ms", self.attack_ms) * scale)
        lr = -self.ln9 / (self._value(inputs, "release_ms", self.release_ms) * scale)
        if torch.jit.is_scripting() or not exporting():
            return attack_release(g, y0, float(torch.exp(la)), float(torch.exp(lr)), rising)
        return self._smooth_exported(g, y0, la, lr, rising)

    @torch.jit.unused
    def _smooth_exported(
        self, g: Tensor, y0: Tensor, la: Tensor, lr: Tensor, rising: bool
    ) -> Tensor:
        from torch._higher_order_ops import while_loop

        length = self.length

        def solve(m: Tensor) -> Tensor:
            return first_order(torch.where(m, la, lr), g, y0, length).contiguous()

        def decide(y: Tensor) -> Tensor:
            before = torch.cat([y0[:, None], y[:, :-1]], 1)
            return g > before if rising else g < before

        mask = g > y0[:, None] if rising else g < y0[:, None]

        y = solve(mask)
        for _ in range(_ROUNDS - 1):
            mask = decide(y)
            y = solve(mask)

        def going(m: Tensor, y: Tensor) -> Tensor:
            return (decide(y) != m).any()

        def step(m: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
            m2 = decide(y)
            return m2, solve(m2)

        return while_loop(going, step, (mask, y))[1]

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, channels, n = x.shape[0], x.shape[1], x.shape[2]
        if n == 0:
            return x
        u = x.to(torch.float64)
        rows = batch * channels
        # the detector per channel, its last value the state in ``power``: the mean square
        # (peak: as it is, rms: through the 10 ms one-pole) or, for "envelope" (JUCE's
        # compressor), |x| through the attack/release smoother (attack where it climbs)
        if self.envelope:
            detected = self._smooth(
                u.abs().reshape(rows, n), self.power.reshape(rows), inputs, True
            )
        elif self.rms:
            log_r = torch.full((rows, n), self.rms_log_coef, dtype=torch.float64)
            detected = first_order(
                log_r, (u * u).reshape(rows, n), self.power.reshape(rows), self.length
            )
        else:
            detected = u * u
        detected = detected.reshape(batch, channels, n)
        self.power.copy_(detected[:, :, -1])
        level = detected.amax(1, keepdim=True) if self.linked else detected  # (B, G, n)
        gains = level.shape[1]
        level = level.reshape(batch * gains, n)
        if self.envelope:  # an amplitude, floored as the library does
            level_db = 2 * self.log10_scale * torch.log(level.clamp_min(0.0) + self.floor)
        else:  # a mean square
            level_db = self.log10_scale * torch.log(level + self.floor2)
        g = self._curve(level_db, inputs)
        if not self.envelope:  # the envelope's gain is applied as the curve gives it
            g = self._smooth(g, self.gain.reshape(batch * gains), inputs)
        self.gain.copy_(g[:, -1].reshape(batch, gains))
        makeup = torch.exp(self.db_to_neper * self._value(inputs, "makeup_db", self.makeup_db))
        out = u * g.reshape(batch, gains, n) * makeup
        return out.to(x.dtype)
