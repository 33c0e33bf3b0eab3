"""Filter demo: a generated synth chord through a swept resonant SVF and an RBJ EQ.

Renders a band-limited sawtooth chord, sweeps a resonant state-variable lowpass with a
per-sample cutoff (the filter to use under fast modulation), adds a peaking boost and a
high-pass with biquads, and writes a WAV file. Uses only the public API.

    python demos/filter_demo.py --out out/filter_demo.wav
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import soundfile as sf
import torch

import ddsp
from ddsp.functional import biquad, svf


def saw_chord(freqs_hz: list[float], seconds: float, sample_rate: int) -> torch.Tensor:
    """Band-limited sawtooth chord (additive, harmonics below Nyquist), shape ``(T,)``."""
    t = torch.arange(int(seconds * sample_rate), dtype=torch.float64) / sample_rate
    out = torch.zeros_like(t)
    for f0 in freqs_hz:
        for k in range(1, int(sample_rate / 2 / f0) + 1):
            out += torch.sin(2 * math.pi * k * f0 * t) * ((-1) ** (k + 1)) / k
    return (out / (out.abs().max() + 1e-9) * 0.5).float()


def render(seconds: float, sample_rate: int, device: str) -> torch.Tensor:
    """The demo's signal chain; returns stereo audio ``(2, T)`` on the CPU."""
    dry = saw_chord([110.0, 164.8, 220.0, 277.2], seconds, sample_rate).to(device)
    n_t = dry.shape[-1]
    x = torch.stack([dry, dry]).unsqueeze(0)  # (batch 1, channels 2, T)
    # Cutoff: an exponential sweep 150 Hz -> 6 kHz -> 150 Hz, plus a 5 Hz wobble, per sample;
    # the right channel sweeps a quarter period later.
    phase = torch.linspace(0, 1, n_t, device=device)
    sweep = torch.stack([0.5 - 0.5 * torch.cos(2 * math.pi * (phase + s)) for s in (0.0, 0.25)])
    wobble = 0.15 * torch.sin(2 * math.pi * 5.0 * phase * seconds)
    cutoff_hz = 150.0 * torch.exp((sweep + wobble) * math.log(6000.0 / 150.0))
    y = svf(x, cutoff_hz.unsqueeze(0), 0.85, sample_rate=sample_rate, mode="lowpass")
    y = biquad(y, "peaking", 2500.0, 1.2, 4.0, sample_rate=sample_rate)
    y = biquad(y, "highpass", 60.0, 0.707, sample_rate=sample_rate)
    y = y / y.abs().max().clamp_min(1e-9) * 0.8
    return y[0].cpu()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--sample-rate", type=int, default=48_000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, help="write the result here as WAV (omit: no file)")
    args = p.parse_args()
    t0 = time.perf_counter()
    y = render(args.seconds, args.sample_rate, args.device)
    took = time.perf_counter() - t0
    rms_db = 20 * math.log10(float(y.pow(2).mean().sqrt()))
    print(
        f"ddsp {ddsp.__version__}: rendered {args.seconds:g} s of stereo at {args.sample_rate} Hz "
        f"in {took:.2f} s (first call includes kernel compilation); RMS {rms_db:.1f} dBFS"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".part")
        sf.write(tmp, y.T.numpy(), args.sample_rate, format="WAV", subtype="PCM_16")
        tmp.replace(args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
