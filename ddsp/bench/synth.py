"""``ddsp bench synth``: the fused harmonic oscillator against a pure-torch one, same run.

The peer is the straightforward PyTorch version (interpolate the controls to audio rate,
cumsum the phase, one sine per harmonic, weighted sum), which materialises
``(batch, time, harmonics)`` tensors. 100 harmonics, controls at 250 frames/s (one
frame per 192 samples at 48 kHz), float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..functional import harmonic
from ._harness import bench_main, runner

N_HARMONICS = 100
HOP = 192  # 250 frames/s at 48 kHz


def torch_harmonic(
    f0_hz: torch.Tensor, amplitudes: torch.Tensor, sample_rate: float, n_samples: int
):
    """Pure-torch harmonic oscillator: ``(B, F)``, ``(B, F, H)`` -> ``(B, T)``."""
    f0 = F.interpolate(f0_hz[:, None], size=n_samples, mode="linear", align_corners=True)[:, 0]
    amps = F.interpolate(
        amplitudes.transpose(1, 2), size=n_samples, mode="linear", align_corners=True
    ).transpose(1, 2)
    phase = torch.cumsum(2 * math.pi * f0 / sample_rate, dim=1)
    h = torch.arange(1, amplitudes.shape[-1] + 1, dtype=f0.dtype, device=f0.device)
    audible = (h * f0[..., None] < sample_rate / 2).to(f0.dtype)
    return (amps * audible * torch.sin(phase[..., None] * h)).sum(-1)


def _cases(batch: int, n_t: int, seed: int) -> dict[str, dict[str, Callable]]:
    gen = torch.Generator().manual_seed(seed)
    n_frames = max(2, n_t // HOP)
    f0 = 80.0 + 400.0 * torch.rand(batch, n_frames, generator=gen)
    amps = torch.rand(batch, n_frames, N_HARMONICS, generator=gen) / N_HARMONICS
    grad = torch.randn(batch, n_t, generator=gen)
    sr = 48_000.0

    return {
        f"harmonic oscillator, {N_HARMONICS} harmonics": {
            "ddsp": runner(
                lambda f, a: harmonic(f, a, sample_rate=sr, n_samples=n_t), (f0, amps), grad
            ),
            "pure torch": runner(lambda f, a: torch_harmonic(f, a, sr, n_t), (f0, amps), grad),
        }
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ddsp bench synth``."""
    return bench_main("synth", "ddsp.bench.synth", _cases, argv, default_repeats=5)


if __name__ == "__main__":
    raise SystemExit(main())
