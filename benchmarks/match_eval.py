"""``ddsp match`` against effect chains with known settings: pedalboard chains of 2-4 effects
(EQ, compressor, delay, reverb, distortion, chorus) applied to 6 s of 48 kHz stereo.

    python benchmarks/match_eval.py                    # every chain, table on stdout
    python benchmarks/match_eval.py --only speech_eq_comp_delay --steps 60 --threads 2
    python benchmarks/match_eval.py --json out/match_eval.json

Material, made here and deterministic: speech-like phrases (glottal pulse trains with
vibrato through three vowel formants, fricative noise bursts, phrase levels over 12 dB)
and music (two FluidR3_GM melodies, piano and nylon guitar, panned apart; needs Debian's
``fluidsynth`` and ``fluid-soundfont-gm``). Each chain runs :func:`ddsp.match.match_chain`
on the whole pair and reports the spectral distance before, after the analysis and after
the fit, the time, and the error of each recovered parameter against the chain's setting.

How pedalboard's processors map onto the library's, and so what "the error" means:

* ``HighShelfFilter``/``LowShelfFilter``/``PeakFilter`` are JUCE's RBJ designs, the same
  as :class:`ddsp.ParametricEQ`'s bands (shelves at q = 0.7071, pedalboard's default) with
  its cuts off (the analysis switches off cuts it does not find): band gains compare
  directly. A band of the fit is matched to the chain's band of the same kind (peaks: the
  nearest in log frequency); every other band should stay under 3 dB.
* ``Compressor`` is JUCE's: the level (``|x|`` per channel) is smoothed by a one-pole with
  time constants ``attack_ms / 2 pi`` and ``release_ms / 2 pi``, then a hard-knee curve
  gives the gain: the library's compressor with ``detector="envelope"``, channels apart,
  10-90 % times ``ln 9 / 2 pi`` of pedalboard's (which the analysis picks when the pair
  says so). Threshold and ratio compare directly; times are reported, not scored.
* ``Delay`` is ``(1 - mix) x + mix y`` with ``y`` the echo line, the library's mix law;
  its delay time compares directly (pedalboard's line is whole samples, truncated:
  0.12 s is 5759 samples at 48 kHz).
* ``Reverb`` is JUCE's Freeverb, the library's :class:`ddsp.Freeverb`: the score is the
  RT60 (T20 of the wet-only impulse response) of the fitted processor against that of the
  chain's, each measured the same way.
* ``Distortion`` is ``tanh(drive x)``, :class:`ddsp.Distortion` at mix 1 and bias 0;
  ``Chorus`` is JUCE's (negative feedback, delay ``centre + 10 depth`` ms swept from LFO
  phase 0.5): :class:`ddsp.Chorus` with ``lfo_phase=0.5``, scored by distance only.

Timing is wall time on this machine with its load, which the header prints (``uptime``);
on a shared machine read it with that.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

SR = 48_000
VOWELS = {  # F1, F2, F3 in Hz (Peterson & Barney averages)
    "a": (730, 1090, 2440),
    "i": (270, 2290, 3010),
    "u": (300, 870, 2240),
    "e": (530, 1840, 2480),
    "o": (570, 840, 2410),
}


def _resonator(x: np.ndarray, freq: float, bandwidth: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    r = math.exp(-math.pi * bandwidth / sr)
    return lfilter([1 - r], [1, -2 * r * math.cos(2 * math.pi * freq / sr), r * r], x)


def speech_like(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Speech-like mono signal: syllables of a glottal pulse train (f0 95-210 Hz with
    vibrato, -6 dB/octave tilt) through three vowel formants, fricative bursts (3-9 kHz
    noise), phrases 0 to -12 dB apart, pauses. Peak -3 dBFS. ``(time,)`` float32."""
    from scipy.signal import butter, lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n)
    t = 0.15
    fric_b, fric_a = butter(2, [3000 / (sr / 2), min(0.95, 9000 / (sr / 2))], "band")
    while t < seconds - 0.3:
        phrase = 10 ** (rng.uniform(-12, 0) / 20)
        for _ in range(int(rng.integers(2, 6))):
            dur = rng.uniform(0.12, 0.3)
            if t + dur > seconds - 0.1:
                break
            i0, i1 = int(t * sr), int((t + dur) * sr)
            tt = np.arange(i1 - i0) / sr
            f0 = rng.uniform(95, 210) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(1, 3) * tt))
            phase = np.cumsum(2 * np.pi * f0 / sr)
            pulses = np.zeros(i1 - i0)
            pulses[np.nonzero(np.diff(np.floor(phase / (2 * np.pi))) > 0)[0]] = 1.0
            src = lfilter([1.0], [1, -0.97], pulses) + 0.02 * rng.standard_normal(i1 - i0)
            vowel = VOWELS[str(rng.choice(list(VOWELS)))]
            y = sum(_resonator(src, f, 60 + 40 * k, sr) / (k + 1) for k, f in enumerate(vowel))
            out[i0:i1] += phrase * np.sin(np.pi * np.arange(i1 - i0) / (i1 - i0)) ** 0.6 * y
            t += dur
            if rng.uniform() < 0.35:
                fd = rng.uniform(0.05, 0.12)
                j0, j1 = int(t * sr), int((t + fd) * sr)
                if j1 < n:
                    noise = lfilter(fric_b, fric_a, rng.standard_normal(j1 - j0))
                    out[j0:j1] += 0.3 * phrase * noise * np.hanning(j1 - j0)
                t += fd
            t += rng.uniform(0.01, 0.06)
        t += rng.uniform(0.15, 0.45)
    return (out / np.abs(out).max() * 10 ** (-3 / 20)).astype(np.float32)


