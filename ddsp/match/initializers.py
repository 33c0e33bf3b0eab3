"""Starting points from analysis: each processor kind declares how the dry/wet pair sets
its parameters before any gradient step.

An initializer is a function ``(proc, index, ctx) -> {name: Finding}`` registered for a
processor class with :func:`register_initializer` (or found as a ``match_initializer``
static method on the class itself, so a new processor can bring its own). It sets the
parameters it finds on ``proc`` and says how it found each one. ``stage`` orders the work
along the chain regardless of where each processor sits: echoes and decays first (they
are read off the impulse response whatever else the chain did), then EQ, dynamics and
shapers (twice when the chain has dynamics: a compressor's gain colours a spectral
estimate, an EQ shifts a compressor's input level, a drive after it looks like more
compression), then modulation (searched), then level.

Kinds without an initializer keep their values and are reported as such.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..modules.algorithmic import FDNReverb, Freeverb
from ..modules.base import Processor
from ..modules.chain import Chain
from ..modules.delays import Chorus, Delay, Flanger, PingPongDelay
from ..modules.dynamics import Compressor, Expander, Limiter
from ..modules.effects import Distortion, Panner, ParametricEQ, Phaser, StereoWidth, Tremolo
from ..modules.filters import SVF, Biquad
from ..modules.mix import Gain
from ..modules.reverb import ConvolutionReverb, NoiseReverb
from .analysis import (
    Response,
    decay_rt60,
    delay_track,
    estimate_response,
    find_echoes,
    log_frequencies,
    transfer_db,
)
from .dynamics import _nelder_mead, fit_dynamics, level_map, model_gain
from .eq import PARAMETRIC_EQ_BANDS, fit_bands
from .objective import SpectralObjective, run_chain

__all__ = [
    "Finding",
    "Context",
    "Initializer",
    "INITIALIZERS",
    "register_initializer",
    "initializer_for",
    "initialise_chain",
    "STAGES",
]

STAGES = {"structure": 0, "spectrum": 1, "dynamics": 2, "shaper": 3, "modulation": 4, "level": 5}


@dataclass
class Finding:
    """How a parameter got its starting value: ``how`` is ``"measured"`` (read off the
    signals), ``"searched"`` (best of a coarse grid on the loss), ``"unused"`` (a band or
    part the signals do not call for: left neutral and frozen), ``"undetermined"`` (the
    signals cannot tell: frozen) or ``"kept"``; ``note`` says more."""

    value: float
    how: str
    note: str = ""


@dataclass(frozen=True)
class Initializer:
    """A registered analysis: ``fn(proc, index, ctx)``, its ``stage`` (see :data:`STAGES`),
    whether the processor is linear in its input (then it takes part in the references
    other analyses compare the wet file with), and its ``rough`` parameters: those whose
    loss is not smooth (a delay time: the spectral loss is a comb of local minima in it, its
    basin about a sample wide), which analysis or search set and the gradient phase
    leaves alone."""

    fn: Callable[[Processor, int, Context], dict[str, Finding]]
    stage: int
    linear: bool
    rough: tuple[str, ...] = ()


INITIALIZERS: dict[type, Initializer] = {}


def register_initializer(
    cls: type, *, stage: str, linear: bool, rough: tuple[str, ...] = ()
) -> Callable[[Callable], Callable]:
    """Decorator: ``@register_initializer(MyEffect, stage="spectrum", linear=True)``."""
    if stage not in STAGES:
        raise ValueError(f"expected stage in {list(STAGES)}, got {stage!r}")
    unknown = sorted(set(rough) - set(cls.spec_names()))
    if unknown:
        raise ValueError(f"{cls.__name__} has no parameter(s) {unknown}")

    def wrap(fn: Callable) -> Callable:
        INITIALIZERS[cls] = Initializer(fn, STAGES[stage], linear, tuple(rough))
        return fn

    return wrap


def initializer_for(proc: Processor) -> Initializer | None:
    """The processor's own ``match_initializer`` (an :class:`Initializer`), else the
    registered one of its class or nearest base class, else None."""
    own = getattr(type(proc), "match_initializer", None)
    if isinstance(own, Initializer):
        return own
    for cls in type(proc).__mro__:
        if cls in INITIALIZERS:
            return INITIALIZERS[cls]
    return None


@dataclass
class Context:
    """What the initializers share: the aligned pair ``dry``/``wet`` ``(channels, time)``
    float64, the chain, the objective (for searches), the impulse response (computed once),
    each dynamics processor's modelled gain, and which processors are initialised."""

    dry: torch.Tensor
    wet: torch.Tensor
    sample_rate: float
    chain: Chain
    objective: SpectralObjective
    eval_starts: list[int]
    ready: set[int] = field(default_factory=set)
    gains: dict[int, torch.Tensor] = field(default_factory=dict)
    current: int | None = None
    seconds: dict[int, float] = field(default_factory=dict)
    _response: Response | None = None

    @property
    def response(self) -> Response:
        if self._response is None:
            self._response = estimate_response(self.dry, self.wet, self.sample_rate)
        return self._response

    def is_linear(self, i: int) -> bool:
        init = initializer_for(self.chain[i])
        return bool(init and init.linear)

    def model(self, x: torch.Tensor, *, start: int = 0, stop: int | None = None,
              skip: int | None = None, dynamics: str = "gain") -> torch.Tensor:  # fmt: skip
        """``x (C, T)`` through processors ``start..stop`` as analysed so far: processors not
        yet initialised (and ``skip``) are bypassed; a dynamics processor applies its
        modelled gain (``dynamics="gain"``) or is bypassed (``"bypass"``)."""
        y = x.float()[None]
        stop = len(self.chain) if stop is None else stop
        with torch.no_grad():
            for i in range(start, stop):
                if i == skip or i not in self.ready:
                    continue
                if i in self.gains:
                    if dynamics == "gain":
                        g = self.gains[i]
                        y = y * g[..., : y.shape[-1]].float()
                    continue
                out = self.chain[i](y)
                y = out
        return y[0].double()

    def pending_dynamics(self, index: int) -> bool:
        """Whether the chain holds a dynamics processor not modelled yet (besides ``index``)."""
        for i, p in enumerate(self.chain):
            init = initializer_for(p)
            if i != index and init and init.stage == STAGES["dynamics"] and i not in self.gains:
                return True
        return False

    def partial_chain(self) -> Chain:
        """The processors analysed so far and the one being analysed, in chain order (the
        others are bypassed: their defaults would only blur the comparison)."""
        keep = self.ready | ({self.current} if self.current is not None else set())
        return Chain([p for i, p in enumerate(self.chain) if i in keep])

    def level_pending(self) -> bool:
        """Whether a level processor (a gain, analysed last) is not initialised yet."""
        return any(
            i not in self.ready and (init := initializer_for(p)) and init.stage == STAGES["level"]
            for i, p in enumerate(self.chain)
        )

    def loss(self, context: int | None = None) -> float:
        """The objective on the evaluation crops for :meth:`partial_chain`, ``context``
        samples before each (default: the objective's). While the chain's level processor
        waits for its turn, the output is brought to the wet crops' energy first: a search
        before it compares shapes, not levels (a reverb's dry gain of 1 - mix against a
        plugin's own dry level would otherwise pull its mix)."""
        obj = self.objective
        c = obj.context if context is None else int(context)
        with torch.no_grad():
            x = torch.nn.functional.pad(obj.dry, (c, 0))
            x = torch.stack([x[:, s : s + c + obj.crop] for s in self.eval_starts])
            at = [s - c for s in self.eval_starts]
            y = run_chain(self.partial_chain(), x, at)[..., c:]
            if self.level_pending():
                e_w = sum(float(obj.wet[..., s : s + obj.crop].square().sum())
                          for s in self.eval_starts)  # fmt: skip
                e_y = float(y.square().sum())
                if e_y > 0 and e_w > 0:
                    y = y * math.sqrt(e_w / e_y)
            return float(obj.loss_of(y, self.eval_starts))


