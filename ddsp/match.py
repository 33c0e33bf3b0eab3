"""Effect matching: fit an effect chain's parameters so that it turns DRY into WET.

``ddsp match DRY WET --chain PRESET_OR_SPEC -o FITTED.toml`` builds the chain (a preset
name or path, or a spec such as ``"ParametricEQ | Compressor(ratio=2)"``), fits every
differentiable parameter by gradient descent on the multi-resolution spectral loss
(plus, with ``--loss both``, a waveform term for targets made by phase-matched
processors), and writes the fitted chain as a preset and ``FITTED.report.json``
(spectral distance before and after, parameter values, iterations, time). Parameters stay
in their ranges while they learn (see :class:`ddsp.Processor`); those documented as not
differentiable (delays in whole samples) keep their starting values.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .io import load_audio
from .losses import MultiResolutionSTFTLoss, spectral_distance
from .modules.chain import Chain
from .progress import Progress

__all__ = ["MatchResult", "fit_chain", "learnable_parameters", "load_pair"]


@dataclass
class MatchResult:
    iterations: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    distance_before: float = float("nan")
    distance_after: float = float("nan")


def learnable_parameters(chain: Chain) -> list[torch.nn.Parameter]:
    """Every parameter of the chain except those its processors call not differentiable."""
    out = []
    for proc in chain:
        skip = {f"raw_{n}" for n in proc.nondifferentiable}
        out += [p for name, p in proc.named_parameters() if name not in skip]
    return out


def _segments(dry: torch.Tensor, wet: torch.Tensor, n: int, count: int, gen: torch.Generator):
    if dry.shape[-1] <= n:
        return dry, wet
    starts = torch.randint(0, dry.shape[-1] - n + 1, (count,), generator=gen).tolist()
    return (
        torch.cat([dry[..., s : s + n] for s in starts]),
        torch.cat([wet[..., s : s + n] for s in starts]),
    )


def fit_chain(
    chain: Chain,
    dry: torch.Tensor,
    wet: torch.Tensor,
    *,
    seconds: float | None = 60.0,
    max_steps: int = 500,
    lr: float = 0.05,
    loss: str = "spectral",
    waveform_weight: float = 10.0,
    segment_seconds: float = 4.0,
    batch: int = 4,
    seed: int = 0,
    progress: bool = True,
) -> MatchResult:
    """Fit ``chain`` so that ``chain(dry) ~ wet``; ``dry``, ``wet``: ``(1, channels, time)``.

    Runs ``max_steps`` Adam steps, or fewer if the time budget ``seconds`` runs out first
    (None: no time limit, so the result depends on the step count alone).
    """
    if loss not in ("spectral", "both"):
        raise ValueError(f"expected loss 'spectral' or 'both', got {loss!r}")
    params = learnable_parameters(chain)
    if not params:
        raise ValueError("the chain has no differentiable parameters to fit")
    with torch.no_grad():
        before = float(spectral_distance(chain(dry), wet).mean())
    opt = torch.optim.Adam(params, lr=lr)
    spectral = MultiResolutionSTFTLoss()
    gen = torch.Generator().manual_seed(seed)
    n_seg = int(segment_seconds * chain.sample_rate)
    result = MatchResult(0, 0.0, distance_before=before)
    start = time.perf_counter()
    budget = math.inf if seconds is None else seconds
    with Progress(max_steps, "match", enabled=progress) as bar:
        while result.iterations < max_steps and time.perf_counter() - start < budget:
            d, w = _segments(dry, wet, n_seg, batch, gen)
            opt.zero_grad()
            y = chain(d)
            value = spectral(y, w)
            if loss == "both":
                value = value + waveform_weight * (y - w).abs().mean()
            value.backward()
            opt.step()
            result.iterations += 1
            result.losses.append(float(value.detach()))
            bar.update(loss=result.losses[-1])
    result.seconds = time.perf_counter() - start
    with torch.no_grad():
        result.distance_after = float(spectral_distance(chain(dry), wet).mean())
    return result


def load_pair(dry_path: Path, wet_path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Dry and wet recordings as ``(channels, time)`` arrays of one length (the shorter is
    padded with silence: the wet file may carry a tail) and their common sample rate."""
    dry = load_audio(dry_path)
    wet = load_audio(wet_path)
    if dry.sample_rate != wet.sample_rate:
        raise ValueError(
            f"sample rates differ: {dry_path} is {dry.sample_rate} Hz, {wet_path} is "
            f"{wet.sample_rate} Hz (resample one of them first)"
        )
    n = max(dry.audio.shape[1], wet.audio.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, n - a.shape[1])))  # noqa: E731
    return pad(dry.audio), pad(wet.audio), dry.sample_rate
