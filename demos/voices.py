"""Play the shipped instrument presets (voices/*) on a short melody and write WAV files.

python demos/voices.py --out out/voices
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import soundfile as sf
import torch

import ddsp

MELODY = [57, 60, 64, 67, 64, 60]  # MIDI notes, one every half second


def melody_controls(seconds: float, sample_rate: int, frame_rate: int = 250):
    """f0 per frame and a per-sample gate for the melody, as ``(1, frames)``, ``(1, T)``."""
    n_t = int(seconds * sample_rate)
    n_frames = max(2, int(seconds * frame_rate))
    note_at = torch.clamp((torch.arange(n_frames) / frame_rate / 0.5).long(), max=len(MELODY) - 1)
    f0 = ddsp.units.midi_to_hz(torch.tensor(MELODY, dtype=torch.float32)[note_at])[None]
    t = torch.arange(n_t) / sample_rate
    gate = (torch.remainder(t, 0.5) < 0.35).float() * (t < 0.5 * len(MELODY))
    return f0, gate[None]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.5)
    p.add_argument("--sample-rate", type=int, default=48_000)
    p.add_argument("--out", type=Path, help="folder for the WAV files (omit: no files)")
    args = p.parse_args()
    f0, gate = melody_controls(args.seconds, args.sample_rate)
    n_t = gate.shape[-1]
    for name in (n for n in ddsp.list_presets() if n.startswith("voices/")):
        voice = ddsp.load_preset(name, sample_rate=args.sample_rate)
        with torch.no_grad():
            y = voice(n_t, f0_hz=f0, gate=gate)[0, 0]
        peak = float(y.abs().max())
        rms_db = 20 * math.log10(max(float(y.pow(2).mean().sqrt()), 1e-12))
        print(f"{name:<24} peak {peak:5.2f}  RMS {rms_db:6.1f} dBFS")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            path = args.out / f"{name.split('/')[1]}.wav"
            tmp = path.with_name(path.name + ".part")
            sf.write(tmp, (y / max(peak, 1e-9) * 0.8).numpy(), args.sample_rate, format="WAV")
            tmp.replace(path)


if __name__ == "__main__":
    main()