# --------------------------------------------------------------------------- helpers


def _value(proc: Processor, name: str) -> float:
    return float(getattr(proc, name).detach())


def _set(proc: Processor, name: str, value: float, how: str, note: str = "") -> Finding:
    spec = proc.spec(name)
    v = min(max(float(value), spec.minimum), spec.maximum)
    if v != float(value) and not note:
        note = f"clipped to the range from {float(value):.4g}"
    setattr(proc, name, v)
    return Finding(v, how, note)


def search(
    proc: Processor,
    name: str,
    values: list[float],
    ctx: Context,
    note: str = "",
    *,
    context: int | None = None,
) -> Finding:
    """Set ``name`` to the value of ``values`` with the lowest loss on the evaluation crops
    (a coarse global search, for parameters whose loss is not smooth); the note gives the
    values within 2% of the best loss. ``context``: samples before each crop (see
    :meth:`Context.loss`)."""
    spec = proc.spec(name)
    values = sorted({min(max(float(v), spec.minimum), spec.maximum) for v in values})
    losses = []
    for v in values:
        setattr(proc, name, v)
        losses.append(ctx.loss(context))
    best = min(range(len(values)), key=losses.__getitem__)
    near = [v for v, ell in zip(values, losses) if ell <= losses[best] * 1.02]
    setattr(proc, name, values[best])
    spread = f"within 2% of the best loss: {min(near):.4g} .. {max(near):.4g}"
    return Finding(values[best], "searched", f"{note}; {spread}" if note else spread)


def _log_grid(lo: float, hi: float, n: int) -> list[float]:
    return torch.logspace(math.log10(lo), math.log10(hi), n, dtype=torch.float64).tolist()


