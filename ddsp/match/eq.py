"""Fitting parametric EQ bands to a measured magnitude response (dB over log frequency).

Bands are added greedily, as few as explain the curve: each round tries every unused band
of the EQ over a grid of corners, gains and widths (the responses are closed-form RBJ
designs, so a grid of tens of thousands costs milliseconds), keeps the one that lowers the
weighted squared error most, and stops when the best lowers the RMS error by less than
``min_gain_db`` (a matching-pursuit scheme: Mallat & Zhang, IEEE TSP 1993). The bands kept
are then refined together by least squares (Adam on the band parameters). A broadband
offset is fitted alongside and returned apart: level belongs to gains, not to EQ bands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..functional import biquad_coefficients

__all__ = ["Band", "EQFit", "response_db", "fit_bands", "PARAMETRIC_EQ_BANDS"]

_BUTTERWORTH = 1 / math.sqrt(2)


@dataclass
class Band:
    """One biquad band: RBJ ``kind``, ``cutoff_hz``, ``q``, ``gain_db``; ``name`` is the
    band's slot in its processor (``"peak1"``, ``"high_shelf"``)."""

    name: str
    kind: str
    cutoff_hz: float
    q: float = _BUTTERWORTH
    gain_db: float = 0.0


# ParametricEQ's slots: name -> (RBJ kind, fixed q or None when the q is a parameter)
PARAMETRIC_EQ_BANDS = {
    "low_cut": ("highpass", _BUTTERWORTH),
    "low_shelf": ("lowshelf", _BUTTERWORTH),
    "peak1": ("peaking", None),
    "peak2": ("peaking", None),
    "peak3": ("peaking", None),
    "high_shelf": ("highshelf", _BUTTERWORTH),
    "high_cut": ("lowpass", _BUTTERWORTH),
}


def response_db(
    kind: str,
    cutoff_hz: torch.Tensor | float,
    q: torch.Tensor | float,
    gain_db: torch.Tensor | float,
    freqs: torch.Tensor,
    sample_rate: float,
) -> torch.Tensor:
    """Magnitude in dB of RBJ biquads at ``freqs``: controls broadcast, ``(..., len(freqs))``.

    ``|H|^2 = (b0^2 + b1^2 + b2^2 + 2 (b0 b1 + b1 b2) cos w + 2 b0 b2 cos 2w) / (same in a)``:
    real arithmetic, so a grid of tens of thousands of designs stays cheap.
    """
    f = [torch.as_tensor(v, dtype=torch.float64) for v in (cutoff_hz, q, gain_db)]
    b, a = biquad_coefficients(kind, *(v[..., None] for v in f), sample_rate=sample_rate)
    w = 2 * math.pi * freqs.to(torch.float64) / sample_rate
    c1, c2 = torch.cos(w), torch.cos(2 * w)

    def power(p: torch.Tensor) -> torch.Tensor:
        p0, p1, p2 = p[..., 0:1], p[..., 1:2], p[..., 2:3]
        return p0 * p0 + p1 * p1 + p2 * p2 + 2 * (p0 * p1 + p1 * p2) * c1 + 2 * p0 * p2 * c2

    return 10 * torch.log10(power(b).clamp_min(1e-24) / power(a).clamp_min(1e-24))


@dataclass
class EQFit:
    """Bands found (``bands``, by slot name), the broadband ``offset_db``, and the
    weighted RMS error in dB before (``rms_before_db``) and after (``rms_db``)."""

    bands: dict[str, Band] = field(default_factory=dict)
    offset_db: float = 0.0
    rms_before_db: float = math.nan
    rms_db: float = math.nan

    def curve_db(self, freqs: torch.Tensor, sample_rate: float) -> torch.Tensor:
        """The bands' summed response (without the offset) at ``freqs``."""
        out = torch.zeros(freqs.shape, dtype=torch.float64)
        for b in self.bands.values():
            out = out + response_db(b.kind, b.cutoff_hz, b.q, b.gain_db, freqs, sample_rate)
        return out


