"""Timbre transfer end to end: build a violin training set, train, play a flute melody.

1. Renders about 10 minutes of violin melodies with FluidSynth and the FluidR3_GM sound
   font (MIT licence; Debian packages ``fluidsynth`` and ``fluid-soundfont-gm``), plus a
   flute melody as the transfer input.
2. ``ddsp prepare``: 16 kHz, 4 s examples, f0 and loudness at 250 frames/s.
3. ``ddsp train`` within a time budget on this machine's CPU (or GPU).
4. ``ddsp transfer``: the flute melody played by the trained violin, and a report:
   validation spectral loss, the median f0 error between the (octave-shifted) input and
   the output on voiced frames (cents), loudness correlation, training throughput.

    python demos/timbre_transfer.py --out out/timbre --train-minutes 28
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ddsp.data import random_melody, render_midi
from ddsp.features import f0, loudness
from ddsp.training import load_config, prepare, train
from ddsp.training.transfer import transfer

SR = 16_000


def build_data(out: Path, minutes: float) -> tuple[Path, Path]:
    audio_dir = out / "violin_audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    n = int(round(minutes * 60 / 20))
    for i in range(n):
        path = audio_dir / f"violin_{i:03d}.wav"
        if not path.exists():
            notes = random_melody(1000 + i, 20.0, 55, 88, min_note=0.2, max_note=1.2)
            sf.write(path, render_midi(notes, 40, SR), SR)
    flute = out / "flute_melody.wav"
    if not flute.exists():
        notes = random_melody(7, 15.0, 62, 86, min_note=0.25, max_note=0.9)
        sf.write(flute, render_midi(notes, 73, SR), SR)
    return audio_dir, flute


def evaluate(out_audio: np.ndarray, info: dict) -> dict:
    y = torch.from_numpy(out_audio)[None]
    hz_out, v_out = f0(y, SR)
    loud_out = loudness(y, SR)
    hz_in, v_in, loud_in = info["input_f0_hz"], info["input_voicing"], info["input_loudness_db"]
    n = min(hz_out.shape[1], hz_in.shape[1])
    both = (v_in[:, :n] > 0.5) & (v_out[:, :n] > 0.5)
    cents = (1200 * torch.log2(hz_out[:, :n] / hz_in[:, :n]))[both].abs()
    audible = loud_in[:, :n] > -60
    a, b = loud_in[:, :n][audible].numpy(), loud_out[:, :n][audible].numpy()
    return {
        "f0_median_abs_cents": float(cents.median()) if cents.numel() else None,
        "f0_voiced_frames": int(both.sum()),
        "loudness_correlation": float(np.corrcoef(a, b)[0, 1]) if a.size > 2 else None,
        "octave_shift": info["octaves"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("out/timbre"))
    p.add_argument("--data-minutes", type=float, default=10.0)
    p.add_argument("--train-minutes", type=float, default=28.0)
    p.add_argument("--set", action="append", default=[], help="config override")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        audio_dir, flute = build_data(args.out, args.data_minutes)
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        sys.exit(f"cannot render the data set: {e}")
    manifest = prepare([audio_dir], args.out / "data", sample_rate=SR)
    print("data:", json.dumps(manifest["statistics"]))
    defaults = [
        "model.hidden=256",
        "model.gru=256",
        "train.lr=0.002",
        "train.steps=1000000",
        f"train.max_minutes={args.train_minutes}",
        "train.val_every=200",
        "train.checkpoint_every=200",
        "train.log_every=20",
    ]
    cfg = load_config(None, defaults + args.set)
    summary = train(args.out / "data", args.out / "run", cfg, overwrite=True)
    print("train:", json.dumps(summary, default=str))
    y, sr, info = transfer(args.out / "run", flute)
    sf.write(args.out / "flute_as_violin.wav", y, sr)
    report = {
        "data": manifest["statistics"],
        "training": summary,
        "config": {"model": cfg.model.as_dict(), "train": vars(cfg.train)},
        "transfer": evaluate(y, info),
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps(report["transfer"], indent=1))


if __name__ == "__main__":
    main()
