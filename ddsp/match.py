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

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .io import CommandError, atomic_path, read_audio
from .losses import MultiResolutionSTFTLoss, spectral_distance
from .modules.chain import Chain
from .presets import save_preset

__all__ = ["MatchResult", "fit_chain", "learnable_parameters", "main"]


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
    seconds: float = 60.0,
    max_steps: int = 500,
    lr: float = 0.05,
    loss: str = "spectral",
    waveform_weight: float = 10.0,
    segment_seconds: float = 4.0,
    batch: int = 4,
    seed: int = 0,
    progress: bool = True,
) -> MatchResult:
    """Fit ``chain`` so that ``chain(dry) ~ wet``; ``dry``, ``wet``: ``(1, channels, time)``."""
    if loss not in ("spectral", "both"):
        raise ValueError(f"expected loss 'spectral' or 'both', got {loss!r}")
    params = learnable_parameters(chain)
    if not params:
        raise CommandError("the chain has no differentiable parameters to fit")
    with torch.no_grad():
        before = float(spectral_distance(chain(dry), wet).mean())
    opt = torch.optim.Adam(params, lr=lr)
    spectral = MultiResolutionSTFTLoss()
    gen = torch.Generator().manual_seed(seed)
    n_seg = int(segment_seconds * chain.sample_rate)
    result = MatchResult(0, 0.0, distance_before=before)
    start = shown = time.perf_counter()
    while result.iterations < max_steps and time.perf_counter() - start < seconds:
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
        now = time.perf_counter()
        if progress and now - shown > 0.5:
            shown = now
            line = f"match step {result.iterations} loss {result.losses[-1]:.4f}"
            print(f"\r{line} {now - start:5.1f}/{seconds:.0f} s", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    result.seconds = time.perf_counter() - start
    with torch.no_grad():
        result.distance_after = float(spectral_distance(chain(dry), wet).mean())
    return result


def _chain(spec: str, sample_rate: float) -> Chain:
    from .modules.base import PROCESSORS
    from .process import ProcessError, _build

    is_spec = "(" in spec or "|" in spec or spec.strip() in PROCESSORS
    args = argparse.Namespace(preset=None if is_spec else spec, chain=spec if is_spec else None)
    try:
        return _build(args, sample_rate)
    except ProcessError as e:
        raise CommandError(str(e)) from None


def _load_pair(dry_path: Path, wet_path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    dry, rate, _ = read_audio(dry_path)
    wet, wet_rate, _ = read_audio(wet_path)
    if rate != wet_rate:
        raise CommandError(
            f"sample rates differ: {dry_path} is {rate} Hz, {wet_path} is {wet_rate} Hz "
            "(resample one of them first)"
        )
    n = max(dry.shape[1], wet.shape[1])  # the wet file may carry a tail
    pad = lambda a: np.pad(a, ((0, 0), (0, n - a.shape[1])))  # noqa: E731
    return pad(dry), pad(wet), rate


def main(argv: list[str] | None = None) -> int:
    """``ddsp match``."""
    p = argparse.ArgumentParser(prog="ddsp match", description=__doc__.splitlines()[0])
    p.add_argument("dry", type=Path)
    p.add_argument("wet", type=Path)
    p.add_argument("--chain", required=True, help="preset name/path or chain spec")
    p.add_argument("-o", "--out", type=Path, required=True, help="fitted preset (.toml)")
    p.add_argument("--seconds", type=float, default=60.0, help="time budget")
    p.add_argument("--steps", type=int, default=500, help="most optimiser steps")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--loss", choices=["spectral", "both"], default="spectral")
    args = p.parse_args(argv)
    try:
        dry, wet, rate = _load_pair(args.dry, args.wet)
        chain = _chain(args.chain, float(rate))
        x, target = torch.from_numpy(dry)[None], torch.from_numpy(wet)[None]
        with torch.no_grad():
            probe = chain(x[..., : min(x.shape[-1], rate)])
        if probe.shape[1] != target.shape[1]:
            raise CommandError(
                f"the chain turns {x.shape[1]}-channel {args.dry.name} into {probe.shape[1]} "
                f"channel(s), but {args.wet.name} has {target.shape[1]}"
            )
        start_values = [proc.parameter_values() for proc in chain]
        res = fit_chain(chain, x, target, seconds=args.seconds, max_steps=args.steps,
                        lr=args.lr, loss=args.loss)  # fmt: skip
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_preset(chain, args.out)
        report = {
            "dry": str(args.dry),
            "wet": str(args.wet),
            "chain": args.chain,
            "spectral_distance_before": res.distance_before,
            "spectral_distance_after": res.distance_after,
            "reduction": 1 - res.distance_after / res.distance_before
            if res.distance_before > 0
            else None,
            "iterations": res.iterations,
            "fit_seconds": round(res.seconds, 2),
            "start": start_values,
            "fitted": [proc.parameter_values() for proc in chain],
        }
        with atomic_path(args.out.with_suffix(".report.json")) as tmp:
            tmp.write_text(json.dumps(report, indent=2))
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"spectral distance {res.distance_before:.3f} -> {res.distance_after:.3f} in "
          f"{res.iterations} steps; wrote {args.out}")  # fmt: skip
    return 0
