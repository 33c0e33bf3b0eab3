"""End-to-end evaluation of a shipped instrument's exported live pipeline (issue 12).

    python benchmarks/live_eval.py [--instrument violin] [--rate 48000] [--block 512]

The instrument's pipeline is exported as an nn~ file (TorchScript) at ``--rate`` and
loaded back with ``torch.jit.load``, then driven block by block by two melodies rendered
with FluidSynth (FluidR3_GM; seeds fixed): a flute (program 73) and a choir "ooh" voice
(program 53). For each, the octave shift (pitch-shift knob) and a loudness offset are
chosen as ``ddsp transfer --stream`` chooses them, and the script reports:

* f0 error: the median absolute difference, in cents, between the output's f0 and the
  input's f0 shifted by the knob (offline tracker on both, latency compensated; frames
  voiced in both), and the share of those frames within 50 cents;
* loudness: the correlation of the output's loudness with the input's (A-weighted dB per
  frame, floored at -80 dB, all frames);
* latency: the delay between the input's onsets and the output's (the lag, at 1 ms
  resolution, that best lines up their onset strengths: the rises of the 5 ms level),
  which includes the instrument's own attack; and, apart from any instrument's attack,
  the delay between pitch steps of the input (a steady tone stepping between two notes
  about every 0.5 s, jittered so that the steps meet the pipeline's frames at every
  phase) and the same steps in the output, played dry (reverb mix 0: the old note's tail
  would hide the step), both tracked by the offline tracker at 4000 frames/s, median and
  mean over steps; and the delay of note onsets (tone bursts from silence, dry) to the
  output's first sound within 30 dB of its level; beside the latency the file declares.
  A frame's sound fades in from the previous frame's over the hop before its time (the
  synthesiser interpolates frames linearly, as in training), so a note's first sound
  leads the declared latency by up to a hop, while a pitch step's midpoint meets it;
* gate: the output's RMS and peak (dBFS) on 2 s of silence and of white noise at -40 dBFS;
* tables: the signal-to-difference ratio of the pipeline's output with the decoder's
  tabulated input gates (the default) against the exact decoder, per melody.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from ddsp.data import random_melody, render_midi
from ddsp.export.formats import save
from ddsp.export.formats.nn_tilde import load_nn_tilde
from ddsp.features import f0 as track_f0
from ddsp.features import loudness
from ddsp.live import load_instrument
from ddsp.live.decoder import TABLE_SIZE, DecoderStep
from ddsp.live.pipeline import KNOBS
from ddsp.units import hz_to_midi

MELODIES = {  # name: (GM program, seed, seconds, low MIDI, high MIDI, min note, max note)
    "flute": (73, 7, 15.0, 62, 86, 0.25, 0.9),
    "voice": (53, 11, 15.0, 48, 72, 0.3, 1.2),
}
FRAME_RATE = 100.0
STEP_FRAME_RATE = 4000.0  # the pitch steps' tracking: 12 samples at 48 kHz


def _play(host, x: np.ndarray, block: int, knobs: list[float]) -> np.ndarray:
    host.reset()
    for attr, value in zip(host.attributes, knobs, strict=True):
        host.set(attr, value)
    audio = torch.from_numpy(np.pad(x, (0, host.latency)).astype(np.float32))[None, None]
    out = []
    with torch.no_grad():
        for i in range(0, audio.shape[-1], block):
            out.append(host.module.forward(audio[..., i : i + block]))
    return torch.cat(out, -1)[0, 0].numpy()


def _onset_strength(x: np.ndarray, rate: int) -> np.ndarray:
    """Rises of the level (dB, 5 ms windows every 1 ms), half-wave rectified."""
    hop, win = rate // 1000, int(0.005 * rate)
    frames = len(x) // hop - 5
    energy = np.array([np.mean(x[i * hop : i * hop + win] ** 2) for i in range(frames)])
    level = 10 * np.log10(energy + 1e-10)
    return np.maximum(np.diff(level, prepend=level[0]), 0.0)


def _onset_delay(x: np.ndarray, x_rate: int, y: np.ndarray, rate: int, max_ms: int = 200) -> float:
    """The delay of ``y`` behind ``x`` (samples at ``rate``, 1 ms resolution) that best
    lines their onsets up: the peak of the cross-correlation of their onset strengths."""
    a, b = _onset_strength(x, x_rate), _onset_strength(y, rate)
    n = min(len(a), len(b)) - max_ms
    scores = [float(np.dot(a[:n], b[lag : lag + n])) for lag in range(max_ms)]
    return float(np.argmax(scores)) * rate / 1000


def _jittered(seed: int, count: int, rate: int) -> np.ndarray:
    """``count`` event times (samples) about every 0.5 s from 0.5 s on, each later by up
    to 10 ms (seeded), so that the events meet the pipeline's frames at every phase."""
    jitter = np.random.default_rng(seed).uniform(0, 0.01 * rate, count).astype(int)
    return np.arange(1, count + 1) * (rate // 2) + jitter


def _print_delays(what: str, delays: list[float], events: str, frames: str, declared: int):
    print(
        f"{what}: output behind input by {np.median(delays):.0f} samples (median of "
        f"{len(delays)} {events}, {frames}; mean {np.mean(delays):.0f}, min "
        f"{min(delays):.0f}, max {max(delays):.0f}); declared {declared}"
    )


def _pitch_step_delays(host, block: int, knobs: list[float], rate: int) -> list[float]:
    """Input: a steady tone stepping between 330 and 440 Hz (continuous phase) every 0.5 s
    plus a jitter of up to 10 ms (seeded), so that the steps fall at every phase of the
    pipeline's frames. Per step, the delay of the output's f0 crossing (the two notes'
    geometric mean, shifted by the knob) behind the input's, both tracked at 4000
    frames/s."""
    n = 8 * rate
    steps = _jittered(3, 15, rate)
    hz = np.where(np.searchsorted(steps, np.arange(n), side="right") % 2 == 1, 330.0, 440.0)
    x = (0.2 * np.sin(2 * np.pi * np.cumsum(hz) / rate)).astype(np.float32)
    y = _play(host, x, block, knobs)[: n + host.latency]

    def crossings(sig: np.ndarray) -> np.ndarray:
        f, v = track_f0(torch.from_numpy(sig.copy())[None], rate, STEP_FRAME_RATE)
        up = (f[0] > 0).numpy() & (v[0] > 0.5).numpy()
        midi = hz_to_midi(f[0].clamp_min(1.0)).numpy()
        mid = np.median(midi[up])  # between the notes (about equal time on each)
        high = (midi > mid) & up
        edges = np.flatnonzero(np.diff(high.astype(int)) != 0) + 1
        return edges * rate / STEP_FRAME_RATE

    a, b = crossings(x), crossings(y)
    delays = []
    for e in a[1:]:  # the first edge is the tone's start
        later = b[(b > e) & (b < e + 0.25 * rate)]
        if len(later):
            delays.append(float(later[0] - e))
    return delays


def _burst_onset_delays(host, block: int, knobs: list[float], rate: int) -> list[float]:
    """Input: 0.3 s bursts of a 330 Hz tone from silence (1 ms fade-in), about every
    0.5 s, jittered by up to 10 ms (seeded). Per burst, the delay of the output's onset
    behind the burst's first sample: the output's onset is where its level (RMS over 1 ms)
    first comes within 30 dB of its median level over the bursts' middles; the
    instrument's own swell after that does not count."""
    n, burst, fade = 8 * rate, int(0.3 * rate), rate // 1000
    starts = _jittered(4, 14, rate)
    t = np.arange(burst)
    tone = 0.2 * np.sin(2 * np.pi * 330 * t / rate) * np.minimum(1.0, t / fade)
    x = np.zeros(n, np.float32)
    for s0 in starts:
        x[s0 : s0 + burst] = tone
    y = _play(host, x, block, knobs)[: n + host.latency]
    hop = rate // 1000
    frames = len(y) // hop
    level = 10 * np.log10(np.mean(y[: frames * hop].reshape(frames, hop) ** 2, 1) + 1e-20)
    middles = [level[(s0 + host.latency) // hop + 100 : (s0 + host.latency) // hop + 200]
               for s0 in starts]  # fmt: skip
    ref = float(np.median(np.concatenate(middles)))
    delays = []
    for s0 in starts:
        above = np.flatnonzero(level[s0 // hop : (s0 + host.latency + burst) // hop] > ref - 30)
        if len(above):  # the first such frame's start, behind the burst's first sample
            delays.append(float((s0 // hop + above[0]) * hop - s0))
    if not delays:
        raise SystemExit("note onsets: the output never came within 30 dB of its level")
    return delays


def _table_snr(inst, x: np.ndarray, rate: int, values: dict[str, float]) -> float:
    """dB: the eager pipeline's output (tabulated decoder inputs, the default) against the
    same pipeline with the exact decoder (:class:`ddsp.live.decoder.DecoderStep` with
    ``table_size=0``), in 4096-sample blocks."""
    outs = []
    for table_size in (TABLE_SIZE, 0):
        pipe = inst.pipeline(sample_rate=rate, block_size=4096, defaults=values)
        pipe.decoder = DecoderStep(inst.model, table_size)
        audio = torch.from_numpy(x)[None, None]
        with torch.no_grad():
            blocks = [pipe(audio[..., i : i + 4096], {}) for i in range(0, len(x), 4096)]
        outs.append(torch.cat(blocks, -1).double())
    noise = float((outs[0] - outs[1]).square().mean())
    return 10 * math.log10(float(outs[1].square().mean()) / max(noise, 1e-30))


def _knobs(model, values: dict[str, float]) -> list[float]:
    specs = {s.name: s for s in KNOBS}
    return [float(specs[k].to_normalized(values[k])) for k in model.knob_keys]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instrument", default="violin")
    p.add_argument("--rate", type=int, default=48_000)
    p.add_argument("--block", type=int, default=512)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    inst = load_instrument(args.instrument)
    stats = inst.statistics
    model = inst.export_model(block_size=args.block, sample_rate=args.rate)
    rate = args.rate
    specs = {s.name: s for s in KNOBS}
    defaults = {  # the knobs as exported (the reverb's mix as trained), physical units
        k: float(specs[k].to_physical(u)) for k, u in zip(model.knob_keys, model.knob_defaults)
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live.ts"
        save(model, path, "nn_tilde", name=args.instrument)
        host = load_nn_tilde(path)
        print(
            f"{args.instrument}: nn~ file at {rate} Hz, blocks of {args.block}, declared "
            f"latency {host.latency} samples ({1000 * host.latency / rate:.1f} ms)"
        )
        print(
            f"{'input':<8} {'shift':>6} {'offset':>7} {'f0 err':>8} {'<50c':>6} "
            f"{'loud r':>7} {'onset delay':>9} {'declared':>8} {'tables':>7}"
        )
        for name, (program, seed, seconds, lo, hi, n0, n1) in MELODIES.items():
            notes = random_melody(seed, seconds, lo, hi, min_note=n0, max_note=n1)
            x = render_midi(notes, program, rate).astype(np.float32)
            xt = torch.from_numpy(x)[None]
            hz, voicing = track_f0(xt, rate, FRAME_RATE)
            loud_in = loudness(xt, rate, FRAME_RATE)
            voiced = voicing > 0.5
            octaves = round((stats["f0_midi_mean"] - float(hz_to_midi(hz[voiced]).mean())) / 12)
            audible = loud_in > -70
            offset = float(stats["loudness_db_mean"] - loud_in[audible].mean())
            offset = max(-24.0, min(24.0, offset))
            values = {**defaults, "pitch_shift_st": 12.0 * octaves, "loudness_offset_db": offset}
            y_full = _play(host, x, args.block, _knobs(model, values))
            y = y_full[host.latency : host.latency + len(x)]
            yt = torch.from_numpy(y.copy())[None]
            hz_out, voicing_out = track_f0(yt, rate, FRAME_RATE)
            both = voiced & (voicing_out > 0.5)
            cents = 1200 * torch.log2(hz_out[both] / (hz[both] * 2.0**octaves)).abs()
            loud_out = loudness(yt, rate, FRAME_RATE)
            a = loud_in.clamp_min(-80).flatten().numpy()
            b = loud_out.clamp_min(-80).flatten().numpy()
            r = float(np.corrcoef(a, b)[0, 1])
            streamed = y_full[: len(x) + host.latency]
            delay = _onset_delay(x, rate, streamed, rate)
            within = 100 * float((cents < 50).float().mean())
            snr = _table_snr(inst, x, rate, values)
            print(f"{name:<8} {12 * octaves:>+5d}st {offset:>+6.1f}dB "
                  f"{float(cents.median()):>6.1f}c {within:>5.1f}% {r:>7.3f} "
                  f"{delay:>9.0f} {host.latency:>8d} {snr:>5.1f}dB")  # fmt: skip
        dry = _knobs(model, {**defaults, "mix": 0.0})  # a reverb tail would hide the step
        steps = _pitch_step_delays(host, args.block, dry, rate)
        frames = f"{1000 / STEP_FRAME_RATE:g} ms frames"
        _print_delays("pitch steps", steps, "steps", frames, host.latency)
        onsets = _burst_onset_delays(host, args.block, dry, rate)
        _print_delays("note onsets", onsets, "tone bursts from silence", "1 ms frames",
                      host.latency)  # fmt: skip
        gen = np.random.default_rng(0)
        for name, x in (("silence", np.zeros(2 * rate, np.float32)),
                        ("noise -40 dBFS", (gen.standard_normal(2 * rate) * 0.01).astype(
                            np.float32))):  # fmt: skip
            y = _play(host, x, args.block, _knobs(model, defaults))
            rms = 20 * math.log10(float(np.sqrt(np.mean(y**2))) + 1e-12)
            peak = 20 * math.log10(float(np.abs(y).max()) + 1e-12)
            print(f"gate, {name}: output RMS {rms:.1f} dBFS, peak {peak:.1f} dBFS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
