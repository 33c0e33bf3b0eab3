"""``ddsp transfer RUN_DIR INPUT OUT``: play a trained instrument with another's melody.

f0 and loudness are extracted from INPUT, adapted to the trained instrument as the DDSP
demo does -- f0 shifted by whole octaves toward the training set's mean pitch, loudness
mapped so its mean and spread match the training set's (audible frames) -- then
synthesised by the model and written at the model's sample rate. ``--octaves`` and
``--loudness-shift`` override the automatic choices.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ..features import f0, loudness
from ..features._frames import resample
from ..io import CommandError, read_audio, write_audio
from .train import load_run

__all__ = ["adapt", "transfer", "main"]


def adapt(
    f0_hz: torch.Tensor,
    voicing: torch.Tensor,
    loud_db: torch.Tensor,
    stats: dict,
    *,
    octaves: int | None = None,
    loudness_shift: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Octave-shift f0 and match loudness statistics to the training set's ``stats``."""
    voiced = voicing > 0.5
    if octaves is None:
        if bool(voiced.any()) and stats.get("f0_midi_mean") is not None:
            midi = 69 + 12 * torch.log2(f0_hz[voiced] / 440.0)
            octaves = int(round((stats["f0_midi_mean"] - float(midi.mean())) / 12))
        else:
            octaves = 0
    f0_out = f0_hz * 2.0**octaves
    audible = loud_db > -70
    if loudness_shift is not None:
        loud_out = loud_db + loudness_shift
    elif bool(audible.any()) and stats.get("loudness_db_mean") is not None:
        mean, std = loud_db[audible].mean(), loud_db[audible].std().clamp_min(1e-3)
        z = (loud_db - mean) / std
        loud_out = torch.where(
            audible, stats["loudness_db_mean"] + z * stats["loudness_db_std"], loud_db - 20
        )
    else:
        loud_out = loud_db
    return f0_out, loud_out, {"octaves": octaves}


@torch.no_grad()
def transfer(
    run: Path, src: Path, *, octaves: int | None = None, loudness_shift: float | None = None
) -> tuple[np.ndarray, int, dict]:
    model, state = load_run(run)
    audio, rate, _ = read_audio(src)
    mono = torch.from_numpy(audio.mean(0))[None]
    sr = int(state["sample_rate"])
    if rate != sr:
        mono = resample(mono, int(rate), sr)
    if float(mono.abs().max()) < 1e-6:
        raise CommandError(f"{src} is silent: nothing to transfer")
    hz, voicing = f0(mono, sr, state["frame_rate"])
    loud = loudness(mono, sr, state["frame_rate"])
    hz2, loud2, info = adapt(hz, voicing, loud, state["statistics"], octaves=octaves,
                             loudness_shift=loudness_shift)  # fmt: skip
    y = model(hz2, loud2, mono if model.config.z_dim else None, n_samples=mono.shape[-1])
    y = y[0].numpy()
    peak = float(np.abs(y).max())
    if peak > 0.99:
        y = y * (0.99 / peak)
    info.update({"input_f0_hz": hz2, "input_voicing": voicing, "input_loudness_db": loud2,
                 "input_audio": mono})  # fmt: skip
    return y, sr, info


def main(argv: list[str] | None = None) -> int:
    """``ddsp transfer``."""
    p = argparse.ArgumentParser(prog="ddsp transfer", description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a run folder written by ddsp train")
    p.add_argument("input", type=Path, help="audio whose melody and dynamics to play")
    p.add_argument("output", type=Path, help="audio file to write")
    p.add_argument("--octaves", type=int, default=None, help="f0 shift (default: automatic)")
    p.add_argument("--loudness-shift", type=float, default=None, help="dB (default: matched)")
    args = p.parse_args(argv)
    try:
        y, sr, info = transfer(args.run, args.input, octaves=args.octaves,
                               loudness_shift=args.loudness_shift)  # fmt: skip
        write_audio(args.output, y[None], sr, "PCM_16")
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"octaves": info["octaves"], "seconds": len(y) / sr, "sample_rate": sr}))
    return 0
