"""The gradient phase: Adam on random crops, the best state on a fixed evaluation set kept.

Per step: a few crops with their context through the chain, the spectral loss against the
target's precomputed spectra (:class:`~ddsp.match.objective.SpectralObjective`), one
backward pass. Only parameters that can learn take part: those the analysis found
undetermined or unused stay frozen (a compressor that never engages keeps its threshold;
a flat EQ band stays flat), as do those the processors call not differentiable and the
rough ones (a delay time: the spectral loss's basin around the right value is about a
sample wide, so Adam's first step leaves it; analysis and search set those). Every
``eval_every`` steps the loss on fixed crops decides whether the state is the best yet; the
fit ends on the best state, so it never ends worse than it started on that set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

from ..modules.chain import Chain
from ..progress import Progress
from .objective import SpectralObjective

__all__ = ["FitLog", "gradient_fit", "learnable_parameters"]

_RAW = "raw_"


def learnable_parameters(
    chain: Chain, frozen: Iterable[tuple[int, str]] = ()
) -> list[torch.nn.Parameter]:
    """Every parameter of the chain except those its processors call not differentiable
    and those named in ``frozen`` as ``(processor index, spec name)``."""
    frozen = set(frozen)
    out = []
    for i, proc in enumerate(chain):
        skip = {f"{_RAW}{n}" for n in proc.nondifferentiable}
        skip |= {f"{_RAW}{n}" for j, n in frozen if j == i}
        out += [p for name, p in proc.named_parameters() if name not in skip]
    return out


@dataclass
class FitLog:
    """What the gradient phase did: steps, wall and CPU time (this process, all threads),
    the training losses, the evaluation losses ``(step, loss)`` and the step whose state
    was kept."""

    steps: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    evaluations: list[tuple[int, float]] = field(default_factory=list)
    best_step: int = 0

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else math.nan


def gradient_fit(
    chain: Chain,
    objective: SpectralObjective,
    params: list[torch.nn.Parameter],
    *,
    steps: int,
    eval_starts: list[int],
    seconds: float | None = None,
    lr: float = 0.02,
    crops: int = 2,
    eval_every: int = 20,
    seed: int = 0,
    progress: bool = True,
) -> FitLog:
    """Fit ``params`` of ``chain`` to ``objective`` for ``steps`` Adam steps (fewer if the
    optional time budget ``seconds`` runs out), learning rate ``lr`` decayed by a cosine to
    a tenth, ``crops`` random crops per step. Restores the best evaluated state."""
    log = FitLog()
    if not params or steps <= 0:
        return log
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps))
    )
    gen = torch.Generator().manual_seed(seed)

    def evaluate() -> float:
        with torch.no_grad():
            return float(objective.loss(chain, eval_starts))

    best_loss = evaluate()
    best_state = [p.detach().clone() for p in params]
    log.evaluations.append((0, best_loss))
    start, cpu_start = time.perf_counter(), time.process_time()
    budget = math.inf if seconds is None else seconds
    with Progress(steps, "fit", enabled=progress) as bar:
        while log.steps < steps and time.perf_counter() - start < budget:
            opt.zero_grad()
            loss = objective.loss(chain, objective.random_starts(crops, gen))
            loss.backward()
            opt.step()
            sched.step()
            log.steps += 1
            log.losses.append(float(loss.detach()))
            if log.steps % eval_every == 0 or log.steps == steps:
                value = evaluate()
                log.evaluations.append((log.steps, value))
                if value < best_loss:
                    best_loss, log.best_step = value, log.steps
                    best_state = [p.detach().clone() for p in params]
            bar.update(loss=log.losses[-1])
    if log.evaluations[-1][0] != log.steps:  # stopped by the time budget between evaluations
        value = evaluate()
        log.evaluations.append((log.steps, value))
        if value < best_loss:
            best_loss, log.best_step = value, log.steps
            best_state = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, v in zip(params, best_state):
            p.copy_(v)
    log.seconds = time.perf_counter() - start
    log.cpu_seconds = time.process_time() - cpu_start
    return log