def speech_stereo(seconds: float, seed: int = 0) -> np.ndarray:
    """Two microphones on one talker: right 0.9x and 0.25 ms later. ``(2, time)``."""
    x = speech_like(seconds, SR, seed)
    right = 0.9 * np.concatenate([np.zeros(12, np.float32), x[:-12]])
    return np.stack([x, right]).astype(np.float32)


def music_stereo(seconds: float, seed: int = 0) -> np.ndarray:
    """Piano (left of centre) and nylon guitar (right) melodies from FluidR3_GM. ``(2, time)``."""
    from ddsp.data import random_melody, render_midi

    n = int(seconds * SR)
    parts = []
    for program, low, high, s in ((0, 48, 79, seed), (24, 40, 71, seed + 1)):
        notes = random_melody(s, seconds, low, high, min_note=0.15, max_note=0.6)
        a = render_midi(notes, program, SR)[:n]
        parts.append(np.pad(a, (0, n - a.shape[0])))
    left = 0.8 * parts[0] + 0.3 * parts[1]
    right = 0.3 * parts[0] + 0.8 * parts[1]
    x = np.stack([left, right])
    return (x / np.abs(x).max() * 10 ** (-3 / 20)).astype(np.float32)


@dataclass
class Case:
    """A chain with known settings: pedalboard plugins, the library's chain spec to fit,
    and what to score (``truth``)."""

    name: str
    material: str
    board: list
    spec: str
    truth: dict = field(default_factory=dict)


def cases() -> list[Case]:
    import pedalboard as pb

    return [
        Case(
            "speech_eq_comp_delay",
            "speech",
            [
                pb.HighShelfFilter(4000, 6.0, 0.7071),
                pb.Compressor(threshold_db=-24, ratio=4, attack_ms=5, release_ms=100),
                pb.Delay(delay_seconds=0.18, feedback=0.35, mix=0.3),
            ],
            "ParametricEQ | Compressor | Delay | Gain",
            {
                "eq": [("high_shelf", 4000.0, 6.0)],
                "compressor": (-24.0, 4.0),
                "delay_ms": 180.0,
            },
        ),
        Case(
            "music_peak_reverb",
            "music",
            [
                pb.PeakFilter(1200, -5.0, 1.5),
                pb.Reverb(room_size=0.7, damping=0.3, wet_level=0.25, dry_level=0.8, width=1.0),
            ],
            "ParametricEQ | Freeverb | Gain",
            {"eq": [("peak", 1200.0, -5.0)], "reverb": ("Reverb", 0.7, 0.3)},
        ),
        Case(
            "speech_comp_drive_shelf",
            "speech",
            [
                pb.Compressor(threshold_db=-20, ratio=3, attack_ms=10, release_ms=150),
                pb.Distortion(drive_db=15),
                pb.LowShelfFilter(200, -4.0, 0.7071),
            ],
            "Compressor | Distortion | ParametricEQ | Gain",
            {"eq": [("low_shelf", 200.0, -4.0)], "compressor": (-20.0, 3.0)},
        ),
        Case(
            "music_chorus_delay",
            "music",
            [
                pb.Chorus(rate_hz=0.8, depth=0.3, centre_delay_ms=8.0, feedback=0.0, mix=0.5),
                pb.Delay(delay_seconds=0.3, feedback=0.4, mix=0.25),
            ],
            "Chorus | Delay | Gain",
            {"delay_ms": 300.0},
        ),
        Case(
            "speech_eq_idle_comp_reverb_gain",
            "speech",
            [
                pb.PeakFilter(2500, 4.0, 2.0),
                pb.Compressor(threshold_db=0, ratio=4, attack_ms=5, release_ms=100),
                pb.Reverb(room_size=0.5, damping=0.5, wet_level=0.2, dry_level=0.7, width=1.0),
                pb.Gain(gain_db=-3.0),
            ],
            "ParametricEQ | Compressor | Freeverb | Gain",
            {
                "eq": [("peak", 2500.0, 4.0)],
                "compressor": "idle",
                "reverb": ("Reverb", 0.5, 0.5),
            },
        ),
        Case(
            "music_shelf_echo",
            "music",
            [
                pb.LowShelfFilter(150, 5.0, 0.7071),
                pb.Delay(delay_seconds=0.12, feedback=0.6, mix=0.4),
            ],
            "ParametricEQ | Delay",
            {"eq": [("low_shelf", 150.0, 5.0)], "delay_ms": 120.0},
        ),
    ]


