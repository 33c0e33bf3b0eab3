"""Streaming f0: the offline tracker's observations, decoded block by block with a
bounded lookahead, in plain torch (scriptable and exportable).

Each frame is analysed as in :func:`ddsp.features.f0` (YIN's ``d'`` for candidates and
voicing, the compressed-spectrum autocorrelation with an octave cost for the choice,
:func:`ddsp.features.pitch._observe`), at the input's own rate: the window is placed so
that it reaches ``window_lookahead`` samples past the frame's centre. In place of the
whole-file Viterbi, a fixed-lag Viterbi decoder (Rabiner 1989, sec. III.B, with the
decision delayed by ``decoder_lag`` frames) runs the same recursion frame by frame and
fixes frame ``j`` once frame ``j + decoder_lag`` is in, as the best path to the newest
frame says (kept by register exchange: every candidate carries its survivor path, so no
backtracking). Latency, all of it lookahead: ``window_lookahead + decoder_lag * hop``
samples. The defaults (32 ms window lookahead, 4 frames of lag, a light jump cost and a
sharper candidate scoring) were tuned on the seed-1 melodies of benchmarks/f0_eval.py.

Confidence is the voicing probability of the decided period (``1 - CDF(d')`` under
pYIN's beta prior) with a median over 5 frames (two decided ones, the frame, two
provisional ones), zero for frames quieter than ``floor_db``. The gate: a frame is voiced
where ``confidence >= GATE`` (0.5). Unvoiced frames carry the f0 of the first voiced frame
within the lookahead (an attack carries its note's pitch, as offline), else hold the last
voiced f0 (``fmin_hz`` before any), so a synthesiser driven by f0 never jumps on noise.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from .._checks import check_range
from ._frames import as_mono_batch
from .pitch import COMPRESSION, _analysis_tables, _beta_cdf_table, _fft_size, _observe

__all__ = ["PitchTracker", "f0_stream", "GATE"]

GATE = 0.5  # confidence threshold: voiced (pitched output) where confidence >= GATE


class PitchTracker(torch.nn.Module):
    """Streaming f0 and confidence with a fixed, declared lookahead.

    The module is stateless: :meth:`initial_state` makes the state of one stream (a batch
    of signals advancing together) as a dict of tensors, :meth:`forward` consumes a block
    and returns the frames that became final and the new state. Frame ``j`` is centred on
    input sample ``j * hop`` and is final once ``j * hop + latency_samples + 1`` samples
    are in, so how many frames a block yields depends only on the total number of
    samples, and any split of a signal into blocks gives the same frames bit for bit.

    Args:
        sample_rate: Hz, processed natively (no resampling; 16 to 48 kHz tested).
        frame_rate: frames per second; the hop is ``round(sample_rate / frame_rate)``.
        fmin_hz, fmax_hz: search range, ``0 < fmin_hz < fmax_hz <= sample_rate / 4``.
        window_lookahead_ms: how far the analysis window (``2 / fmin_hz`` s long) reaches
            past the frame's centre, in ms.
        decoder_lag: frames the decoder waits before fixing a frame (>= 2).
        jump_cost: decoder cost, nats per octave, of a pitch change between frames (far
            below the offline 40: with a short lag, a costly jump would keep a wrong octave
            chosen at an attack for longer than the lag can see).
        octave_cost, temperature: candidate scoring, as :data:`~ddsp.features.pitch.
            OCTAVE_COST` and :data:`~ddsp.features.pitch.TEMPERATURE` (sharper here: the
            decoder has fewer frames to gather evidence).
        threshold_mean: mean of the beta prior on YIN's threshold (voicing).
        floor_db: frames whose mean square (dB re full scale) is below it are unvoiced.
        n_candidates: candidates per frame.

    Attributes:
        hop: samples per frame. latency_samples: all lookahead, in input samples
        (``window_lookahead + decoder_lag * hop``; 48 ms at the defaults).
        centre_delay: how far before its centre ``j * hop`` a frame's pitch evidence is
        centred, in input samples (YIN's window and lags sit before the centre, as far as
        the lookahead allows): pitch changes come out of the tracker that much later
        than frame ``j`` suggests. Exact for a period at the geometric centre of the
        search range (``tau_ref = sqrt(tau_min tau_max)``; 283 Hz at the defaults); a
        period ``tau`` moves it by ``(tau_ref - tau) / 2`` samples (at 16 kHz: -3.2 ms
        for 100 Hz, +1.3 ms for 1 kHz). 61 samples at 16 kHz at the defaults.

    Shape:
        ``forward(x (batch, n), state) -> (f0_hz (batch, k), confidence (batch, k),
        state)`` with ``k >= 0`` frames; the frames come out in order, frame ``j`` in the
        call that brings the total to at least ``j * hop + latency_samples + 1`` samples.

    Devices: cpu, cuda (plain torch; only the CPU has been run). Gradients: none
    (decisions). Scriptable with
    :func:`torch.jit.script`; exportable with :func:`torch.export.export` for a fixed
    block size.

    Example:
        >>> tracker = PitchTracker(16_000)
        >>> f0_hz, conf, state = tracker(torch.zeros(1, 4000), tracker.initial_state(1))
    """

    def __init__(
        self,
        sample_rate: float,
        frame_rate: float = 250.0,
        fmin_hz: float = 40.0,
        fmax_hz: float = 2000.0,
        *,
        window_lookahead_ms: float = 32.0,
        decoder_lag: int = 4,
        jump_cost: float = 2.0,
        octave_cost: float = 0.1,
        temperature: float = 0.075,
        threshold_mean: float = 0.2,
        floor_db: float = -60.0,
        n_candidates: int = 8,
    ) -> None:
        super().__init__()
        check_range(sample_rate, "sample_rate", 0.0, math.inf)
        check_range(frame_rate, "frame_rate", 0.0, sample_rate, high_inclusive=True)
        if not 0 < fmin_hz < fmax_hz <= sample_rate / 4:
            raise ValueError(
                f"expected 0 < fmin_hz < fmax_hz <= {sample_rate / 4:g} Hz (a quarter of the "
                f"sample rate), got fmin_hz={fmin_hz:g}, fmax_hz={fmax_hz:g}"
            )
        if not isinstance(decoder_lag, int) or decoder_lag < 2:
            raise ValueError(f"expected an integer decoder_lag >= 2, got {decoder_lag!r}")
        if not isinstance(n_candidates, int) or n_candidates < 1:
            raise ValueError(f"expected an integer n_candidates >= 1, got {n_candidates!r}")
        check_range(threshold_mean, "threshold_mean", 0.0, 1.0)
        check_range(jump_cost, "jump_cost", 0.0, math.inf)
        check_range(temperature, "temperature", 0.0, math.inf)
        self.sample_rate = float(sample_rate)
        self.hop = int(round(sample_rate / frame_rate))
        self.fmin_hz = float(fmin_hz)
        self.tau_min = max(2, int(sample_rate / fmax_hz))
        self.tau_max = int(math.ceil(sample_rate / fmin_hz))
        self.length = 2 * self.tau_max + 2  # analysis window, samples
        self.n_fft = _fft_size(self.tau_max)
        self.n_candidates = min(n_candidates, self.tau_max - self.tau_min + 1)
        self.window_lookahead = int(round(window_lookahead_ms * sample_rate / 1000))
        if not 0 <= self.window_lookahead < self.length:
            raise ValueError(
                f"expected 0 <= window_lookahead_ms < {1000 * self.length / sample_rate:g} "
                f"(the window), got {window_lookahead_ms:g}"
            )
        self.decoder_lag = decoder_lag
        self.latency_samples = self.window_lookahead + decoder_lag * self.hop
        # where a frame's pitch comes from: YIN compares x[t] with x[t + tau] for the
        # window's first tau_max samples, so for a period tau its evidence is centred
        # (tau_max - 1 + tau) / 2 past the window's start; with tau at the geometric
        # centre of the search range, this many samples before the frame's centre
        start = self.window_lookahead - self.length + 1  # the window's, from j * hop
        tau_ref = math.sqrt(self.tau_min * self.tau_max)
        self.centre_delay = max(0, int(round(-start - (self.tau_max - 1 + tau_ref) / 2)))
        self.jump_cost = float(jump_cost)
        self.compression = COMPRESSION
        self.octave_cost = float(octave_cost)
        self.temperature = float(temperature)
        self.floor_power = 10.0 ** (floor_db / 10)
        self.gate = GATE
        window, window_acf, band = _analysis_tables(
            self.tau_max, sample_rate, torch.float64, torch.device("cpu")
        )
        # constants, not stream state: moved with the module, cast to the input's dtype
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("window_acf", window_acf.float(), persistent=False)
        self.register_buffer("band", band.float(), persistent=False)
        self.register_buffer("table", _beta_cdf_table(threshold_mean).float(), persistent=False)

    @torch.jit.export
    def initial_state(
        self,
        batch: int,
        dtype: torch.dtype = torch.float32,
        device: Optional[torch.device] = None,  # noqa: UP045 (TorchScript)
    ) -> dict[str, torch.Tensor]:
        """The state of a fresh stream of ``batch`` signals (silence before the start).

        Keys: ``buffer`` (batch, window - 1) the latest samples; ``n_samples``,
        ``n_frames`` (1,) int64 samples and frames analysed so far; decoder: ``delta``
        (batch, K) path scores and ``q`` (batch, K) log2 f0 of the newest frame's
        candidates, ``paths_f`` and ``paths_v`` (batch, K, lag + 1) f0 (Hz) and voicing
        along each candidate's survivor path (oldest first); output: ``past`` (batch, 2)
        voicing of the last two decided frames, ``last_f0`` (batch,) the f0 held on
        unvoiced frames.
        """
        g, k = self.decoder_lag, self.n_candidates
        return {
            "buffer": torch.zeros(batch, self.length - 1, dtype=dtype, device=device),
            "n_samples": torch.zeros(1, dtype=torch.int64, device=device),
            "n_frames": torch.zeros(1, dtype=torch.int64, device=device),
            "delta": torch.zeros(batch, k, dtype=dtype, device=device),
            "q": torch.zeros(batch, k, dtype=dtype, device=device),
            "paths_f": torch.zeros(batch, k, g + 1, dtype=dtype, device=device),
            "paths_v": torch.zeros(batch, k, g + 1, dtype=dtype, device=device),
            "past": torch.zeros(batch, 2, dtype=dtype, device=device),
            "last_f0": torch.full((batch,), self.fmin_hz, dtype=dtype, device=device),
        }

    def forward(
        self, x: torch.Tensor, state: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Consume ``x`` (batch, n); return the frames finalised by it and the new state."""
        hz, conf, count, new_state = self.slots(x, state, None)
        if torch.jit.is_scripting():
            k = int(count.item())
        else:
            k = count.item()
            torch._check(k >= 0)
            torch._check(k <= hz.shape[1])
        return hz.narrow(1, 0, k), conf.narrow(1, 0, k), new_state

    @torch.jit.export
    def slots(
        self,
        x: torch.Tensor,
        state: dict[str, torch.Tensor],
        count_in: Optional[torch.Tensor] = None,  # noqa: UP045 (TorchScript)
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """As :meth:`forward`, with shapes that do not depend on the data: ``f0_hz`` and
        ``confidence`` (batch, n // hop + 1) whose first ``count`` (1,) int64 slots are the
        decided frames (the rest padding), and the new state. ``count_in`` (1,) int64: only
        the first ``count_in`` samples of ``x`` are input (the rest padding; default all),
        for a caller whose blocks vary in length (a decimated stream)."""
        if x.dim() != 2:
            raise ValueError(f"expected x of shape (batch, n), got {x.dim()} dimensions")
        n = x.shape[1]
        hop, g = self.hop, self.decoder_lag
        seen, done = state["n_samples"], state["n_frames"]
        signal = torch.cat([state["buffer"], x.to(state["buffer"].dtype)], 1)
        if count_in is None:
            given = torch.full_like(seen, n)
            buffer = signal[:, signal.shape[1] - (self.length - 1) :]
        else:
            given = count_in.clamp(0, n)
            keep = given + torch.arange(self.length - 1, device=x.device)
            buffer = signal.index_select(1, keep)
        # frame j needs samples up to j * hop + window_lookahead: frames < ready are in
        ready = torch.div(seen + given - 1 - self.window_lookahead, hop, rounding_mode="floor") + 1
        ready = ready.clamp_min(0)
        slots = n // hop + 1  # most frames one block can complete (static per block size)
        j = done + torch.arange(slots, device=x.device)  # frame of each slot
        valid = j < ready
        # window of frame j in `signal` (which starts at sample seen - length + 1)
        # (a decided frame's window lies inside; the start of a padding slot is clamped, a
        # per-slot clamp that leaves each window contiguous for compilers)
        start = (j * hop + self.window_lookahead - seen).clamp(0, signal.shape[1] - self.length)
        index = start[:, None] + torch.arange(self.length, device=x.device)
        frames = signal[:, index]  # (batch, slots, length)
        dtype = frames.dtype
        tau, prob, voicing = _observe(
            frames,
            self.tau_min,
            self.tau_max,
            self.n_candidates,
            self.n_fft,
            self.window.to(dtype),
            self.window_acf.to(dtype),
            self.band.to(dtype),
            self.table.to(dtype),
            self.compression,
            self.octave_cost,
            self.temperature,
        )
        loud = (frames - frames.mean(-1, keepdim=True)).square().mean(-1) >= self.floor_power
        voicing = voicing * loud[..., None]
        has = prob > 0
        freq = torch.where(has, self.sample_rate / tau, self.fmin_hz)  # Hz; division is exact
        empty = ~has.any(-1)  # (batch, slots): frames without any candidate pass through

        delta, q, paths_f, paths_v = state["delta"], state["q"], state["paths_f"], state["paths_v"]
        width = g + 1
        steps = torch.arange(self.n_candidates, device=x.device).expand(x.shape[0], -1)
        best_f, best_v = [], []
        for i in range(slots):
            ok = valid[i]
            first = j[i] == 0  # frame 0 has no predecessor
            e = empty[:, i, None]
            # logarithms per frame on fixed shapes: vectorised log2 differs from its scalar
            # tail by an ulp, so a frame's value must not depend on its place in a block
            f_i = torch.where(e, paths_f[:, :, -1], freq[:, i])
            q_i = torch.where(e, q, torch.log2(freq[:, i]))
            o_i = torch.where(e, 0.0, torch.log(prob[:, i].clamp_min(1e-30)))
            o_i = torch.where(e | has[:, i], o_i, -math.inf)
            # delta[j] = obs[j] + max_i (delta[i] - |q[j] - q_prev[i]| * jump_cost), as the
            # offline kernel (kernels/viterbi.py); argmax takes the first maximum, as it does
            trans = delta[:, None, :] - (q_i[:, :, None] - q[:, None, :]).abs() * self.jump_cost
            arg = torch.where(first, steps, trans.argmax(-1))
            d_new = torch.where(first, o_i, o_i + trans.amax(-1))
            d_new = d_new - d_new.amax(-1, keepdim=True).clamp_min(-1e30)  # stays bounded
            # fixed lag by register exchange: each candidate's survivor path over the last
            # g + 1 frames, so the decision is the best survivor's oldest entry
            take = arg[:, :, None].expand(-1, -1, width)
            p_f = torch.cat([torch.gather(paths_f, 1, take)[:, :, 1:], f_i[:, :, None]], 2)
            p_v = torch.cat([torch.gather(paths_v, 1, take)[:, :, 1:], voicing[:, i, :, None]], 2)
            top = d_new.argmax(-1)[:, None, None].expand(-1, 1, width)
            best_f.append(torch.gather(p_f, 1, top)[:, 0])
            best_v.append(torch.gather(p_v, 1, top)[:, 0])
            delta = torch.where(ok, d_new, delta)
            q = torch.where(ok, q_i, q)
            paths_f = torch.where(ok, p_f, paths_f)
            paths_v = torch.where(ok, p_v, paths_v)
        # frames decided in this call: slots with j in [max(done, g), ready), a contiguous
        # run starting at slot max(g - done, 0); gathered to the front
        first_out = (g - done).clamp(0, slots)
        count = (ready - g).clamp_min(0) - (done - g).clamp_min(0)
        pick = (first_out + torch.arange(slots, device=x.device)).clamp_max(slots - 1)
        path_f = torch.stack(best_f, 1)[:, pick]  # (batch, slots, g + 1): decided + ahead
        path_v = torch.stack(best_v, 1)[:, pick]
        # confidence: median of 5 over two earlier decided frames, the frame and two ahead
        dec_v = torch.cat([state["past"], path_v[:, :, 0]], 1)  # (batch, 2 + slots)
        conf = _median5(dec_v[:, :-2], dec_v[:, 1:-1], path_v[:, :, 0], path_v[:, :, 1],
                        path_v[:, :, 2])  # fmt: skip
        voiced = conf >= self.gate
        ahead = path_v[:, :, 1:] >= self.gate  # the first voiced frame within the lookahead
        nearest = ahead.to(torch.int64).argmax(-1, keepdim=True) + 1
        f_ahead = torch.gather(path_f, 2, nearest)[..., 0]
        f_out = torch.where(voiced, path_f[:, :, 0], f_ahead)
        fill = voiced | ahead.any(-1)
        # otherwise hold the last voiced f0 (forward fill along the decided frames)
        pos = torch.arange(slots, device=x.device).expand_as(fill)
        src = torch.where(fill & (pos < count), pos, -1).cummax(-1).values
        hz = torch.gather(f_out, 1, src.clamp_min(0))
        hz = torch.where(src >= 0, hz, state["last_f0"][:, None])
        at = (count - 1).clamp_min(0).expand(x.shape[0], 1)
        last = torch.where(count > 0, torch.gather(hz, 1, at)[:, 0], state["last_f0"])
        past = torch.gather(dec_v, 1, torch.cat([at + 1, at + 2], 1))
        past = torch.where(count > 0, past, state["past"])
        new_state = {
            "buffer": buffer,
            "n_samples": seen + given,
            "n_frames": ready.clamp_min(done),
            "delta": delta,
            "q": q,
            "paths_f": paths_f,
            "paths_v": paths_v,
            "past": past,
            "last_f0": last,
        }
        return hz, conf, count, new_state


def _median5(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor,
             e: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """The median of five tensors, element by element, by min/max alone (the same value
    as ``torch.median`` over a stacked axis; pointwise, so compilers fuse it)."""
    f = torch.maximum(torch.minimum(a, b), torch.minimum(c, d))  # not the lowest of a..d
    g = torch.minimum(torch.maximum(a, b), torch.maximum(c, d))  # not the highest
    return torch.maximum(torch.minimum(e, f), torch.minimum(torch.maximum(e, f), g))


def f0_stream(
    x: torch.Tensor,
    sample_rate: float,
    frame_rate: float = 250.0,
    *,
    block: int = 1 << 15,
    **kwargs: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a :class:`PitchTracker` over a whole signal (offline use of the stream).

    The signal is fed in blocks of ``block`` samples and followed by ``latency_samples``
    zeros, so every frame of it is final: ``ceil(time / hop)`` frames, frame ``j`` centred
    on sample ``j * hop`` (``hop = round(sample_rate / frame_rate)``).

    Args:
        x: ``(time,)``, ``(batch, time)`` or ``(batch, channels, time)`` (channels averaged).
        sample_rate: Hz. frame_rate: frames per second.
        block: samples per call (any value gives the same frames).
        **kwargs: :class:`PitchTracker` options.

    Returns:
        ``(f0_hz, confidence)``, both ``(batch, frames)``; voiced where
        ``confidence >= GATE``.
    """
    x = as_mono_batch(x).detach()
    tracker = PitchTracker(sample_rate, frame_rate, **kwargs).to(x.device)
    state = tracker.initial_state(x.shape[0], x.dtype, x.device)
    total = max(1, -(-x.shape[1] // tracker.hop))
    padded = torch.nn.functional.pad(x, (0, tracker.latency_samples + tracker.hop))
    f0s, confs = [], []
    for at in range(0, padded.shape[1], block):
        f, c, state = tracker(padded[:, at : at + block], state)
        f0s.append(f)
        confs.append(c)
    return torch.cat(f0s, 1)[:, :total], torch.cat(confs, 1)[:, :total]
