"""Dynamics from a level mapping: a compressor's threshold, ratio and knee from short-term
input level against gain, its attack and release from how the gain follows the level.

The observed gain of a frame is the wet level over the level the rest of the chain would
give without the compressor. Its median per 1 dB bin of input level traces the static curve
``offset + gain_curve_db(level)``, which is linear in ``(offset, 1/ratio - 1)`` for a
fixed threshold and knee: a grid over threshold and knee with closed-form least squares
at each point (Giannoulis, Massberg & Reiss, JAES 2012, for the curve; their section 5
for the level mapping as the way to read a compressor). The time constants come from a
small grid on which the library's own gain smoothing, run on the input, best reproduces
the observed frame gains; threshold and ratio are then polished on the same score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..functional import allpole, gain_curve_db, smooth_gain
from ..units import ms_to_coef

__all__ = [
    "model_gain",
    "frame_gain_db",
    "LevelMap",
    "level_map",
    "fit_level_map",
    "DynamicsFit",
    "fit_dynamics",
]

_FLOOR = 1e-20


def model_gain(
    x: torch.Tensor,
    *,
    sample_rate: float,
    threshold_db: float,
    ratio: float,
    knee_db: float,
    attack_ms: float,
    release_ms: float,
    kind: str = "compressor",
    detector: str = "peak",
    rms_ms: float = 10.0,
    link_channels: bool = True,
) -> torch.Tensor:
    """The linear gain the library's compressor (or expander) applies to ``x (C, T)``:
    ``(1, T)`` linked, else ``(C, T)``. Same maths as :func:`ddsp.functional.compressor`
    without the make-up gain (the tests hold them together)."""
    x = x.double()
    if detector == "envelope":  # the level smoothed, not the gain (JUCE's)
        env = -smooth_gain(-x.abs(), ms_to_coef(attack_ms, sample_rate),
                           ms_to_coef(release_ms, sample_rate), initial=0.0)  # fmt: skip
        if link_channels:
            env = env.amax(0, keepdim=True)
        level = 20 * torch.log10(env + _FLOOR)
        return torch.pow(10.0, gain_curve_db(level, threshold_db, ratio, knee_db, kind=kind) / 20)
    power = x.square()
    if detector == "rms":
        coef = ms_to_coef(rms_ms, sample_rate)
        power = allpole((1 - coef) * power, torch.tensor([-coef], dtype=x.dtype))
    if link_channels:
        power = power.amax(0, keepdim=True)
    level = 10 * torch.log10(power.clamp_min(0.0) + _FLOOR)
    g_db = gain_curve_db(level, threshold_db, ratio, knee_db, kind=kind)
    return smooth_gain(
        torch.pow(10.0, g_db / 20),
        ms_to_coef(attack_ms, sample_rate),
        ms_to_coef(release_ms, sample_rate),
    )


def _frames(x: torch.Tensor, frame: int) -> torch.Tensor:
    n = x.shape[-1] // frame * frame
    return x[..., :n].reshape(*x.shape[:-1], -1, frame)


def frame_gain_db(x: torch.Tensor, gain: torch.Tensor, frame: int) -> torch.Tensor:
    """Per frame of ``frame`` samples, the energy gain (dB) of ``gain (1 or C, T)`` on
    ``x (C, T)``: ``(frames,)``."""
    e_in = _frames(x.double().square(), frame).sum((0, -1))
    e_out = _frames((x.double() * gain).square(), frame).sum((0, -1))
    return 10 * torch.log10((e_out + _FLOOR) / (e_in + _FLOOR))


@dataclass
class LevelMap:
    """Frames of one analysis: input peak level (dB), observed gain (dB), and which frames
    carry signal (``active``)."""

    level_db: torch.Tensor
    gain_db: torch.Tensor
    active: torch.Tensor
    frame: int


def level_map(x: torch.Tensor, wet: torch.Tensor, pred: torch.Tensor, frame: int) -> LevelMap:
    """Frames of input peak level against observed gain: ``x`` the compressor's input
    ``(C, T)``, ``pred`` what the chain gives without it, ``wet`` what it gave."""
    peak = _frames(x.double().square(), frame).amax(-1).amax(0)
    level = 10 * torch.log10(peak + _FLOOR)
    e_w = _frames(wet.double().square(), frame).sum((0, -1))
    e_p = _frames(pred.double().square(), frame).sum((0, -1))
    gain = 10 * torch.log10((e_w + _FLOOR) / (e_p + _FLOOR))
    active = (e_p > float(e_p.max()) * 1e-6) & (level > float(level.max()) - 60.0)
    return LevelMap(level, gain, active, frame)


def _phi(level: torch.Tensor, threshold: float, knee: float) -> torch.Tensor:
    # gain_curve_db / (1/ratio - 1): the curve's shape, linear in the slope
    return gain_curve_db(level, threshold, 2.0, knee) / (1 / 2.0 - 1)


def fit_level_map(lm: LevelMap, knees: tuple[float, ...] = (0.0, 3.0, 6.0, 12.0)) -> dict:
    """Static curve ``offset + (1/ratio - 1) phi(level; threshold, knee)`` through the
    medians of gain per 1 dB bin of input level. Returns threshold_db, ratio, knee_db,
    offset_db, rms_db (of the binned fit) and engaged (fraction of active frames above
    the threshold's knee start)."""
    level, gain = lm.level_db[lm.active], lm.gain_db[lm.active]
    if level.numel() < 10:
        return {"engaged": 0.0}
    lo, hi = math.floor(float(level.min())), math.ceil(float(level.max()))
    centres, medians, counts = [], [], []
    for b in range(lo, hi + 1):
        sel = (level >= b - 0.5) & (level < b + 0.5)
        if int(sel.sum()) >= 3:
            centres.append(float(level[sel].median()))
            medians.append(float(gain[sel].median()))
            counts.append(float(sel.sum()))
    if len(centres) < 4:
        return {"engaged": 0.0}
    lv = torch.tensor(centres, dtype=torch.float64)
    gv = torch.tensor(medians, dtype=torch.float64)
    wv = torch.tensor(counts, dtype=torch.float64).sqrt()  # bins, not frames, should count
    best = None
    for knee in knees:
        for t in torch.arange(float(lv.min()) - 1.0, float(lv.max()) + 1.0, 0.5).tolist():
            phi = _phi(lv, t, knee)
            a = torch.stack([torch.ones_like(phi), phi], -1) * wv[:, None]
            sol = torch.linalg.lstsq(a, (gv * wv)[:, None]).solution[:, 0]
            offset, slope = float(sol[0]), float(sol[1])
            slope = min(0.0, max(-0.95, slope))  # ratio 1 .. 20
            offset = float(((gv - slope * phi) * wv * wv).sum() / (wv * wv).sum())
            rms = float((((gv - offset - slope * phi) ** 2) * wv * wv).sum() / (wv * wv).sum())
            if best is None or rms < best[0] - 1e-9:
                best = (rms, t, knee, offset, slope)
    rms, t, knee, offset, slope = best
    engaged = float((level > t - knee / 2).double().mean())
    return {
        "threshold_db": t,
        "ratio": 1.0 / (1.0 + slope),
        "knee_db": knee,
        "offset_db": offset,
        "rms_db": math.sqrt(rms),
        "engaged": engaged,
    }


def _nelder_mead(
    f, x0: list[float], steps: list[float], *, evals: int = 60
) -> tuple[list[float], float]:
    """Minimise ``f`` from ``x0`` by Nelder and Mead's simplex (Computer Journal 1965),
    first simplex ``x0 + steps``: ``(x, f(x))`` after at most ``evals`` calls."""
    n = len(x0)
    pts = [list(x0)] + [[x + (s if i == j else 0.0) for j, x in enumerate(x0)] for i, s in
                        enumerate(steps)]  # fmt: skip
    vals = [f(p) for p in pts]
    used = n + 1
    while used < evals:
        order = sorted(range(n + 1), key=vals.__getitem__)
        pts, vals = [pts[i] for i in order], [vals[i] for i in order]
        centre = [sum(p[j] for p in pts[:-1]) / n for j in range(n)]

        def toward(t: float, centre=centre, worst=pts[-1]) -> list[float]:
            return [c + t * (w - c) for c, w in zip(centre, worst)]

        refl = toward(-1.0)
        fr = f(refl)
        used += 1
        if fr < vals[0]:
            exp = toward(-2.0)
            fe = f(exp)
            used += 1
            pts[-1], vals[-1] = (exp, fe) if fe < fr else (refl, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = refl, fr
        else:
            con = toward(0.5)
            fc = f(con)
            used += 1
            if fc < vals[-1]:
                pts[-1], vals[-1] = con, fc
            else:  # shrink towards the best
                pts = [pts[0]] + [[b + 0.5 * (x - b) for b, x in zip(pts[0], p)] for p in pts[1:]]
                vals = [vals[0]] + [f(p) for p in pts[1:]]
                used += n
    i = min(range(n + 1), key=vals.__getitem__)
    return pts[i], vals[i]


@dataclass
class DynamicsFit:
    """A compressor's settings found by :func:`fit_dynamics`, the score's RMS (dB), the
    fraction of active frames where the model reduces the gain by over 1 dB (0: the
    compressor never engaged, so its settings are undetermined), ``flat_rms_db``, the RMS
    of the observed frame gains about their median (what a constant gain leaves) and
    ``range_db``, the range (2.5 to 97.5 %) of the fitted compressor's frame gains over
    the active frames (see :meth:`engages`)."""

    threshold_db: float
    ratio: float
    knee_db: float
    attack_ms: float
    release_ms: float
    offset_db: float
    rms_db: float
    engaged: float
    flat_rms_db: float = math.inf
    range_db: float = math.inf

    def engages(self, min_range_db: float = 2.5) -> bool:
        """Whether the fit shows a compressor at work: its gain differs by over
        ``min_range_db`` between the quietest and the loudest frames (``range_db``). A
        compressor that never engages still gets a "fit" to whatever else moves the gain a
        little (a reverb tail lifts quiet frames): a ratio near 1 whose gain hardly moves
        (1.3-1.7 dB on the benchmark's idle compressor, 3 dB and up where one works)."""
        return self.engaged >= 0.02 and self.range_db >= min_range_db


class _Blocks:
    """``x`` reduced to blocks of ``q`` samples (energy and peak power, channels linked or
    not), so that trying a setting costs a quarter of the samples: the gain is computed
    per block from the block's peak, smoothed at the block rate, and applied to the
    block's energy; frames are whole numbers of blocks."""

    def __init__(
        self, x: torch.Tensor, sample_rate: float, frame: int, link: bool, detector: str = "peak"
    ) -> None:
        q = max(1, round(sample_rate / 12_000))
        while frame % q:
            q -= 1
        n = x.shape[-1] // frame * frame
        sq = x[..., :n].double().square()
        blocks = sq.reshape(x.shape[0], -1, q)
        self.energy = blocks.sum(-1)  # (C, B)
        peak = blocks.amax(-1)
        self.link, self.detector = link, detector
        # the envelope detector smooths each channel's level before linking them
        self.peak = peak.amax(0, keepdim=True) if link and detector != "envelope" else peak
        self.rate, self.per_frame = sample_rate / q, frame // q
        self.e_in = self.energy.sum(0).reshape(-1, self.per_frame).sum(-1)

    def frame_gain_db(self, p: dict, kind: str) -> torch.Tensor:
        attack, release = (
            ms_to_coef(p["attack_ms"], self.rate),
            ms_to_coef(p["release_ms"], self.rate),
        )
        if self.detector == "envelope":
            env = -smooth_gain(-self.peak.sqrt(), attack, release, initial=0.0)
            if self.link:
                env = env.amax(0, keepdim=True)
            level = 20 * torch.log10(env + _FLOOR)
            g_db = gain_curve_db(level, p["threshold_db"], p["ratio"], p["knee_db"], kind=kind)
            g = torch.pow(10.0, g_db / 20)
        else:
            level = 10 * torch.log10(self.peak + _FLOOR)
            g_db = gain_curve_db(level, p["threshold_db"], p["ratio"], p["knee_db"], kind=kind)
            g = smooth_gain(torch.pow(10.0, g_db / 20), attack, release)
        e_out = (self.energy * g.square()).sum(0).reshape(-1, self.per_frame).sum(-1)
        return 10 * torch.log10((e_out + _FLOOR) / (self.e_in + _FLOOR))


def _score(blocks: _Blocks, lm: LevelMap, p: dict, kind: str) -> tuple[float, float, float]:
    g_db = blocks.frame_gain_db(p, kind)
    n = min(g_db.shape[0], lm.gain_db.shape[0])
    a = lm.active[:n]
    r = (lm.gain_db[:n] - g_db[:n])[a]
    offset = float(r.median())
    rms = float((r - offset).square().mean().sqrt())
    engaged = float((g_db[:n][a] < -1.0).double().mean())
    return rms, offset, engaged


def fit_dynamics(
    x: torch.Tensor,
    lm: LevelMap,
    sample_rate: float,
    *,
    kind: str = "compressor",
    detector: str = "peak",
    link_channels: bool = True,
    ranges: dict[str, tuple[float, float]] | None = None,
) -> DynamicsFit | None:
    """Threshold, ratio and knee from the level map, then attack and release (and a polish
    of threshold and ratio) by reproducing the frame gains with :func:`model_gain`.

    ``ranges``: name -> (min, max) of the processor's parameters. Returns None when the
    level map holds too few frames to say anything. The peak and envelope detectors are
    modelled (the library's default, and JUCE's and so pedalboard's).
    """
    static = fit_level_map(lm)
    if "threshold_db" not in static:
        return None
    ranges = ranges or {}

    def clip(name: str, v: float) -> float:
        lo, hi = ranges.get(name, (-math.inf, math.inf))
        return min(max(v, lo), hi)

    p = {
        "threshold_db": clip("threshold_db", static["threshold_db"]),
        "ratio": clip("ratio", static["ratio"]),
        "knee_db": clip("knee_db", static["knee_db"]),
        "attack_ms": clip("attack_ms", 5.0),
        "release_ms": clip("release_ms", 100.0),
    }

    if detector not in ("peak", "envelope"):
        raise ValueError(
            f"expected the peak or envelope detector for the level analysis, got {detector!r}"
        )
    blocks = _Blocks(x, sample_rate, lm.frame, link_channels, detector)

    def score(q):
        return _score(blocks, lm, q, kind)

    best = (score(p)[0], dict(p))

    def search(name: str, values: list[float]) -> None:
        nonlocal best
        for v in values:
            q = dict(best[1])
            q[name] = clip(name, float(v))
            s = score(q)[0]
            if s < best[0] - 1e-6:
                best = (s, q)

    search("attack_ms", torch.logspace(math.log10(0.2), math.log10(50.0), 7).tolist())
    search("release_ms", torch.logspace(math.log10(15.0), math.log10(1500.0), 7).tolist())
    # threshold, ratio and the times pull on one another (a lower threshold with a gentler
    # ratio gives much the same gains): polish them together, knee by knee
    names = ["threshold_db", "ratio", "attack_ms", "release_ms"]
    logs = {"ratio", "attack_ms", "release_ms"}

    def unpack(v: list[float], knee: float) -> dict:
        q = {n: (math.exp(x) if n in logs else x) for n, x in zip(names, v)}
        q = {n: clip(n, x) for n, x in q.items()}
        return {**q, "knee_db": clip("knee_db", knee)}

    start, knee = best[1], best[1]["knee_db"]
    x0 = [math.log(start[n]) if n in logs else start[n] for n in names]
    # a simplex shrinks onto a ridge of this coupled score well before a minimum: restart it
    # from its best point with a full-sized simplex while that still gains
    for _ in range(4):
        v, s_best = _nelder_mead(lambda v: score(unpack(v, knee))[0], x0, [3.0, 0.3, 0.7, 0.7])
        gained = s_best < best[0] - 0.01 * best[0]
        if s_best < best[0]:
            best = (s_best, unpack(v, knee))
        if not gained:
            break
        x0 = v
    search("knee_db", [0.0, 3.0, 6.0, 12.0])
    rms, offset, engaged = score(best[1])
    g = lm.gain_db[lm.active]
    flat = float((g - g.median()).square().mean().sqrt())
    m = blocks.frame_gain_db(best[1], kind)
    n = min(m.shape[0], lm.active.shape[0])
    m = m[:n][lm.active[:n]]
    spread = float(m.quantile(0.975) - m.quantile(0.025)) if m.numel() else 0.0
    return DynamicsFit(**best[1], offset_db=offset, rms_db=rms, engaged=engaged,
                       flat_rms_db=flat, range_db=spread)  # fmt: skip