# --------------------------------------------------------------------------- scoring


def _rt60(ir: np.ndarray) -> float:
    from ddsp.match.analysis import decay_rt60

    return decay_rt60(torch.from_numpy(ir.astype(np.float64)), SR)[0]


def _pedalboard_rt60(room: float, damping: float) -> float:
    import pedalboard as pb

    x = np.zeros((2, 4 * SR), np.float32)
    x[:, 0] = 1.0
    rev = pb.Reverb(room_size=room, damping=damping, wet_level=1.0, dry_level=0.0, width=1.0)
    return _rt60(rev(x, SR).mean(0))


def _fitted_rt60(proc) -> float:
    x = torch.zeros(1, 2, 4 * SR)
    x[..., 0] = 1.0
    mix = float(proc.mix.detach())
    proc.mix = 1.0
    with torch.no_grad():
        ir = proc(x)[0].mean(0).numpy()
    proc.mix = mix
    return _rt60(ir)


def score(case: Case, chain) -> dict:
    """Errors of the recovered parameters against ``case.truth`` and pass/fail per target."""
    out: dict = {}
    by_kind = {type(p).__name__: p for p in chain}
    if "delay_ms" in case.truth:
        got = by_kind["Delay"].parameter_values()["delay_ms"]
        err = abs(got - case.truth["delay_ms"])
        out["delay_ms"] = {"truth": case.truth["delay_ms"], "fitted": got, "error": err,
                           "pass": err <= 2.0}  # fmt: skip
    if "eq" in case.truth:
        v = by_kind["ParametricEQ"].parameter_values()
        slots = {"low_shelf": v["low_shelf_db"], "high_shelf": v["high_shelf_db"]}
        peaks = {f"peak{i}": (v[f"peak{i}_hz"], v[f"peak{i}_db"]) for i in (1, 2, 3)}
        used = set()
        bands = []
        for kind, hz, db in case.truth["eq"]:
            if kind == "peak":
                name = min(peaks, key=lambda k: abs(math.log(peaks[k][0] / hz)))
                got = peaks[name][1]
            else:
                name, got = kind, slots[kind]
            used.add(name)
            bands.append({"band": name, "truth_db": db, "fitted_db": got,
                          "error_db": abs(got - db), "pass": abs(got - db) <= 1.5})  # fmt: skip
        others = {n: g for n, g in slots.items() if n not in used}
        others.update({n: g for n, (_, g) in peaks.items() if n not in used})
        worst = max(others.items(), key=lambda kv: abs(kv[1]))
        out["eq"] = {
            "bands": bands,
            "largest_other_db": {"band": worst[0], "db": worst[1], "pass": abs(worst[1]) <= 3.0},
        }
    if "compressor" in case.truth:
        v = by_kind["Compressor"].parameter_values()
        if case.truth["compressor"] == "idle":
            out["compressor"] = {"idle": True, "threshold_db": v["threshold_db"]}
        else:
            t, r = case.truth["compressor"]
            out["compressor"] = {
                "threshold_truth": t,
                "threshold_fitted": v["threshold_db"],
                "threshold_error": abs(v["threshold_db"] - t),
                "ratio_truth": r,
                "ratio_fitted": v["ratio"],
                "ratio_error": abs(v["ratio"] - r),
                "pass": abs(v["threshold_db"] - t) <= 3.0 and abs(v["ratio"] - r) <= 1.0,
            }
    if "reverb" in case.truth:
        _, room, damping = case.truth["reverb"]
        truth = _pedalboard_rt60(room, damping)
        got = _fitted_rt60(by_kind["Freeverb"])
        out["reverb_rt60_s"] = {"truth": truth, "fitted": got, "error": abs(got / truth - 1),
                                "pass": abs(got / truth - 1) <= 0.2}  # fmt: skip
    return out


