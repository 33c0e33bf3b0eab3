"""Resynthesis quality per instrument: ``ddsp resynth`` on FluidR3_GM phrases.

Needs Debian's ``fluidsynth`` and ``fluid-soundfont-gm``. For each instrument a 5 s
phrase is rendered (22.05 kHz), resynthesized with the given time budget, and the
report's figures are printed: the multi-resolution log-magnitude spectral distance of the
resynthesis and of a plain sine at the estimated f0 with the original's loudness (goal:
ratio under 0.5), the median f0 error of the resynthesis (goal: under 10 cents) and the
mean loudness error.

    python benchmarks/resynth_eval.py --seconds 40
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import soundfile as sf

from ddsp.data import random_melody, render_midi
from ddsp.resynth import resynthesize

INSTRUMENTS = {
    "violin": (40, 55, 84),
    "cello": (42, 40, 64),
    "flute": (73, 62, 88),
    "clarinet": (71, 52, 79),
    "trumpet": (56, 57, 79),
    "voice (oohs)": (53, 52, 72),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=40.0, help="fit budget per phrase")
    p.add_argument("--rate", type=int, default=22_050)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (program, low, high) in INSTRUMENTS.items():
            notes = random_melody(program, 5.0, low, high, min_note=0.3, max_note=0.9)
            audio = render_midi(notes, program, args.rate)[: int(5.5 * args.rate)]
            src = Path(tmp) / f"{program}.wav"
            sf.write(src, audio, args.rate)
            rep, _ = resynthesize(src, Path(tmp) / "out", rate=args.rate, seconds=args.seconds,
                                  chunk_s=8.0, group=8)  # fmt: skip
            rows.append((name, rep))
    print(f"ddsp resynth on FluidR3_GM phrases (5.5 s, {args.rate} Hz), {args.seconds:g} s budget")
    head = f"{'instrument':<14} {'dist':>6} {'sine':>6} {'ratio':>6} {'f0 c':>6}"
    print(head + f" {'loud dB':>8} {'iters':>6}")
    for name, r in rows:
        print(
            f"{name:<14} {r['spectral_distance']:6.3f} {r['sine_baseline_spectral_distance']:6.3f} "
            f"{r['ratio_to_baseline']:6.3f} {r['f0_median_abs_cents']:6.2f} "
            f"{r['loudness_mean_abs_db']:8.2f} {r['iterations']:6d}"
        )


if __name__ == "__main__":
    main()
