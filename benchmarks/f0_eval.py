"""f0 accuracy on real sampled instruments: MIDI melodies rendered by FluidSynth.

Needs Debian's ``fluidsynth`` and ``fluid-soundfont-gm`` (FluidR3_GM, MIT licence)::

    sudo apt-get install fluidsynth fluid-soundfont-gm
    python benchmarks/f0_eval.py            # prints a table per instrument

Truth: the MIDI note's equal-tempered pitch on frames from 50 ms after its onset to
30 ms before its release (attacks and releases have no single pitch); frames outside
every note (plus 150 ms of release) are unvoiced. Metrics on truth-voiced frames:
raw pitch accuracy (within 50 cents), median absolute error in cents, octave errors
(|error| > 600 cents), voicing recall; false alarms on truth-unvoiced frames. The speed
is ddsp.features.f0 on the whole set at the render rate, against the audio's duration.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ddsp.data import random_melody, render_midi
from ddsp.features import f0

# name: (General MIDI program, lowest and highest MIDI pitch of the melodies)
INSTRUMENTS = {
    "violin": (40, 55, 88),
    "cello": (42, 36, 69),
    "flute": (73, 60, 93),
    "oboe": (68, 58, 86),
    "clarinet": (71, 50, 82),
    "alto sax": (65, 49, 80),
    "trumpet": (56, 55, 82),
    "french horn": (60, 41, 72),
    "voice (oohs)": (53, 48, 72),
}


def truth(notes, n_frames: int, frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: pitch in Hz (0 where none), and a mask of frames to score (1) or count
    as unvoiced (0) or ignore (-1: attacks, releases)."""
    t = np.arange(n_frames) / frame_rate
    hz = np.zeros(n_frames)
    state = np.zeros(n_frames, dtype=int)
    for n in notes:
        sounding = (t >= n.start) & (t < n.end + 0.15)
        state[sounding] = -1
    for n in notes:
        core = (t >= n.start + 0.05) & (t < n.end - 0.03)
        hz[core] = n.hz
        state[core] = 1
    return hz, state


def evaluate(seconds: float, melodies: int, sample_rate: int, seed: int) -> list[dict]:
    rows = []
    for name, (program, low, high) in INSTRUMENTS.items():
        errs, recall, false_alarm, audio_s, f0_s = [], [], [], 0.0, 0.0
        for m in range(melodies):
            notes = random_melody(seed + 100 * m + program, seconds, low, high)
            audio = torch.from_numpy(render_midi(notes, program, sample_rate))
            t0 = time.perf_counter()
            hz, voicing = f0(audio, sample_rate)
            f0_s += time.perf_counter() - t0
            audio_s += audio.shape[-1] / sample_rate
            want, state = truth(notes, hz.shape[-1], 250.0)
            got, voiced = hz[0].numpy(), voicing[0].numpy() > 0.5
            scored = state == 1
            errs.append(1200 * np.log2(got[scored] / want[scored]))
            recall.append(voiced[scored])
            false_alarm.append(voiced[state == 0])
        e = np.concatenate(errs)
        rows.append(
            {
                "instrument": name,
                "frames": int(e.size),
                "within_50c": float(np.mean(np.abs(e) <= 50)),
                "median_abs_cents": float(np.median(np.abs(e))),
                "octave_errors": float(np.mean(np.abs(e) > 600)),
                "voicing_recall": float(np.mean(np.concatenate(recall))),
                "false_alarms": float(np.mean(np.concatenate(false_alarm))),
                "realtime_x": audio_s / f0_s,
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="per melody")
    p.add_argument("--melodies", type=int, default=3, help="per instrument")
    p.add_argument("--sample-rate", type=int, default=44_100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(2)
    rows = evaluate(args.seconds, args.melodies, args.sample_rate, args.seed)
    print(
        f"ddsp.features.f0 on FluidR3_GM renders: {args.melodies} melodies x {args.seconds:g} s "
        f"per instrument at {args.sample_rate} Hz, 250 frames/s, {torch.get_num_threads()} threads"
    )
    head = f"{'instrument':<20} {'frames':>7} {'<=50c':>7} {'median c':>9} {'octave':>7}"
    head += f" {'v.recall':>9} {'v.false':>8} {'x realtime':>11}"
    print(head)
    for r in rows:
        print(
            f"{r['instrument']:<20} {r['frames']:>7} {100 * r['within_50c']:6.1f}% "
            f"{r['median_abs_cents']:9.2f} {100 * r['octave_errors']:6.2f}% "
            f"{100 * r['voicing_recall']:8.1f}% {100 * r['false_alarms']:7.1f}% "
            f"{r['realtime_x']:10.0f}x"
        )


if __name__ == "__main__":
    main()