def _wmean(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (x * w).sum(-1, keepdim=True) / w.sum()


def _wrms(residual: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    # weighted RMS after removing the best broadband offset
    r = residual - _wmean(residual, w)
    return ((r * r * w).sum(-1) / w.sum()).sqrt()


def _candidates(kind: str, fixed_q: float | None, sample_rate: float):
    nyq = 0.45 * sample_rate
    gains = torch.arange(-24.0, 24.01, 0.5, dtype=torch.float64)
    if kind == "highpass":
        return torch.logspace(math.log10(20), math.log10(min(1000, nyq)), 40), None, None
    if kind == "lowpass":
        return torch.logspace(math.log10(1000), math.log10(min(20_000, nyq)), 40), None, None
    if kind == "lowshelf":
        return torch.logspace(math.log10(30), math.log10(min(2000, nyq)), 32), None, gains
    if kind == "highshelf":
        return torch.logspace(math.log10(500), math.log10(min(18_000, nyq)), 32), None, gains
    qs = torch.logspace(math.log10(0.3), math.log10(10.0), 8, dtype=torch.float64)
    return torch.logspace(math.log10(30), math.log10(min(18_000, nyq)), 48), qs, gains[::2]


def _best_candidate(
    kind: str,
    fixed_q: float | None,
    residual: torch.Tensor,
    weight: torch.Tensor,
    freqs: torch.Tensor,
    sample_rate: float,
) -> tuple[float, Band]:
    fcs, qs, gains = _candidates(kind, fixed_q, sample_rate)
    fcs = fcs.to(torch.float64)
    if kind == "peaking":
        # a peak centred where the signal says nothing would only fit noise
        idx = torch.searchsorted(freqs.to(torch.float64), fcs).clamp(max=freqs.shape[0] - 1)
        fcs = fcs[weight[idx] >= 0.5]
        if fcs.numel() == 0:
            return math.inf, Band("", kind, float(freqs[0]))
    if qs is None:
        qs = torch.tensor([fixed_q if fixed_q is not None else _BUTTERWORTH], dtype=torch.float64)
    if gains is None:
        gains = torch.zeros(1, dtype=torch.float64)
    best_err, best = math.inf, Band("", kind, float(fcs[0]))
    for q in qs.tolist():
        resp = response_db(kind, fcs[:, None], q, gains[None, :], freqs, sample_rate)
        err = _wrms(residual - resp, weight)  # (fcs, gains)
        i = int(err.argmin())
        e = float(err.flatten()[i])
        if e < best_err:
            fi, gi = divmod(i, gains.shape[0])
            best_err = e
            best = Band("", kind, float(fcs[fi]), q, float(gains[gi]))
    return best_err, best


def _refine(
    bands: dict[str, Band],
    target: torch.Tensor,
    weight: torch.Tensor,
    freqs: torch.Tensor,
    sample_rate: float,
    fixed_q: dict[str, float | None],
    steps: int = 60,
) -> None:
    """Least-squares refinement of every band's parameters together (in place)."""
    if not bands:
        return
    nyq = 0.45 * sample_rate
    names = list(bands)
    log_f = torch.tensor([math.log(bands[n].cutoff_hz) for n in names], dtype=torch.float64)
    log_q = torch.tensor([math.log(bands[n].q) for n in names], dtype=torch.float64)
    gain = torch.tensor([bands[n].gain_db for n in names], dtype=torch.float64)
    params = [p.requires_grad_() for p in (log_f, log_q, gain)]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        total = torch.zeros_like(target)
        for i, n in enumerate(names):
            f = log_f[i].exp().clamp(20.0, nyq)
            q = log_q[i].exp().clamp(0.1, 20.0) if fixed_q[n] is None else fixed_q[n]
            g = gain[i].clamp(-24.0, 24.0)
            total = total + response_db(bands[n].kind, f, q, g, freqs, sample_rate)
        r = target - total
        r = r - _wmean(r, weight)
        loss = (r * r * weight).sum() / weight.sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        for i, n in enumerate(names):
            bands[n].cutoff_hz = float(log_f[i].exp().clamp(20.0, nyq))
            if fixed_q[n] is None:
                bands[n].q = float(log_q[i].exp().clamp(0.1, 20.0))
            if bands[n].kind not in ("highpass", "lowpass"):
                bands[n].gain_db = float(gain[i].clamp(-24.0, 24.0))


def fit_bands(
    target_db: torch.Tensor,
    weight: torch.Tensor,
    freqs: torch.Tensor,
    sample_rate: float,
    slots: dict[str, tuple[str, float | None]] = PARAMETRIC_EQ_BANDS,
    *,
    min_gain_db: float = 0.25,
    min_band_db: float = 1.0,
) -> EQFit:
    """The fewest bands from ``slots`` that explain ``target_db`` at ``freqs``.

    Args:
        target_db: measured magnitude in dB ``(F,)``.
        weight: ``(F,)`` >= 0, how much each frequency counts (0 where nothing is known).
        freqs: Hz ``(F,)``.
        sample_rate: Hz.
        slots: band name -> (RBJ kind, fixed q or None).
        min_gain_db: a band is added only if it lowers the weighted RMS error this much.
        min_band_db: peaks and shelves whose gain ends smaller than this are dropped.

    Returns:
        :class:`EQFit`.
    """
    target = target_db.to(torch.float64)
    w = weight.to(torch.float64).clamp_min(0.0)
    if float(w.sum()) <= 0:
        return EQFit(rms_before_db=math.nan, rms_db=math.nan)
    fit = EQFit(rms_before_db=float(_wrms(target, w)))
    fixed_q = {n: q for n, (_, q) in slots.items()}
    current = float(_wrms(target, w))
    while True:
        residual = target - fit.curve_db(freqs, sample_rate)
        best = None
        tried: set[tuple[str, float | None]] = set()
        for name, (kind, q) in slots.items():
            if name in fit.bands or (kind, q) in tried:
                continue  # peak1..3 are one kind: try it once per round
            tried.add((kind, q))
            err, band = _best_candidate(kind, q, residual, w, freqs, sample_rate)
            if best is None or err < best[0]:
                best = (err, name, band)
        if best is None or best[0] > current - min_gain_db:
            break
        err, name, band = best
        band.name = name
        fit.bands[name] = band
        _refine(fit.bands, target, w, freqs, sample_rate, fixed_q, steps=20)
        current = float(_wrms(target - fit.curve_db(freqs, sample_rate), w))
    _refine(fit.bands, target, w, freqs, sample_rate, fixed_q)
    for name in [n for n, b in fit.bands.items() if b.kind not in ("highpass", "lowpass")]:
        if abs(fit.bands[name].gain_db) < min_band_db:
            del fit.bands[name]
    residual = target - fit.curve_db(freqs, sample_rate)
    fit.offset_db = float(_wmean(residual, w))
    fit.rms_db = float(_wrms(residual, w))
    return fit