def run_case(case: Case, material: dict, *, steps: int, seed: int) -> dict:
    import pedalboard as pb

    import ddsp
    from ddsp.match import align_pair, match_chain

    dry = material[case.material]
    wet = pb.Pedalboard(case.board)(dry, SR)
    pair = align_pair(dry, wet, SR, max_offset_ms=20.0)
    chain = ddsp.presets.load_chain(case.spec, SR)
    start = time.perf_counter()
    cpu = time.process_time()
    res = match_chain(
        chain,
        torch.from_numpy(pair.dry),
        torch.from_numpy(pair.wet),
        steps=steps,
        seed=seed,
        progress=False,
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    statuses = {}
    for i, proc in enumerate(chain):
        for name, d in res.determination.get(i, {}).items():
            if d.status in ("undetermined", "loosely determined"):
                statuses[f"{type(proc).__name__}.{name}"] = d.status
    return {
        "name": case.name,
        "spec": case.spec,
        "offset_samples": pair.offset_samples,
        "before": res.distance_before,
        "analysis": res.distance_analysis,
        "after": res.distance_after,
        "reduction": res.reduction,
        "analysis_reduction": 1 - res.distance_analysis / res.distance_before,
        "verdict": res.verdict,
        "seconds": wall,
        "cpu_seconds": cpu,
        "analysis_seconds": res.analysis_seconds,
        "fit_seconds": res.fit_seconds,
        "report_seconds": res.report_seconds,
        "steps": res.iterations,
        "steps_per_second": res.steps_per_second,
        "scores": score(case, chain),
        "not_determined": statuses,
        "fitted": [{type(p).__name__: p.parameter_values()} for p in chain],
        "notes": res.notes,
    }


def _load() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _line(r: dict) -> str:
    s = r["scores"]
    parts = []
    if "delay_ms" in s:
        parts.append(f"delay err {s['delay_ms']['error']:.2f} ms")
    if "eq" in s:
        parts += [f"{b['band']} err {b['error_db']:.2f} dB" for b in s["eq"]["bands"]]
        o = s["eq"]["largest_other_db"]
        parts.append(f"other max {o['db']:+.1f} dB ({o['band']})")
    if "compressor" in s:
        c = s["compressor"]
        if c.get("idle"):
            state = r["not_determined"].get("Compressor.threshold_db", "determined")
            parts.append(f"comp idle: threshold {state}")
        else:
            parts.append(f"thr err {c['threshold_error']:.1f} dB, ratio err {c['ratio_error']:.2f}")
    if "reverb_rt60_s" in s:
        v = s["reverb_rt60_s"]
        parts.append(f"RT60 {v['fitted']:.2f}/{v['truth']:.2f} s ({100 * v['error']:.0f}%)")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", help="chain names to run")
    p.add_argument("--steps", type=int, default=60, help="gradient steps per fit")
    p.add_argument("--seconds", type=float, default=6.0, help="material length")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = [c for c in cases() if not args.only or c.name in args.only]
    needed = {c.material for c in chosen}
    material = {}
    if "speech" in needed:
        material["speech"] = speech_stereo(args.seconds, args.seed)
    if "music" in needed:
        material["music"] = music_stereo(args.seconds, args.seed)
    print(
        f"# match_eval: {len(chosen)} chains, {args.seconds:g} s of {SR} Hz stereo, "
        f"{args.steps} steps, {torch.get_num_threads()} torch threads, "
        f"{os.cpu_count()} CPUs, load average {_load()}"
    )
    header = (
        f"{'chain':34s} {'before':>7s} {'analysis':>8s} {'after':>7s} {'cut':>5s} "
        f"{'time s':>7s} {'steps/s':>7s}  parameters"
    )
    print(header)
    results = []
    for case in chosen:
        r = run_case(case, material, steps=args.steps, seed=args.seed)
        results.append(r)
        print(
            f"{r['name']:34s} {r['before']:7.3f} {r['analysis']:8.3f} {r['after']:7.3f} "
            f"{100 * r['reduction']:4.0f}% {r['seconds']:7.1f} {r['steps_per_second']:7.2f}  "
            f"{_line(r)}",
            flush=True,
        )
    print(f"# load average at the end {_load()}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"load_end": _load(), "results": results}, f, indent=2, default=float)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
