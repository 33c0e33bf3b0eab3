"""Fundamental frequency: a YIN-family estimator, offline, no weights.

Per frame, two periodicity measures over the lag ``tau``:

* YIN's cumulative-mean-normalised difference function ``d'(tau)`` (de Cheveigne and
  Kawahara 2002, computed with FFTs); its local minima are the candidate periods, refined
  on the raw difference function, and its value at the chosen period is the voicing
  evidence (pYIN's beta prior on the threshold, Mauch and Dixon 2014).
* The normalised autocorrelation of the *compressed* spectrum, ``|X|^2`` raised to
  :data:`COMPRESSION`, divided by the window's own autocorrelation (Boersma 1993; the
  compression as in Tolonen and Karjalainen 2000). Compression lifts weak partials, so a
  weak fundamental (a bassoon's, 15-20 dB below its 2nd or 3rd harmonic) still tells its
  period from the half or third of it, which raw energy (YIN) barely does.

Each candidate scores ``(1 - r(tau)) + OCTAVE_COST * log2(tau)`` (Praat's octave cost:
among periods that explain the signal about equally well, the shortest wins, so a
multiple of the period must explain clearly more to be chosen) and gets the observation
probability ``softmax(-score / TEMPERATURE)`` over the frame's candidates. A Viterbi
pass (numba kernel, :mod:`ddsp.kernels.viterbi`) then picks one candidate per frame,
trading observation probability against pitch jumps. The streaming tracker
(:mod:`ddsp.features.pitch_stream`) shares :func:`_observe`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import check_range
from ..functional._complex import complex_product
from ..ops import viterbi_path
from ._frames import as_mono_batch, frame_chunks, n_frames, resample

__all__ = ["f0", "ANALYSIS_RATE"]

ANALYSIS_RATE = 16_000  # inputs above it are resampled down first (f0 needs no more)
COMPRESSION = 0.5  # exponent on the power spectrum (0.5: magnitude) for the octave choice
OCTAVE_COST = 0.08  # score per octave of longer period (1 - r units; Praat uses 0.01)
TEMPERATURE = 0.15  # of the softmax turning scores into observation probabilities
BAND_HZ = 8_000.0  # the compressed spectrum's band (rate-independent: the 16 kHz band)
# tuned on the seed-1 melodies of benchmarks/f0_eval.py, reported there on seed 0: octave
# costs 0.06-0.10 and temperatures 0.1-0.2 all score within 0.3 points of the mean; the
# magnitude (0.5) beat the power (1: worst row 2.4 points lower) and 0.3 (flute octaves)


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


def _fft_size(tau_max: int) -> int:
    """FFT length of :func:`_observe`: frames of ``2 tau_max + 2`` samples, their
    correlation with lags up to ``tau_max + 1`` without wrap-around."""
    return 1 << (3 * tau_max + 2).bit_length()


def _analysis_tables(
    tau_max: int, sample_rate: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Constants of :func:`_observe` for frames of ``2 tau_max + 2`` samples: the Hann
    window, its autocorrelation normalised to 1 at lag 0 (lags ``0 .. tau_max + 1``), and
    the band mask of the compressed spectrum (bins up to :data:`BAND_HZ`)."""
    length = 2 * tau_max + 2
    n_fft = _fft_size(tau_max)
    window = torch.hann_window(length, periodic=False, dtype=torch.float64)
    # the plain window's autocorrelation, not the compressed window's: that one falls to
    # ~0.005 at the longest lags and dividing by it favours long periods (measured: 31%
    # octave errors on a low voice); the price, periods near 2 / fmin read a little weak
    acf = torch.fft.irfft(torch.fft.rfft(window, n_fft).abs().square(), n_fft)[: tau_max + 2]
    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    band = (freqs <= BAND_HZ).to(torch.float64)
    return tuple(t.to(device, dtype) for t in (window, acf / acf[0], band))


