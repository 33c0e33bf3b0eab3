"""Deterministic test material for the matching tests: decaying noise-and-tone hits."""

from __future__ import annotations

import math

import torch

SR = 16_000


def hits(seconds: float = 1.5, seed: int = 0, channels: int = 1, level_db: float = 0.0):
    """Four decaying hits per second of noise plus a 220 Hz tone, phrases at several levels,
    ``(channels, time)`` float64 (channels are decorrelated copies)."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(SR * seconds), dtype=torch.float64) / SR
    env = torch.exp(-((t * 4) % 1) * 6)
    phrase = 10 ** (-(torch.floor(t * 2) % 3) * 6 / 20)  # 0, -6, -12 dB, half a second each
    out = []
    for _ in range(channels):
        noise = torch.randn(t.shape, generator=gen, dtype=torch.float64)
        out.append(phrase * env * (0.5 * noise + 0.3 * torch.sin(2 * math.pi * 220 * t)))
    return torch.stack(out) * 10 ** (level_db / 20)


def run(chain, x: torch.Tensor) -> torch.Tensor:
    """``chain`` on ``(channels, time)``, no gradients, float64 out."""
    with torch.no_grad():
        return chain(x[None].float())[0].double()
