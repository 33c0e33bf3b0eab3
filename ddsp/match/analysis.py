"""Measurements on a dry/wet pair that start a fit: the linear response from dry to wet,
its direct part, echoes, decay, and short-term levels.

The response is a regularised (Wiener) deconvolution over the whole signal,
``H = sum_c W_c conj(D_c) / (sum_c |D_c|^2 + lambda)``; its inverse FFT ``h`` is what the
wet file would be for a unit impulse, averaged over whatever nonlinear processing the chain
did (a compressor shows up as its average gain). Delays show as peaks of ``h`` after the
direct part, reverbs as its decaying tail, EQs as the spectrum of its direct part (Smith,
"Mathematics of the DFT", 2007, on cross-spectral system identification).

All functions take numpy-free float64 torch tensors ``(channels, time)`` and return
floats or tensors; none of them changes its inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "Response",
    "estimate_response",
    "transfer_db",
    "find_echoes",
    "decay_rt60",
    "delay_track",
    "frame_levels_db",
    "coherence",
    "log_frequencies",
    "Echo",
]

_REG = 1e-3  # Wiener regulariser, relative to the mean dry power per bin
_FLOOR_DB = -120.0


@dataclass
class Response:
    """A dry-to-wet impulse response ``h (channels, n_lead + n_lags)``: ``h[:, n_lead]`` is
    lag 0, earlier samples are negative lags (a wet file that leads the dry one)."""

    h: torch.Tensor
    n_lead: int
    sample_rate: float

    def lagged(self, start: int, stop: int) -> torch.Tensor:
        """``h`` over lags ``start <= lag < stop`` (samples; clipped to what was kept)."""
        a = max(0, self.n_lead + start)
        b = min(self.h.shape[-1], self.n_lead + stop)
        return self.h[..., a:b]

    def mono(self) -> torch.Tensor:
        """The channels' mean response ``(n_lead + n_lags,)``."""
        return self.h.mean(0)