def _observe(
    frames: torch.Tensor,
    tau_min: int,
    tau_max: int,
    n_candidates: int,
    n_fft: int,
    window: torch.Tensor,
    window_acf: torch.Tensor,
    band: torch.Tensor,
    voicing_table: torch.Tensor,
    compression: float = COMPRESSION,
    octave_cost: float = OCTAVE_COST,
    temperature: float = TEMPERATURE,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per frame: candidate periods, their observation probabilities and voicing.

    Args:
        frames: ``(..., 2 tau_max + 2)`` samples; YIN integrates over the first
            ``tau_max`` and compares them with lags ``1 .. tau_max + 1``.
        tau_min, tau_max: lag range in samples (``fmax``, ``fmin``); ``tau_min >= 2``.
        n_candidates: ``K``, candidates kept (the best-scoring local minima of ``d'``).
        n_fft: :func:`_fft_size` of ``tau_max`` (the compressed spectrum's autocorrelation).
        window, window_acf, band: from :func:`_analysis_tables`.
        voicing_table: :func:`_beta_cdf_table` of the prior on YIN's threshold.
        compression, octave_cost, temperature: :data:`COMPRESSION`, :data:`OCTAVE_COST`,
            :data:`TEMPERATURE` (arguments, so that TorchScript sees them).

    Returns:
        ``(tau, prob, voicing)``, each ``(..., K)``: refined periods in samples,
        observation probabilities (summing to 1 over a frame's candidates; 0 for empty
        slots, all 0 in a frame without any candidate) and the voicing probability of each
        candidate, ``1 - CDF(d'(tau))``. Pure torch: scriptable and exportable.
    """
    w = tau_max  # YIN's integration window
    frames = frames - frames.mean(-1, keepdim=True)  # DC would read as a period everywhere
    cs = torch.nn.functional.pad(torch.cumsum(frames.square(), -1), (1, 0))
    taus = torch.arange(tau_max + 2, device=frames.device)
    e0 = cs[..., w : w + 1]
    e_tau = cs.index_select(-1, taus + w) - cs.index_select(-1, taus)
    # r[tau] = sum_{t < w} x[t + tau] x[t], tau <= tau_max + 1 (a circular correlation:
    # the frame does not wrap at n_fft), and the periodicity of the compressed,
    # band-limited spectrum: the autocorrelation of the windowed frame divided by the
    # window's (an unbiased estimate, 1 for a period). The three spectra go through one
    # transform and the two correlations through one inverse: a call costs more than its
    # size.
    head = torch.nn.functional.pad(frames[..., :w], (0, frames.shape[-1] - w))
    spectra = torch.view_as_real(
        torch.fft.rfft(torch.stack([frames, head, frames * window]), n_fft)
    )
    cross = complex_product(spectra[0], spectra[1], conjugate=True)
    power = spectra[2].square().sum(-1)
    compressed = torch.stack([power.pow(compression) * band, torch.zeros_like(power)], -1)
    pairs = torch.stack([torch.view_as_real(cross), compressed])
    lags = torch.fft.irfft(torch.view_as_complex(pairs), n_fft)
    r = lags[0, ..., : tau_max + 2]
    d = (e0 + e_tau - 2 * r).clamp_min(0)
    d = torch.cat([torch.zeros_like(d[..., :1]), d[..., 1:]], -1)
    csum = torch.cumsum(d[..., 1:], -1)
    tiny = 1e-12 * (e0 + 1e-20)
    cmnd = torch.cat(
        [torch.ones_like(d[..., :1]), d[..., 1:] * taus[1:] / torch.maximum(csum, tiny)], -1
    )
    mid = cmnd[..., tau_min : tau_max + 1]
    left = cmnd[..., tau_min - 1 : tau_max]
    right = cmnd[..., tau_min + 1 : tau_max + 2]
    # a frame whose integration window is (near) silent has no period to find
    live = e0 > 1e-4 * e_tau.amax(-1, keepdim=True) + 1e-10 * w
    is_min = (mid < left) & (mid <= right) & live
    acf = lags[1, ..., : tau_max + 2]
    acf = acf / (acf[..., :1] + 1e-30) / window_acf
    # the compressed peak may sit a lag beside the minimum of d'
    peak = torch.maximum(acf[..., tau_min - 1 : tau_max], acf[..., tau_min + 1 :])
    peak = torch.maximum(peak, acf[..., tau_min : tau_max + 1])
    octaves = torch.log2(taus[tau_min : tau_max + 1].to(frames.dtype) / tau_min)
    score = (1 - peak).clamp_min(0) + octave_cost * octaves
    score = torch.where(is_min, score, torch.full_like(score, math.inf))
    k = min(n_candidates, tau_max - tau_min + 1)
    neg, idx = torch.topk(-score, k, dim=-1)
    found = torch.isfinite(neg)
    prob = torch.softmax(torch.where(found, neg, torch.full_like(neg, -1e30)) / temperature, -1)
    prob = torch.where(found, prob, torch.zeros_like(prob))
    voicing = (1 - _cdf(torch.gather(mid, -1, idx), voicing_table)) * found
    # refinement of each minimum on the raw difference function (the normalisation's
    # tau / cumsum factor biases the vertex at short lags): vertex of a cosine through
    # the three points (d is a sum of cosines in the lag; a parabola's vertex is biased
    # by up to ~10 cents at lags near 10 samples)
    y0 = torch.gather(d[..., tau_min - 1 : tau_max], -1, idx)
    y1 = torch.gather(d[..., tau_min : tau_max + 1], -1, idx)
    y2 = torch.gather(d[..., tau_min + 1 : tau_max + 2], -1, idx)
    tau0 = (idx + tau_min).to(frames.dtype)
    omega = 2 * math.pi / tau0
    num = (y0 - y2) * (1 - torch.cos(omega))
    den = torch.sin(omega) * (y0 + y2 - 2 * y1)
    shift = torch.where(den > 0, torch.atan(num / den.clamp_min(1e-30)) / omega, 0 * den)
    tau = tau0 + shift.clamp(-0.5, 0.5)
    return tau, prob, voicing


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
        threshold_mean: mean of the beta prior on YIN's threshold, which turns ``d'`` at
            the chosen period into the voicing probability (pYIN uses 0.1 to 0.2; 0.2
            measured best on sampled instruments, see benchmarks/f0_eval.py).
        jump_cost: Viterbi cost, in nats per octave, of a pitch change between frames.
        n_candidates: candidates kept per frame.

    Returns:
        ``(f0_hz, voicing)``, both ``(batch, frames)`` with
        ``frames = ceil(time * frame_rate / sample_rate)``. ``voicing`` is in [0, 1]: the
        voicing probability of the decoded period (median over 5 frames), voiced where
        it exceeds 0.5 (a frame is voiced by the period it reports, not by the best
        period anywhere); on unvoiced frames ``f0_hz`` holds the voiced
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
    window, window_acf, band = _analysis_tables(tau_max, rate, x.dtype, x.device)
    k = min(n_candidates, tau_max - tau_min + 1)
    tau = x.new_empty(x.shape[0], total, k)  # preallocated: see loudness
    prob = x.new_empty(x.shape[0], total, k)
    voicing = x.new_empty(x.shape[0], total, k)
    # the integration window (tau_max samples) is centred on the frame's time; the lags
    # reach past it, so a period tau is measured around t + tau / 2
    lead = tau_max // 2
    for start, frames in frame_chunks(x, rate, frame_rate, 2 * tau_max + 2, total, lead):
        stop = start + frames.shape[1]
        tau[:, start:stop], prob[:, start:stop], voicing[:, start:stop] = _observe(
            frames, tau_min, tau_max, k, _fft_size(tau_max), window, window_acf, band, table
        )
    freq = rate / tau
    path = _decode(prob, freq, fmin_hz, jump_cost)[..., None]
    f0_hz = torch.gather(freq, -1, path)[..., 0]
    voicing = _median5(torch.gather(voicing, -1, path)[..., 0])  # no isolated (un)voiced
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