def _excerpt(x: torch.Tensor, sample_rate: float, seconds: float) -> slice:
    """The ``seconds`` of ``x`` with the most energy (analysis cost bound)."""
    n = int(seconds * sample_rate)
    if x.shape[-1] <= n:
        return slice(0, x.shape[-1])
    hop = max(1, n // 8)
    e = x.square().sum(0)
    cums = torch.cat([e.new_zeros(1), e.cumsum(0)])
    starts = torch.arange(0, x.shape[-1] - n + 1, hop)
    best = int(starts[(cums[starts + n] - cums[starts]).argmax()])
    return slice(best, best + n)


# --------------------------------------------------------------------------- echoes


def _echo_pattern(ctx: Context, lo_ms: float, hi_ms: float):
    echoes = find_echoes(ctx.response, min_lag_ms=lo_ms, max_lag_ms=hi_ms, count=6)
    return [e for e in echoes if e.score >= 6.0 and abs(e.gain) >= 0.02]


def _delay_candidates(echoes) -> list[tuple[float, float]]:
    """(lag_ms, first echo gain) per strong echo, strongest first."""
    return [(e.lag_ms, e.gain) for e in echoes]


def _fit_feedback(ctx: Context, lag_ms: float, ping_pong: bool) -> tuple[float, float]:
    """Feedback and echo gain (``mix / (1 - mix)``) for an echo at ``lag_ms``: the library's
    delay line run on the response's direct part, with each feedback of a grid, against the
    response's echoes (least squares); interpolation of a fractional lag included."""
    from ..functional import delay

    r = ctx.response
    sr = r.sample_rate
    n_w = max(4, int(0.003 * sr))
    n = int(3.5 * lag_ms * sr / 1000) + n_w
    h = r.lagged(-n_w // 2, n).mean(0)
    direct = h.clone()
    direct[n_w:] = 0.0
    echoes = h - direct
    best = (math.inf, 0.0, 0.0)
    for fb in torch.linspace(-0.9, 0.9, 37).tolist():
        y = delay(direct.float(), lag_ms, sample_rate=sr, feedback=fb, mix=1.0).double()
        if ping_pong:  # alternate sides: the mean response sees every echo at half
            y = 0.5 * y
        energy = float(y.square().sum())
        if energy <= 0:
            continue
        g = float((echoes * y).sum()) / energy
        err = float((echoes - g * y).square().sum())
        if err < best[0]:
            best = (err, fb, g)
    return best[1], best[2]


@register_initializer(Delay, stage="structure", linear=True, rough=("delay_ms",))
@register_initializer(PingPongDelay, stage="structure", linear=True, rough=("delay_ms",))
def _init_delay(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    spec = proc.spec("delay_ms")
    echoes = _echo_pattern(ctx, max(spec.minimum, 1.0), spec.maximum)
    ping_pong = isinstance(proc, PingPongDelay)
    candidates = _delay_candidates(echoes)
    if not candidates:
        # no echo stands out: the loss in delay time is a comb of local minima, so search
        out = {"delay_ms": search(proc, "delay_ms", _log_grid(spec.minimum, spec.maximum, 48), ctx)}
        out["mix"] = search(proc, "mix", [0.0, 0.1, 0.2, 0.3, 0.5], ctx)
        out["feedback"] = search(proc, "feedback", [0.0, 0.2, 0.4, 0.6], ctx)
        return out
    # several starts: each strong echo as the delay, the loss picks one
    trials = []
    for lag, _gain in candidates[:3]:
        fb, ratio = _fit_feedback(ctx, lag, ping_pong)
        mix = max(ratio, 0.0) / (1.0 + max(ratio, 0.0))
        proc.delay_ms = min(max(lag, spec.minimum), spec.maximum)
        proc.mix = min(max(mix, 0.0), 1.0)
        proc.feedback = fb
        trials.append((ctx.loss(), lag, mix, fb))
    trials.sort()
    loss, lag, mix, fb = trials[0]
    others = ", ".join(f"{t[1]:.1f} ms" for t in trials[1:])
    note = "echo lag from the impulse response" + (f" (also tried {others})" if others else "")
    fit_note = "the delay line fitted to the response's echoes"
    return {
        "delay_ms": _set(proc, "delay_ms", lag, "measured", note),
        "feedback": _set(proc, "feedback", fb, "measured", fit_note),
        "mix": _set(proc, "mix", mix, "measured", fit_note),
    }


def _fit_sweep(
    times: torch.Tensor, lags: torch.Tensor, weights: torch.Tensor, rates: list[float]
) -> tuple[float, float, float, float, float] | None:
    """``lag ~ centre + depth sin(2 pi (phase + rate t))`` through a delay track, robustly:
    per rate of ``rates`` a weighted least-squares fit, scored with residuals capped at
    1 ms (the track's outliers: frames where another lag won), then the best rate refined
    and the fit redone on its inliers. ``(rate, centre, depth, phase, inlier fraction)``."""
    keep = weights > 0
    t, y, w = times[keep], lags[keep], weights[keep]
    if t.numel() < 8:
        return None

    def fit(rate: float, mask: torch.Tensor) -> tuple[torch.Tensor, float]:
        arg = 2 * math.pi * rate * t
        a = torch.stack([torch.ones_like(t), torch.sin(arg), torch.cos(arg)], -1)
        sw = (w * mask).sqrt()[:, None]
        sol = torch.linalg.lstsq(a * sw, y[:, None] * sw).solution[:, 0]
        r = y - a @ sol
        return sol, float((w * r.square().clamp(max=1.0)).sum())

    every = torch.ones_like(t)
    best = min(rates, key=lambda r: fit(r, every)[1])
    fine = [best * 2 ** (k / 96) for k in range(-6, 7)]
    best = min(fine, key=lambda r: fit(r, every)[1])
    sol, _ = fit(best, every)
    for _ in range(3):  # refit on the inliers
        arg = 2 * math.pi * best * t
        model = sol[0] + sol[1] * torch.sin(arg) + sol[2] * torch.cos(arg)
        mask = ((y - model).abs() < 1.0).double()
        if float(mask.sum()) < 8:
            break
        sol, _ = fit(best, mask)
    centre, sa, ca = (float(v) for v in sol)
    phase = (math.atan2(ca, sa) / (2 * math.pi)) % 1.0
    return best, centre, math.hypot(sa, ca), phase, float(mask.mean())


@register_initializer(Chorus, stage="modulation", linear=True, rough=("rate_hz", "centre_ms"))
@register_initializer(Flanger, stage="modulation", linear=True, rough=("rate_hz", "centre_ms"))
def _init_chorus(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    c, d, r = proc.spec("centre_ms"), proc.spec("depth_ms"), proc.spec("rate_hz")
    x_in = ctx.model(ctx.dry, stop=index)
    times, lags, weights = delay_track(x_in, ctx.wet, ctx.sample_rate,
                                       min_ms=max(c.minimum - d.maximum, 0.5),
                                       max_ms=c.maximum + d.maximum)  # fmt: skip
    sweep = _fit_sweep(times, lags, weights, _log_grid(r.minimum, r.maximum, 160))
    if sweep is None or sweep[4] < 0.3:
        return _search_chorus(proc, ctx)
    rate, centre, depth, phase, inliers = sweep
    note = f"sine through the delay track ({100 * inliers:.0f}% of frames on it)"
    out = {
        "rate_hz": _set(proc, "rate_hz", rate, "measured", note),
        "centre_ms": _set(proc, "centre_ms", centre, "measured", note),
    }
    out["depth_ms"] = _set(proc, "depth_ms", min(depth, _value(proc, "centre_ms") - 0.05),
                           "measured", note)  # fmt: skip
    # the swept comb's notches move with a sample's error in the delay: a phase error of
    # 1/300 cycle over a 3 ms sweep is 3 samples, so the track's sine is a start and the
    # loss settles phase and rate (finer than a frame can), before and after the mix
    proc.mix = 0.5
    if hasattr(proc, "lfo_phase"):
        proc.lfo_phase = phase
        out["rate_hz"] = _polish_sweep(proc, ctx, (0.004, 0.0015), note)
    out["mix"] = search(proc, "mix", [0.1, 0.25, 0.4, 0.5, 0.6, 0.75], ctx)
    out["feedback"] = search(proc, "feedback", [-0.5, -0.25, 0.0, 0.25, 0.5], ctx)
    m = _value(proc, "mix")
    out["mix"] = search(proc, "mix", [m - 0.05, m, m + 0.05], ctx)
    if hasattr(proc, "lfo_phase"):
        out["rate_hz"] = _polish_sweep(proc, ctx, (0.0015, 0.0005), note)
        out["lfo_phase"] = Finding(proc.lfo_phase, "searched", f"{note}; polished on the loss")
    return out


def _polish_sweep(proc: Processor, ctx: Context, steps: tuple[float, ...], note: str) -> Finding:
    """LFO phase and rate in turn, each step of ``steps`` (cycles over the signal)."""
    seconds = ctx.dry.shape[-1] / ctx.sample_rate
    best = ctx.loss()
    found = Finding(_value(proc, "rate_hz"), "measured", note)
    for step in steps:
        for _ in range(2):
            p0 = proc.lfo_phase
            for p in ((p0 - step) % 1.0, (p0 + step) % 1.0):
                proc.lfo_phase = p
                loss = ctx.loss()
                if loss < best:
                    best, p0 = loss, p
            proc.lfo_phase = p0
            r0 = _value(proc, "rate_hz")
            found = search(proc, "rate_hz", [r0 + k * step / seconds for k in (-1, 0, 1)],
                           ctx, note)  # fmt: skip
            best = min(best, ctx.loss())
    return found


def _search_chorus(proc: Processor, ctx: Context) -> dict[str, Finding]:
    """No sweep stands out of the delay track: a coarse search on the loss."""
    out: dict[str, Finding] = {}
    c = proc.spec("centre_ms")
    out["centre_ms"] = search(proc, "centre_ms", _log_grid(c.minimum, c.maximum, 8), ctx)
    r = proc.spec("rate_hz")
    out["rate_hz"] = search(proc, "rate_hz", _log_grid(r.minimum, r.maximum, 10), ctx)
    d = proc.spec("depth_ms")
    out["depth_ms"] = search(proc, "depth_ms", [d.maximum * f for f in (0.1, 0.3, 0.6, 1.0)], ctx)
    out["mix"] = search(proc, "mix", [0.0, 0.25, 0.5, 0.75], ctx)
    out["feedback"] = search(proc, "feedback", [-0.5, -0.2, 0.0, 0.2, 0.5], ctx)
    out["centre_ms"] = search(proc, "centre_ms", _log_grid(c.minimum, c.maximum, 12), ctx)
    return out


@register_initializer(Tremolo, stage="modulation", linear=True, rough=("rate_hz",))
@register_initializer(Phaser, stage="modulation", linear=True, rough=("rate_hz",))
def _init_lfo(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    r = proc.spec("rate_hz")
    out = {"rate_hz": search(proc, "rate_hz", _log_grid(r.minimum, r.maximum, 16), ctx)}
    for name in proc.spec_names():
        if name != "rate_hz":
            s = proc.spec(name)
            grid = [s.minimum + (s.maximum - s.minimum) * f for f in (0.0, 0.25, 0.5, 0.75, 1.0)]
            out[name] = search(proc, name, grid, ctx)
    return out


# --------------------------------------------------------------------------- reverbs


def _band_tail(tail: torch.Tensor, sample_rate: float, lo: float, hi: float) -> torch.Tensor:
    spec = torch.fft.rfft(tail)
    f = torch.fft.rfftfreq(tail.shape[-1], 1 / sample_rate)
    return torch.fft.irfft(spec * ((f >= lo) & (f < hi)), tail.shape[-1])


@dataclass
class _Tail:
    rt60_s: float
    rt60_high_s: float
    energy_ratio: float  # tail energy / direct energy
    start_ms: float


def _tail(ctx: Context) -> _Tail | None:
    r = ctx.response
    sr = r.sample_rate
    h = r.mono()
    direct = r.lagged(-int(0.0025 * sr), int(0.0025 * sr)).mean(0)
    after = h[r.n_lead + int(0.0025 * sr) :]
    if after.numel() < int(0.1 * sr):
        return None
    env = after.square()
    start = int(torch.nonzero(env > env.max() * 1e-2)[0]) if float(env.max()) > 0 else 0
    tail = after[start:]
    rt, energy = decay_rt60(tail, sr)
    rt_high, _ = decay_rt60(_band_tail(tail, sr, 3000.0, 8000.0), sr)
    e_direct = float(direct.square().sum())
    if math.isnan(rt) or e_direct <= 0:
        return None
    return _Tail(rt, rt_high, energy / e_direct, 1000.0 * (start + 0.0025 * sr) / sr)


def _mix_for(ratio: float, ir_energy: float) -> float:
    # (m / (1 - m))^2 * ir_energy = tail / direct energy
    rho = math.sqrt(max(ratio, 0.0) / max(ir_energy, 1e-12))
    return rho / (1.0 + rho)


def _wet_energy(proc: Processor, seconds: float, sample_rate: float) -> float:
    x = torch.zeros(1, 1, int(seconds * sample_rate))
    x[..., 0] = 1.0
    mix = float(proc.mix.detach())
    proc.mix = 1.0
    with torch.no_grad():
        y = proc(x)
    proc.mix = mix
    return float(y.square().sum() / y.shape[1])


@register_initializer(NoiseReverb, stage="structure", linear=True)
@register_initializer(FDNReverb, stage="structure", linear=True)
def _init_decay_reverb(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    t = _tail(ctx)
    if t is None:
        return {"mix": _set(proc, "mix", 0.0, "measured", "no decaying tail found")}
    out = {}
    if not math.isnan(t.rt60_high_s):
        out["high_rt60_ratio"] = _set(
            proc, "high_rt60_ratio", t.rt60_high_s / t.rt60_s, "measured", "3-8 kHz T20 / T20"
        )
    proc.rt60_s = min(max(t.rt60_s, proc.spec("rt60_s").minimum), proc.spec("rt60_s").maximum)
    energy = _wet_energy(proc, min(4.0, 1.5 * t.rt60_s + 0.2), ctx.sample_rate)
    proc.mix = min(max(_mix_for(t.energy_ratio, energy), 0.0), 1.0)
    rts = [t.rt60_s * f for f in (0.6, 0.75, 0.9, 1.0, 1.15, 1.35, 1.7)]
    out["rt60_s"] = search(proc, "rt60_s", rts, ctx, f"around the tail's T20 {t.rt60_s:.2f} s")
    m = _value(proc, "mix")
    out["mix"] = search(
        proc, "mix", [m * f for f in (0.5, 0.7, 1.0, 1.4, 2.0)], ctx, "tail / direct"
    )
    return out


_FREEVERB_L = sum((1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)) / 8 / 44_100  # mean comb, s


def _freeverb_room(rt60_s: float) -> float:
    # comb loop gain g per mean comb length L at DC: 60 dB in rt60 -> g = 10^(-3 L / rt60)
    g = 10 ** (-3 * _FREEVERB_L / rt60_s)
    return (g - 0.7) / 0.28


def _freeverb_damping(rt60_s: float, rt60_high_s: float, freq_hz: float, sample_rate: float):
    # in-loop one-pole (1 - d) / (1 - d z^-1), d = 0.4 damping: its gain at freq_hz must make
    # up the faster high-band decay, a = 10^(-3 L (1/rt_high - 1/rt))
    a = 10 ** (-3 * _FREEVERB_L * (1 / rt60_high_s - 1 / rt60_s))
    c = math.cos(2 * math.pi * freq_hz / sample_rate)
    # (1 - d)^2 = a^2 (1 - 2 d c + d^2)  ->  (1 - a^2) d^2 - 2 (1 - a^2 c) d + (1 - a^2) = 0
    qa, qb = 1 - a * a, -2 * (1 - a * a * c)
    if qa <= 1e-9:
        return 0.0
    disc = qb * qb - 4 * qa * qa
    d = (-qb - math.sqrt(max(disc, 0.0))) / (2 * qa)
    return d / 0.4


_REVERB_CONTEXT_S = 1.0  # searches on a reverb hear this much before each crop


def _around(value: float, steps: tuple[float, ...], lo: float, hi: float) -> list[float]:
    return [min(max(value + d, lo), hi) for d in steps]


@register_initializer(Freeverb, stage="structure", linear=True)
def _init_freeverb(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    # a reverb's loss only means something with its tail: crops hear a second before them
    long = int(_REVERB_CONTEXT_S * ctx.sample_rate)
    t = _tail(ctx)
    if t is None:
        # no decay stands out of the response (a compressor before the reverb modulates
        # the gain with the signal, and the linear estimate's floor buries the tail)
        note = "no decaying tail in the response: each size of a grid with its best mix"
        pairs = [(r, m) for r in (0.3, 0.45, 0.6, 0.7, 0.8, 0.9)
                 for m in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)]  # fmt: skip
        return _fit_freeverb(proc, ctx, pairs, note, long)
    if not math.isnan(t.rt60_high_s) and t.rt60_high_s < t.rt60_s:
        proc.damping = min(max(_freeverb_damping(t.rt60_s, t.rt60_high_s, 5000.0,
                                                 ctx.sample_rate), 0.0), 1.0)  # fmt: skip
    energy = _wet_energy(proc, min(4.0, 1.5 * t.rt60_s + 0.2), ctx.sample_rate)
    m0 = min(max(_mix_for(t.energy_ratio, energy), 0.0), 1.0)
    # the estimated response's tail is noisy where the dry signal is sparse (its T20 runs
    # short on music): the T20 is a start, the loss around it decides, size, damping and
    # mix in turn (they trade: a longer tail with more damping, a shorter one louder)
    # (a few hits' tail read 0.45 s for 1.6 s): sizes over the whole range as well
    note = f"the tail's T20 {t.rt60_s:.2f} s and a grid, each size with its best mix"
    rooms = [_freeverb_room(t.rt60_s), 0.2, 0.35, 0.5, 0.6, 0.7, 0.78, 0.85, 0.92]
    pairs = [(r, min(m0 * g, 1.0)) for r in rooms for g in (0.5, 0.75, 1.0, 1.4)]
    return _fit_freeverb(proc, ctx, pairs, note, long)


def _fit_freeverb(
    proc: Processor, ctx: Context, pairs: list[tuple[float, float]], note: str, context: int
) -> dict[str, Finding]:
    """The best ``(room_size, mix)`` of ``pairs`` on the loss, then damping, mix and size
    polished in turn."""
    best = (math.inf, 0.0, 0.0)
    for room, mix in pairs:
        proc.room_size = min(max(room, 0.0), 1.0)
        proc.mix = min(max(mix, 0.0), 1.0)
        loss = ctx.loss(context)
        if loss < best[0]:
            best = (loss, _value(proc, "room_size"), _value(proc, "mix"))
    proc.room_size, proc.mix = best[1], best[2]
    out = {}
    for step in (0.05, 0.025, 0.01):
        out["damping"] = search(proc, "damping", _around(_value(proc, "damping"),
                                (-0.3, -0.15, -6 * step, 0.0, 6 * step, 0.15, 0.3), 0, 1),
                                ctx, "searched with the size", context=context)  # fmt: skip
        m = _value(proc, "mix")
        out["mix"] = search(proc, "mix", [m * (1 + k * step * 2) for k in (-2, -1, 0, 1, 2)],
                            ctx, "searched with the size", context=context)  # fmt: skip
        r = _value(proc, "room_size")
        out["room_size"] = search(proc, "room_size", _around(r, (-step, 0.0, step), 0.0, 1.0),
                                  ctx, note, context=context)  # fmt: skip
    return out


@register_initializer(ConvolutionReverb, stage="structure", linear=True)
def _init_convolution(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    return {"mix": search(proc, "mix", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0], ctx)}


# --------------------------------------------------------------------------- spectrum


def _quiet_samples(x: torch.Tensor, sample_rate: float, fraction: float = 0.35) -> torch.Tensor:
    """Samples in the quietest ``fraction`` of 20 ms frames that carry signal: where a
    compressor not yet analysed most likely left the gain alone."""
    frame = max(1, int(0.02 * sample_rate))
    n = x.shape[-1] // frame
    level = x[..., : n * frame].square().reshape(x.shape[0], n, frame).amax(-1).amax(0)
    level_db = 10 * torch.log10(level + 1e-20)
    active = level_db > float(level_db.max()) - 50.0
    cut = float(torch.quantile(level_db[active], fraction)) if bool(active.any()) else -math.inf
    keep = (level_db <= cut) & active
    out = keep.repeat_interleave(frame)
    return torch.nn.functional.pad(out, (0, x.shape[-1] - out.shape[0]))


def _spectral_target(proc: Processor, index: int, ctx: Context):
    """Measured response left for ``proc`` to explain: H1 from the chain without it (as
    analysed so far, dynamics as modelled gains) to the wet file."""
    ref = ctx.model(ctx.dry, skip=index)
    if ref.shape[0] != ctx.wet.shape[0] and ref.shape[0] != 1:
        ref = ref.mean(0, keepdim=True)
    freqs = log_frequencies(ctx.sample_rate)
    # a compressor at work modulates its gain within a pitch period, which colours any
    # spectral estimate; where every modelled compressor leaves the gain alone, none does
    quiet = None
    for g in ctx.gains.values():
        calm = (g.amin(0) > 10 ** (-0.25 / 20))[: ref.shape[-1]]
        if bool(calm.all()):
            continue  # a compressor found idle: it colours nothing
        quiet = calm if quiet is None else quiet & calm
    # the modelled gain is a model: a small error of it near the knee still colours the low
    # bands (their analysis frames are long), so keep to the quietest frames as well
    if quiet is not None or ctx.pending_dynamics(index):
        q = _quiet_samples(ref, ctx.sample_rate)
        quiet = q if quiet is None else quiet & q
    target, coh, level = transfer_db(ref, ctx.wet, ctx.sample_rate, freqs, frames=quiet)
    # trust a frequency as far as the estimate explains the wet energy there (coherence),
    # and not at all where the reference is 90 dB below its loudest band (numerical floor)
    weight = torch.where(level > -90.0, ((coh - 0.1) / 0.5).clamp(0.0, 1.0), 0.0)
    return target, weight, freqs


@register_initializer(ParametricEQ, stage="spectrum", linear=True)
def _init_eq(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    target, weight, freqs = _spectral_target(proc, index, ctx)
    fit = fit_bands(target, weight, freqs, ctx.sample_rate, PARAMETRIC_EQ_BANDS)
    out: dict[str, Finding] = {}
    note = (
        f"band fitted to the measured response ({fit.rms_before_db:.1f} -> {fit.rms_db:.1f} dB rms)"
    )
    for slot in PARAMETRIC_EQ_BANDS:
        band = fit.bands.get(slot)
        hz, db, q = f"{slot}_hz", f"{slot}_db", f"{slot}_q"
        if band is None:
            spec = proc.spec(hz)
            if slot in ("low_cut", "high_cut"):
                # a cut at its range end is not flat (a 20 kHz low-pass takes the top octave
                # at 48 kHz): switch it off where the EQ can
                end = spec.minimum if slot == "low_cut" else spec.maximum
                why = f"no {slot.replace('_', ' ')} found"
                if hasattr(proc, slot):
                    setattr(proc, slot, False)
                    why += ": switched off"
                out[hz] = _set(proc, hz, end, "unused", why)
            else:
                out[db] = _set(proc, db, 0.0, "unused", "no band needed here")
                out[hz] = Finding(_value(proc, hz), "unused", "band is flat")
                if slot.startswith("peak"):
                    out[q] = Finding(_value(proc, q), "unused", "band is flat")
            continue
        out[hz] = _set(proc, hz, band.cutoff_hz, "measured", note)
        if slot not in ("low_cut", "high_cut"):
            out[db] = _set(proc, db, band.gain_db, "measured", note)
        if slot.startswith("peak"):
            out[q] = _set(proc, q, band.q, "measured", note)
    return out


@register_initializer(Biquad, stage="spectrum", linear=True)
def _init_biquad(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    target, weight, freqs = _spectral_target(proc, index, ctx)
    fixed = None if proc.kind in ("peaking", "bandpass", "notch", "lowpass", "highpass") else None
    fit = fit_bands(target, weight, freqs, ctx.sample_rate, {"band": (proc.kind, fixed)})
    band = fit.bands.get("band")
    if band is None:
        return {"cutoff_hz": Finding(_value(proc, "cutoff_hz"), "kept", "no band found")}
    return {
        "cutoff_hz": _set(proc, "cutoff_hz", band.cutoff_hz, "measured"),
        "q": _set(proc, "q", band.q, "measured"),
        "gain_db": _set(proc, "gain_db", band.gain_db, "measured"),
    }


@register_initializer(SVF, stage="spectrum", linear=True)
@register_initializer(Panner, stage="spectrum", linear=True)
@register_initializer(StereoWidth, stage="spectrum", linear=True)
def _init_kept_linear(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    return {}  # linear, so it joins the references; no analysis of its own yet


# --------------------------------------------------------------------------- dynamics

_ANALYSIS_SECONDS = 8.0  # dynamics analysed on the loudest excerpt this long (cost bound)
_FRAME_S = 0.005


_DYNAMICS_STEPS = {"threshold_db": 3.0, "ratio": 0.3, "attack_ms": 0.7, "release_ms": 0.7,
                   "knee_db": 3.0}  # fmt: skip


def _polish_dynamics(
    proc: Processor, ctx: Context, names: tuple[str, ...], evals: int, restarts: int = 0
) -> tuple[float, dict]:
    """``names`` from their current values by Nelder and Mead's simplex on the loss (the
    whole chain as analysed so far, which the level mapping only approximates), ``evals``
    losses a run, up to ``restarts`` more runs; ratio and times in logs. ``(loss,
    values)``, the values set on ``proc``."""
    logs = {"ratio", "attack_ms", "release_ms"}

    def put(v: list[float]) -> None:
        for n, x in zip(names, v):
            spec = proc.spec(n)
            setattr(proc, n, min(max(math.exp(x) if n in logs else x, spec.minimum),
                                 spec.maximum))  # fmt: skip

    def f(v: list[float]) -> float:
        put(v)
        return ctx.loss()

    x0 = [math.log(_value(proc, n)) if n in logs else _value(proc, n) for n in names]
    best = (ctx.loss(), x0)
    # a simplex shrinks onto this valley's floor well before its minimum: restart it from
    # its best point with a full-sized simplex while that gains (as fit_dynamics does)
    for _ in range(restarts + 1):
        v, loss = _nelder_mead(f, best[1], [_DYNAMICS_STEPS[n] for n in names], evals=evals)
        gained = loss < best[0] * 0.99
        if loss < best[0]:
            best = (loss, v)
        if not gained:
            break
    put(best[1])
    return best[0], {n: _value(proc, n) for n in proc.spec_names()}


def _polish_knee(proc: Processor, ctx: Context) -> tuple[float, dict]:
    """Threshold and ratio on a grid for a hard and a 6 dB knee (the three trade: a lower
    threshold with a gentler ratio or a wider knee gives much the same loud frames, and a
    simplex crawls along that valley), then everything polished together."""
    start = {n: _value(proc, n) for n in proc.spec_names()}
    t_spec, r_spec = proc.spec("threshold_db"), proc.spec("ratio")
    best = None
    for knee in (0.0, 6.0):
        for n, v in start.items():
            setattr(proc, n, v)
        proc.knee_db = knee
        for dt in (-4.5, -3.0, -1.5, 0.0, 1.5):
            for fr in (0.55, 0.7, 0.85, 1.0):
                proc.threshold_db = min(max(start["threshold_db"] + dt, t_spec.minimum),
                                        t_spec.maximum)  # fmt: skip
                proc.ratio = min(max(start["ratio"] * fr, r_spec.minimum), r_spec.maximum)
                loss = ctx.loss()
                if best is None or loss < best[0]:
                    best = (loss, {n: _value(proc, n) for n in proc.spec_names()})
    for n, v in best[1].items():
        setattr(proc, n, v)
    names = ("threshold_db", "ratio", "attack_ms", "release_ms", "knee_db")
    return _polish_dynamics(proc, ctx, names, 40, restarts=2)


@register_initializer(Compressor, stage="dynamics", linear=False)
@register_initializer(Expander, stage="dynamics", linear=False)
@register_initializer(Limiter, stage="dynamics", linear=False)
def _init_dynamics(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    sr = ctx.sample_rate
    x_c = ctx.model(ctx.dry, stop=index)  # the compressor's input as analysed so far
    pred = ctx.model(x_c, start=index + 1, dynamics="bypass")
    cut = _excerpt(x_c, sr, _ANALYSIS_SECONDS)
    frame = max(16, int(_FRAME_S * sr))
    xs, ws, ps = x_c[..., cut], ctx.wet[..., cut], pred[..., cut]
    if ps.shape[0] != ws.shape[0]:
        ps = ps.mean(0, keepdim=True).expand(ws.shape[0], -1)
    lm = level_map(xs, ws, ps, frame)
    kind = "expander" if isinstance(proc, Expander) else "compressor"
    names = proc.spec_names()
    ranges = {n: (proc.spec(n).minimum, proc.spec(n).maximum) for n in names}
    if "ratio" not in names:  # a limiter: infinite ratio
        ranges["ratio"] = (1e6, 1e6)
    link = getattr(proc, "link_channels", True)
    detector = getattr(proc, "detector", "peak")
    fit = fit_dynamics(xs, lm, sr, kind=kind, detector=detector, link_channels=link, ranges=ranges)
    chosen = ""
    if fit is not None and fit.engages() and "ratio" in names:
        # the level mapping reads frame gains through whatever follows the compressor (an
        # echo of louder or quieter frames, a reverb's tail), and a plugin's detector may
        # smooth its level where the library's smooths its gain (JUCE's, so pedalboard's):
        # the spectra of the chain decide, each detector and linking with its settings
        # polished on the loss from the level mapping's
        # (the second pass, with the rest of the chain analysed, keeps the first's choice)
        first = index not in ctx.gains
        detectors = [detector]
        if first and hasattr(proc, "detector") and detector in ("peak", "envelope"):
            detectors = ["peak", "envelope"]
        links = [link]
        if first and hasattr(proc, "link_channels") and xs.shape[0] > 1:
            links = [True, False]
        trials = []
        for det in detectors:
            for lk in links:
                f = (
                    fit
                    if (det, lk) == (detector, link)
                    else fit_dynamics(
                        xs, lm, sr, kind=kind, detector=det, link_channels=lk, ranges=ranges
                    )
                )
                if f is None or not f.engages():
                    continue
                if hasattr(proc, "detector"):
                    proc.detector, proc.link_channels = det, lk
                names4 = ("threshold_db", "ratio", "attack_ms", "release_ms")
                if not first:  # the first pass's settings, as well as the level mapping's
                    loss, values = _polish_dynamics(proc, ctx, names4, 24)
                    trials.append((loss, det, lk, f, values))
                for n in ("threshold_db", "ratio", "knee_db", "attack_ms", "release_ms"):
                    _set(proc, n, getattr(f, n), "measured")
                loss, values = _polish_dynamics(proc, ctx, names4, 24)
                trials.append((loss, det, lk, f, values))
        if trials:
            loss, detector, link, fit, values = min(trials, key=lambda t: t[0])
            if hasattr(proc, "detector"):
                proc.detector, proc.link_channels = detector, link
            for n, v in values.items():
                setattr(proc, n, v)
            if "knee_db" in names and first:
                loss, values = _polish_knee(proc, ctx)
            elif "knee_db" in names:
                names5 = ("threshold_db", "ratio", "attack_ms", "release_ms", "knee_db")
                loss, values = _polish_dynamics(proc, ctx, names5, 40, restarts=2)
            for n in ("threshold_db", "ratio", "knee_db", "attack_ms", "release_ms"):
                setattr(fit, n, values[n])
            scores = ", ".join(f"{d}{'' if lk else ' unlinked'} {t:.4g}"
                               for t, d, lk, *_ in sorted(trials, key=lambda t: t[:3]))  # fmt: skip
            chosen = (f"; {detector} detector{'' if link else ', channels apart'}, settings "
                      f"polished on the loss (losses: {scores})")  # fmt: skip
    if fit is None or not fit.engages():
        peak = float(10 * torch.log10(x_c.square().amax() + 1e-20))
        top = proc.spec("threshold_db").maximum
        why = f"the gain never changes with level (input peaks at {peak:.1f} dBFS"
        if fit is not None:
            why += (f"; the best compressor's gain moves {fit.range_db:.1f} dB from the "
                    "quietest frames to the loudest")  # fmt: skip
        why += ")"
        out = {"threshold_db": _set(proc, "threshold_db", top, "undetermined", why)}
        for n in ("ratio", "attack_ms", "release_ms", "knee_db"):
            if n in names:
                out[n] = Finding(_value(proc, n), "undetermined", "compressor never engages")
        ctx.gains[index] = torch.ones(1, ctx.dry.shape[-1], dtype=torch.float64)
        return out
    note = (f"level mapping (engaged on {100 * fit.engaged:.0f}% of frames, {fit.rms_db:.1f} dB "
            f"rms{chosen})")  # fmt: skip
    out = {}
    for n in ("threshold_db", "ratio", "knee_db", "attack_ms", "release_ms"):
        if n in names:
            out[n] = _set(proc, n, getattr(fit, n), "measured", note)
    g = model_gain(
        x_c,
        sample_rate=sr,
        threshold_db=_value(proc, "threshold_db"),
        ratio=_value(proc, "ratio") if "ratio" in names else math.inf,
        knee_db=_value(proc, "knee_db"),
        attack_ms=_value(proc, "attack_ms"),
        release_ms=_value(proc, "release_ms"),
        kind=kind,
        detector=detector,
        link_channels=link,
    )
    ctx.gains[index] = g
    return out


# --------------------------------------------------------------------------- shapers, level


@register_initializer(Distortion, stage="shaper", linear=False)
def _init_distortion(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    out = {"mix": _set(proc, "mix", 1.0, "kept", "start fully wet")}
    out["bias"] = _set(proc, "bias", 0.0, "kept", "start symmetric")
    best = None
    for drive in (0.0, 6.0, 12.0, 18.0, 24.0, 30.0, 36.0):
        proc.drive_db = drive
        _match_level_with(proc, "output_db", ctx)
        loss = ctx.loss()
        if best is None or loss < best[0]:
            best = (loss, drive, _value(proc, "output_db"))
    proc.drive_db, proc.output_db = best[1], best[2]
    out["drive_db"] = Finding(best[1], "searched", "best of 0, 6, .. 36 dB on the loss")
    out["output_db"] = Finding(best[2], "measured", "level match")
    return out


def _match_level_with(proc: Processor, name: str, ctx: Context) -> Finding:
    """Set the level parameter ``name`` of ``proc`` so the chain's output has the wet
    file's energy (on the evaluation crops)."""
    with torch.no_grad():
        x = ctx.objective.inputs(ctx.eval_starts)
        at = [s - ctx.objective.context for s in ctx.eval_starts]
        y = run_chain(ctx.partial_chain(), x, at)[..., ctx.objective.context :]
        e_y = float(y.square().sum())
        e_w = sum(
            float(ctx.objective.wet[..., s : s + ctx.objective.crop].square().sum())
            for s in ctx.eval_starts
        )
    if e_y <= 0 or e_w <= 0:
        return Finding(_value(proc, name), "kept", "silence")
    change = 10 * math.log10(e_w / e_y)
    return _set(proc, name, _value(proc, name) + change, "measured", "level match")


@register_initializer(Gain, stage="level", linear=True)
def _init_gain(proc: Processor, index: int, ctx: Context) -> dict[str, Finding]:
    return {"gain_db": _match_level_with(proc, "gain_db", ctx)}


# --------------------------------------------------------------------------- the chain


def initialise_chain(ctx: Context) -> dict[int, dict[str, Finding]]:
    """Run every processor's initializer in stage order (EQ and dynamics twice when the
    chain has dynamics); returns ``{index: {name: Finding}}`` (empty for kinds without)."""
    chain = ctx.chain
    inits = {i: initializer_for(p) for i, p in enumerate(chain)}
    findings: dict[int, dict[str, Finding]] = {i: {} for i in range(len(chain))}
    # processors without an initializer run as they are in every reference
    ctx.ready |= {i for i, init in inits.items() if init is None}
    has_dynamics = any(init and init.stage == STAGES["dynamics"] for init in inits.values())
    # spectrum, dynamics and shapers read one another's effects: a second pass over them
    # sees the others as analysed (a compressor's gain colours the EQ response, a drive
    # after a compressor looks like more compression)
    twice = (STAGES["spectrum"], STAGES["dynamics"], STAGES["shaper"])
    order: list[int] = []
    for stage in sorted(STAGES.values()):
        order += [i for i, init in inits.items() if init and init.stage == stage]
        if stage == STAGES["shaper"] and has_dynamics:
            order += [i for i, init in inits.items() if init and init.stage in twice]
    for i in order:
        ctx.current = i
        t0 = time.perf_counter()
        found = inits[i].fn(chain[i], i, ctx)
        ctx.seconds[i] = ctx.seconds.get(i, 0.0) + time.perf_counter() - t0
        findings[i].update(found)
        ctx.ready.add(i)
    ctx.current = None
    return findings