def _pair_channels(dry: torch.Tensor, wet: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Stereo to stereo: channel to channel. Mono to stereo (a widening reverb): the one dry
    # channel against each wet channel. Stereo to mono: the dry mid against the wet.
    if dry.shape[0] == wet.shape[0]:
        return dry, wet
    if dry.shape[0] == 1:
        return dry.expand(wet.shape[0], -1), wet
    return dry.mean(0, keepdim=True).expand(wet.shape[0], -1), wet


def estimate_response(
    dry: torch.Tensor,
    wet: torch.Tensor,
    sample_rate: float,
    *,
    max_lag_s: float = 2.0,
    lead_s: float = 0.1,
) -> Response:
    """Wiener estimate of the dry-to-wet impulse response per wet channel.

    Args:
        dry, wet: ``(channels, time)`` of one length.
        sample_rate: Hz.
        max_lag_s: longest lag kept, s.
        lead_s: negative lags kept (wet ahead of dry), s.

    Returns:
        :class:`Response` with ``h (wet channels, lead + lags)``.
    """
    d, w = _pair_channels(dry.double(), wet.double())
    n_t = d.shape[-1]
    n_lags = min(int(max_lag_s * sample_rate), n_t)
    n_lead = min(int(lead_s * sample_rate), n_t // 4)
    n_fft = 1 << (n_t + n_lags).bit_length()
    spec_d = torch.fft.rfft(d, n_fft)
    spec_w = torch.fft.rfft(w, n_fft)
    power = spec_d.abs().square()
    reg = _REG * power.mean(-1, keepdim=True) + 1e-30
    h = torch.fft.irfft(spec_w * spec_d.conj() / (power + reg), n_fft)
    h = torch.cat([h[..., n_fft - n_lead :], h[..., :n_lags]], -1)
    return Response(h, n_lead, float(sample_rate))


def log_frequencies(sample_rate: float, n: int = 100, low_hz: float = 25.0) -> torch.Tensor:
    """``n`` log-spaced frequencies from ``low_hz`` to ``min(20 kHz, 0.45 sample_rate)``."""
    high = min(20_000.0, 0.45 * sample_rate)
    return torch.logspace(math.log10(low_hz), math.log10(high), n, dtype=torch.float64)


def _octave_smooth(power: torch.Tensor, freqs: torch.Tensor, at: torch.Tensor, width: float):
    """Mean of ``power (..., bins)`` (on the linear grid ``freqs``) over ``width`` octaves
    around each of ``at``; ``(..., len(at))``."""
    out = []
    cums = torch.cat([torch.zeros_like(power[..., :1]), power.cumsum(-1)], -1)
    for f in at.tolist():
        lo = int(torch.searchsorted(freqs, f * 2 ** (-width / 2)))
        hi = max(lo + 1, int(torch.searchsorted(freqs, f * 2 ** (width / 2))))
        hi = min(hi, power.shape[-1])
        lo = min(lo, hi - 1)
        out.append((cums[..., hi] - cums[..., lo]) / (hi - lo))
    return torch.stack(out, -1)


def transfer_db(
    dry: torch.Tensor,
    wet: torch.Tensor,
    sample_rate: float,
    freqs: torch.Tensor,
    *,
    frame_s: float = 0.085,
    smoothing_octaves: float = 1 / 6,
    frames: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The direct dry-to-wet response at ``freqs``: magnitude (dB), coherence (0..1) and
    the dry level (dB re its loudest band).

    The H1 estimator ``|sum W conj(D)| / sum |D|^2`` over STFT frames of ``frame_s``, channels
    and ``smoothing_octaves`` around each frequency, with the magnitude-squared coherence
    ``|sum W conj(D)|^2 / (sum |D|^2 sum |W|^2)`` saying how much of the wet energy there the
    estimate explains (Bendat & Piersol, "Random Data", 4th ed., sections 9.1-9.2).
    Components delayed by more than about a frame (echoes, most of a reverb tail) average
    out of the cross-spectrum, so this is the direct path; they lower the coherence.
    ``frames``: an optional boolean ``(time,)`` of the samples allowed (e.g. where a
    compressor was not acting); STFT frames at least 90% inside it are used, when there
    are enough of them.
    """
    d, w = _pair_channels(dry.double(), wet.double())
    n_fft = 1 << max(8, round(math.log2(frame_s * sample_rate)))
    win = torch.hann_window(n_fft, dtype=torch.float64)
    sd = torch.stft(d, n_fft, n_fft // 4, window=win, return_complex=True)
    sw = torch.stft(w, n_fft, n_fft // 4, window=win, return_complex=True)
    if frames is not None:
        hop = n_fft // 4
        bad = torch.nn.functional.pad((~frames).double(), (n_fft // 2, n_fft // 2))
        bad = bad.unfold(0, n_fft, hop)[: sd.shape[-1]].mean(-1) > 0.1
        good = ~bad
        if int(good.sum()) >= max(8, sd.shape[-1] // 10):
            sd, sw = sd[..., good], sw[..., good]
    cross = (sw * sd.conj()).sum((0, 2))
    p_d = sd.abs().square().sum((0, 2))
    p_w = sw.abs().square().sum((0, 2))
    grid = torch.fft.rfftfreq(n_fft, 1 / sample_rate, dtype=torch.float64)
    parts = _octave_smooth(
        torch.stack([cross.real, cross.imag, p_d, p_w]), grid, freqs, smoothing_octaves
    )
    cross_s = torch.complex(parts[0], parts[1]).abs()
    mag = cross_s / (parts[2] + 1e-300)
    coh = cross_s.square() / (parts[2] * parts[3] + 1e-300)
    level = 10 * torch.log10(parts[2] / (float(parts[2].max()) + 1e-300) + 1e-300)
    return 20 * torch.log10(mag + 1e-300), coh.clamp(0.0, 1.0), level


@dataclass
class Echo:
    """A repeat of the direct part: ``lag_ms`` (sub-sample), ``gain`` relative to the
    direct part (signed, least squares) and ``score`` (peak over the local floor)."""

    lag_ms: float
    gain: float
    score: float


def _envelope(h: torch.Tensor, n_smooth: int) -> torch.Tensor:
    kernel = torch.ones(1, 1, n_smooth, dtype=h.dtype) / n_smooth
    return torch.nn.functional.conv1d(h.square()[None, None], kernel, padding=n_smooth // 2)[0, 0]


def find_echoes(
    response: Response,
    *,
    min_lag_ms: float = 1.0,
    max_lag_ms: float = 2000.0,
    window_ms: float = 3.0,
    count: int = 4,
) -> list[Echo]:
    """The strongest repeats of the direct part within the response, strongest first.

    Each candidate lag is a local maximum of the cross-correlation between the direct
    part (``|lag| < window_ms``) and the rest of the response; its gain is the least-squares
    scale of the direct part onto the response there, and its score the correlation peak
    over the median correlation around it (a reverb tail scores low, an echo high).
    """
    sr = response.sample_rate
    h = response.mono()
    n_w = max(4, int(window_ms * sr / 1000))
    direct = response.lagged(-n_w // 2, n_w).mean(0)
    energy = float(direct.square().sum())
    if energy <= 0:
        return []
    lo = max(int(min_lag_ms * sr / 1000), n_w)
    hi = min(int(max_lag_ms * sr / 1000), h.shape[0] - response.n_lead - direct.shape[0])
    if hi <= lo:
        return []
    start = response.n_lead - n_w // 2
    seg = h[start + lo : start + hi + direct.shape[0]]
    corr = torch.nn.functional.conv1d(seg[None, None], direct[None, None])[0, 0] / energy
    mag = corr.abs()
    floor = torch.nn.functional.avg_pool1d(
        mag[None, None], kernel_size=2 * n_w * 8 + 1, stride=1, padding=n_w * 8
    )[0, 0]
    floor = torch.maximum(floor, mag.max() * 1e-3)
    out: list[Echo] = []
    used = torch.zeros_like(mag, dtype=torch.bool)
    n_d = direct.shape[0]
    pad = torch.nn.functional.pad(direct, (1, 1))
    for _ in range(count):
        score = torch.where(used, torch.zeros_like(mag), mag / floor)
        i = int(score.argmax())
        if float(score[i]) <= 0:
            break
        lag, gain = _fit_echo(seg, pad, i, n_d)
        out.append(Echo(1000.0 * (lo + lag) / sr, gain, float(score[i])))
        used[max(0, i - n_w) : i + n_w + 1] = True
    return out


def _fit_echo(seg: torch.Tensor, pad: torch.Tensor, i: int, n_d: int) -> tuple[float, float]:
    """Sub-sample lag and gain of the echo near correlation index ``i``: the direct part
    (``pad`` is it with a zero either side) moved by ``i + f`` with linear interpolation, as
    a delay line reads it, ``f`` in [-0.5, 0.5] by least squares; ``(i + f, gain)``."""
    if i < 1 or i + n_d + 1 > seg.shape[0]:
        return float(i), float((seg[i : i + n_d] * pad[1:-1]).sum() / pad.square().sum())
    window = seg[i - 1 : i + n_d + 1]  # the template's support for any f
    later = torch.cat([pad.new_zeros(1), pad[:-1]])  # one sample later
    earlier = torch.cat([pad[1:], pad.new_zeros(1)])  # one sample earlier
    best = (math.inf, float(i), 0.0)
    for f in torch.linspace(-0.5, 0.5, 21).tolist():
        t = (1 - abs(f)) * pad + abs(f) * (later if f >= 0 else earlier)
        energy = float(t.square().sum())
        if energy <= 0:
            continue
        g = float((window * t).sum()) / energy
        err = float((window - g * t).square().sum())
        if err < best[0]:
            best = (err, i + f, g)
    return best[1], best[2]


def decay_rt60(
    tail: torch.Tensor, sample_rate: float, *, fit_db: tuple[float, float] = (-5.0, -25.0)
) -> tuple[float, float]:
    """RT60 (s) of a response tail ``(time,)`` and its energy above the noise floor.

    Schroeder backward integration of the energy and a line through the decay curve
    between ``fit_db`` (T20, extrapolated to 60 dB). An estimated response carries a noise
    floor (what the linear estimate cannot explain); as Lundeby et al. (Acustica 81, 1995)
    do for measured responses, the floor (median level of the last third) is subtracted,
    the tail is cut where its 10 ms envelope comes within 5 dB of the floor, and the fit
    range shrinks to what lies above it (at least 10 dB). Returns ``(nan, energy)`` when
    there is no such decay.
    """
    e = tail.double().square()
    block = max(1, int(0.01 * sample_rate))
    n_b = e.shape[0] // block
    if n_b < 6:
        return math.nan, float(e.sum())
    env = e[: n_b * block].reshape(n_b, block).mean(-1)
    floor = float(env[-max(2, n_b // 3) :].median())
    peak = int(env.argmax())
    above = torch.nonzero(env[peak:] <= floor * 10**0.5)  # within 5 dB of the floor
    end = (peak + int(above[0])) * block if above.numel() else e.shape[0]
    e = (e[:end] - floor).clamp_min(0.0)
    energy = float(e.sum())
    if energy <= 0 or end < 4 * block:
        return math.nan, energy
    edc = e.flip(0).cumsum(0).flip(0)
    edc_db = 10 * torch.log10(edc / edc[0] + 1e-300)
    reach = float(edc_db[-block:].mean())  # how far the cut tail's curve falls
    low = max(fit_db[1], reach + 3.0)
    if low > fit_db[0] - 10.0:
        return math.nan, energy
    t = torch.arange(end, dtype=torch.float64) / sample_rate
    sel = (edc_db <= fit_db[0]) & (edc_db >= low)
    if int(sel.sum()) < 8:
        return math.nan, energy
    tt, cc = t[sel], edc_db[sel]
    slope = float(((tt - tt.mean()) * (cc - cc.mean())).sum() / (tt - tt.mean()).square().sum())
    return (-60.0 / slope if slope < 0 else math.nan), energy


def frame_levels_db(
    x: torch.Tensor, frame: int, *, peak: bool = False, link: bool = True
) -> torch.Tensor:
    """Short-term level in dB of ``x (channels, time)`` in frames of ``frame`` samples:
    RMS, or the peak with ``peak=True``; the loudest channel with ``link``. ``(frames,)``
    or ``(channels, frames)``."""
    n = x.shape[-1] // frame * frame
    f = x[..., :n].reshape(*x.shape[:-1], -1, frame).double()
    power = f.square().amax(-1) if peak else f.square().mean(-1)
    if link:
        power = power.amax(0)
    return 10 * torch.log10(power + 10 ** (_FLOOR_DB / 10))


def coherence(
    dry: torch.Tensor, wet: torch.Tensor, sample_rate: float, *, frame_s: float = 0.1
) -> float:
    """Power-weighted magnitude-squared coherence of dry and wet (Welch): near 1 when the wet
    file is a time-invariant-ish processing of the dry one, near 0 for unrelated audio."""
    d, w = _pair_channels(dry.double(), wet.double())
    n_fft = 1 << max(8, int(math.log2(frame_s * sample_rate)))
    win = torch.hann_window(n_fft, dtype=torch.float64)
    sd = torch.stft(d, n_fft, n_fft // 2, window=win, return_complex=True)
    sw = torch.stft(w, n_fft, n_fft // 2, window=win, return_complex=True)
    cross = (sw * sd.conj()).sum(-1).abs().square()
    pd, pw = sd.abs().square().sum(-1), sw.abs().square().sum(-1)
    msc = cross / (pd * pw + 1e-30)
    weight = pw / (pw.sum() + 1e-30)
    return float((msc * weight).sum())


def delay_track(
    dry: torch.Tensor,
    wet: torch.Tensor,
    sample_rate: float,
    *,
    min_ms: float,
    max_ms: float,
    frame_s: float = 0.085,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The lag of the strongest delayed copy of ``dry`` in ``wet`` frame by frame, between
    ``min_ms`` and ``max_ms``: a chorus's or flanger's swept delay. Per STFT frame the
    phase transform of the cross-spectrum (GCC-PHAT, Knapp & Carter, IEEE TASSP 1976),
    summed over channels: whitening keeps a tonal signal's own periodicity from passing
    for a delay. Returns the frames' centre times (s), lags (ms, interpolated) and
    weights (the peak's height times the frame's share of the energy)."""
    d, w = _pair_channels(dry.double(), wet.double())
    n_fft = 1 << max(8, round(math.log2(frame_s * sample_rate)))
    hop = n_fft // 4
    win = torch.hann_window(n_fft, dtype=torch.float64)
    sd = torch.stft(d, n_fft, hop, window=win, center=False, return_complex=True)
    sw = torch.stft(w, n_fft, hop, window=win, center=False, return_complex=True)
    cross = (sw * sd.conj()).sum(0)  # (bins, frames)
    f = torch.fft.rfftfreq(n_fft, 1 / sample_rate, dtype=torch.float64)
    band = ((f > 80.0) & (f < min(10_000.0, 0.45 * sample_rate))).double()[:, None]
    phat = cross / (cross.abs() + 1e-30) * band
    gcc = torch.fft.irfft(phat, n_fft, dim=0)  # (lags, frames)
    lo = max(1, int(min_ms * sample_rate / 1000))
    hi = min(n_fft // 2, int(math.ceil(max_ms * sample_rate / 1000)) + 1)
    seg = gcc[lo:hi]
    peak, idx = seg.max(0)
    # to a fraction of a sample: the parabola through the peak and its neighbours (a
    # swept comb's notches move by a sample's error)
    i0 = idx.clamp(1, seg.shape[0] - 2)
    cols = torch.arange(seg.shape[1])
    a, b, c = seg[i0 - 1, cols], seg[i0, cols], seg[i0 + 1, cols]
    den = a - 2 * b + c
    frac = torch.where(den < 0, 0.5 * (a - c) / den.clamp(max=-1e-30), torch.zeros_like(den))
    frac = torch.where(idx == i0, frac.clamp(-0.5, 0.5), torch.zeros_like(frac))
    energy = sd.abs().square().sum((0, 1))
    share = energy / (energy.max() + 1e-30)
    times = (torch.arange(gcc.shape[1], dtype=torch.float64) * hop + n_fft / 2) / sample_rate
    lags = 1000.0 * ((idx + lo).double() + frac) / sample_rate
    return times, lags, peak.clamp_min(0.0) * (share > 1e-3).double()
