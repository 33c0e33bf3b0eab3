"""Fundamental frequency: a probabilistic YIN (pYIN-style) estimator, offline, no weights.

Per frame: YIN's cumulative-mean-normalised difference function ``d'(tau)`` (computed
with FFTs), its local minima as candidates with parabolic refinement, and pYIN's
candidate probabilities: the threshold below which YIN takes the first minimum is drawn
from a beta prior, so candidate ``k`` (in order of increasing lag) has probability
``CDF(min_{j<k} d'_j) - CDF(d'_k)`` and the voicing probability is ``1 - CDF(min d')``.
A Viterbi pass (numba kernel, :mod:`ddsp.kernels.viterbi`) then picks one candidate per
frame, trading observation probability against pitch jumps, which removes isolated
octave errors.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import check_range
from ..ops import viterbi_path
from ._frames import as_mono_batch, frame_chunks, n_frames, resample

__all__ = ["f0", "ANALYSIS_RATE"]

ANALYSIS_RATE = 16_000  # inputs above it are resampled down first (f0 needs no more)


def _beta_cdf_table(mean: float, concentration: float = 20.0, n: int = 1000) -> torch.Tensor:
    """CDF of a beta prior on [0, 1] with the given mean, tabulated on ``n + 1`` points."""
    a, b = mean * concentration, (1 - mean) * concentration
    s = torch.linspace(0, 1, n + 1, dtype=torch.float64)[1:-1]
    log_pdf = (a - 1) * torch.log(s) + (b - 1) * torch.log1p(-s)
    pdf = torch.exp(log_pdf - log_pdf.max())
    cdf = torch.cat([torch.zeros(1), torch.cumsum(pdf, 0), torch.zeros(1)])
    cdf[-1] = cdf[-2]
    return cdf / cdf[-1]


def _cdf(values: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    pos = values.clamp(0, 1) * (table.shape[0] - 1)
    lo = pos.floor().long().clamp(max=table.shape[0] - 2)
    w = pos - lo
    return table[lo] * (1 - w) + table[lo + 1] * w


def _candidates(
    frames: torch.Tensor, tau_min: int, tau_max: int, table: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per frame: the ``k`` most probable candidates' lags (refined) and probabilities."""
    w = tau_max  # integration window
    sq = frames.square()
    cs = torch.nn.functional.pad(torch.cumsum(sq, -1), (1, 0))
    taus = torch.arange(tau_max + 2, device=frames.device)
    e0 = cs[..., w : w + 1]
    e_tau = cs[..., taus + w] - cs[..., taus]
    n = 1 << (frames.shape[-1] + w).bit_length()
    spec = torch.fft.rfft(frames, n) * torch.fft.rfft(frames[..., :w], n).conj()
    r = torch.fft.irfft(spec, n)[..., : tau_max + 2]
    d = (e0 + e_tau - 2 * r).clamp_min(0)
    d[..., 0] = 0
    csum = torch.cumsum(d[..., 1:], -1)
    tiny = 1e-12 * (e0 + 1e-20)
    cmnd = torch.ones_like(d)
    cmnd[..., 1:] = d[..., 1:] * taus[1:] / torch.maximum(csum, tiny)
    mid = cmnd[..., tau_min : tau_max + 1]
    left = cmnd[..., tau_min - 1 : tau_max]
    right = cmnd[..., tau_min + 1 : tau_max + 2]
    # a frame whose integration window is (near) silent has no period to find
    live = e0 > 1e-4 * e_tau.amax(-1, keepdim=True) + 1e-10 * w
    is_min = (mid < left) & (mid <= right) & live
    v = torch.where(is_min, mid, torch.full_like(mid, math.inf))
    prefix = torch.cummin(v, -1).values
    before = torch.cat([torch.full_like(prefix[..., :1], math.inf), prefix[..., :-1]], -1)
    prob = (_cdf(before, table) - _cdf(v, table)).clamp_min(0) * is_min
    k = min(k, prob.shape[-1])
    p_k, idx = torch.topk(prob, k, dim=-1)
    # parabolic refinement of each chosen minimum, on the raw difference function (the
    # normalisation's tau / cumsum factor biases the vertex at short lags)
    y0 = torch.gather(d[..., tau_min - 1 : tau_max], -1, idx)
    y1 = torch.gather(d[..., tau_min : tau_max + 1], -1, idx)
    y2 = torch.gather(d[..., tau_min + 1 : tau_max + 2], -1, idx)
    # vertex of a cosine through the three points (d is a sum of cosines in the lag; a
    # parabola's vertex is biased by up to ~10 cents at lags near 10 samples)
    tau0 = (idx + tau_min).to(frames.dtype)
    omega = 2 * math.pi / tau0
    num = (y0 - y2) * (1 - torch.cos(omega))
    den = torch.sin(omega) * (y0 + y2 - 2 * y1)
    shift = torch.where(den > 0, torch.atan(num / den.clamp_min(1e-30)) / omega, 0 * den)
    tau = tau0 + shift.clamp(-0.5, 0.5)
    return tau, p_k


def f0(
    x: torch.Tensor,
    sample_rate: float,
    frame_rate: float = 250.0,
    *,
    fmin_hz: float = 40.0,
    fmax_hz: float = 2000.0,
    threshold_mean: float = 0.2,
    jump_cost: float = 40.0,
    n_candidates: int = 8,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimate f0 and voicing probability per frame.

    Args:
        x: ``(time,)``, ``(batch, time)`` or ``(batch, channels, time)`` (channels averaged).
        sample_rate: Hz (inputs above 16 kHz are resampled to 16 kHz first).
        frame_rate: frames per second; frame ``i`` is centred on ``i / frame_rate`` s.
        fmin_hz, fmax_hz: search range; ``fmax_hz`` below a quarter of the analysis rate.
        threshold_mean: mean of the beta prior on YIN's threshold (pYIN uses 0.1 to 0.2;
            0.2 measured best on sampled instruments, see benchmarks/f0_eval.py).
        jump_cost: Viterbi cost, in nats per octave, of a pitch change between frames.
        n_candidates: candidates kept per frame.

    Returns:
        ``(f0_hz, voicing)``, both ``(batch, frames)`` with
        ``frames = ceil(time * frame_rate / sample_rate)``. ``voicing`` is in [0, 1],
        voiced where it exceeds 0.5; on unvoiced frames ``f0_hz`` holds the voiced
        value of the next voiced frame (the last one at the end; ``fmin_hz`` if nothing
        is voiced), as a DDSP decoder expects: attacks carry their note's pitch.
        Not differentiable (a decision); runs on CPU or CUDA.
    """
    x = as_mono_batch(x).detach()
    check_range(sample_rate, "sample_rate", 0.0, math.inf)
    check_range(frame_rate, "frame_rate", 0.0, sample_rate, high_inclusive=True)
    rate = float(min(sample_rate, ANALYSIS_RATE))
    if not 0 < fmin_hz < fmax_hz <= rate / 4:
        raise ValueError(
            f"expected 0 < fmin_hz < fmax_hz <= {rate / 4:g} Hz (a quarter of the analysis "
            f"rate {rate:g} Hz), got fmin_hz={fmin_hz:g}, fmax_hz={fmax_hz:g}"
        )
    check_range(threshold_mean, "threshold_mean", 0.0, 1.0)
    total = n_frames(x.shape[-1], sample_rate, frame_rate)
    if sample_rate != rate:
        x = resample(x, int(round(sample_rate)), int(rate))
    x = x.to(torch.float32 if x.dtype != torch.float64 else x.dtype)
    x = x - x.mean(-1, keepdim=True)  # DC would read as a period everywhere
    tau_min = max(2, int(rate / fmax_hz))
    tau_max = int(math.ceil(rate / fmin_hz))
    table = _beta_cdf_table(threshold_mean).to(x.device, x.dtype)
    k = min(n_candidates, tau_max - tau_min + 1)
    tau = x.new_empty(x.shape[0], total, k)  # preallocated: see loudness
    prob = x.new_empty(x.shape[0], total, k)
    # the integration window (tau_max samples) is centred on the frame's time; the lags
    # reach past it, so a period tau is measured around t + tau / 2
    lead = tau_max // 2
    for start, frames in frame_chunks(x, rate, frame_rate, 2 * tau_max + 2, total, lead):
        stop = start + frames.shape[1]
        tau[:, start:stop], prob[:, start:stop] = _candidates(frames, tau_min, tau_max, table, k)
    voicing = _median5(prob.sum(-1).clamp(0, 1))  # no isolated (un)voiced frames
    freq = rate / tau
    path = _decode(prob, freq, fmin_hz, jump_cost)
    f0_hz = torch.gather(freq, -1, path[..., None])[..., 0]
    return _fill_unvoiced(f0_hz, voicing > 0.5, fmin_hz), voicing


def _median5(v: torch.Tensor) -> torch.Tensor:
    """Median over 5 frames (ends replicated), ``(batch, frames)``."""
    padded = torch.nn.functional.pad(v[:, None], (2, 2), mode="replicate")[:, 0]
    return padded.unfold(-1, 5, 1).median(-1).values


def _decode(prob: torch.Tensor, freq: torch.Tensor, fmin_hz: float, jump_cost: float):
    obs = torch.where(prob > 0, torch.log(prob.clamp_min(1e-30)), torch.full_like(prob, -math.inf))
    q = torch.where(prob > 0, torch.log2(freq.double()), torch.full_like(obs, math.log2(fmin_hz)))
    return viterbi_path(obs, q, jump_cost)


def _fill_unvoiced(f0_hz: torch.Tensor, voiced: torch.Tensor, fmin_hz: float) -> torch.Tensor:
    """Unvoiced frames hold the *next* voiced frame's f0 (the last one after the final
    voiced frame): a note's attack, still unvoiced, already carries the note's pitch, and
    no glide is invented between notes."""
    out = f0_hz.clone()
    mask = voiced.cpu().numpy()
    n = mask.shape[-1]
    for row in range(mask.shape[0]):
        idx = np.flatnonzero(mask[row])
        if idx.size == 0:
            out[row] = fmin_hz
            continue
        nxt = np.searchsorted(idx, np.arange(n))  # first voiced frame at or after each
        src = idx[np.minimum(nxt, idx.size - 1)]
        out[row] = f0_hz[row, torch.from_numpy(src).to(f0_hz.device)]
    return out
