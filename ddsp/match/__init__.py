"""Effect matching: find the settings of an effect chain that turn DRY into WET.

``ddsp match DRY WET --chain SPEC -o FITTED.toml`` runs :func:`match_chain`:

1. **Analysis** (:mod:`~ddsp.match.initializers`): every processor starts from what the
   pair says about it, before any gradient step: delay times and feedback from the peaks
   of the dry-to-wet impulse response, reverb decay from its tail, EQ bands fitted to the
   measured response, compressor threshold, ratio, knee, attack and release from the level
   mapping, gain from levels. Each processor kind registers its initializer, so a new
   processor can add its own.
2. **Global search** where the loss is not smooth (delay times without a clear echo, LFO
   rates, drive): a coarse grid or several starts on the loss, before the gradient phase.
3. **Gradient phase** (:mod:`~ddsp.match.fit`): Adam on random crops against target
   spectra computed once, at the resolutions that matter (:mod:`~ddsp.match.objective`);
   parameters the analysis found unused or undetermined stay frozen; the best state on a
   fixed evaluation set is kept; steps per second reported.
4. **Report** (:mod:`~ddsp.match.report`): per parameter the fitted value, the interval
   within which the loss rises by under 1% and a status (determined, loosely determined,
   undetermined, unused), the spectral distance before, after analysis and after the fit,
   and a plain verdict (a wet file unrelated to the dry one gets "poor fit", not numbers
   that look confident).

:func:`fit_chain` is the gradient phase alone, from the chain's own values.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import torch

from ..losses import spectral_distance
from ..modules.algorithmic import FDNReverb, Freeverb
from ..modules.chain import Chain
from ..modules.delays import Chorus, Delay, PingPongDelay
from ..modules.dynamics import Compressor, Expander, Limiter
from ..modules.reverb import NoiseReverb
from .analysis import coherence
from .fit import FitLog, gradient_fit, learnable_parameters
from .initializers import (
    INITIALIZERS,
    Context,
    Finding,
    Initializer,
    initialise_chain,
    initializer_for,
    register_initializer,
)
from .objective import SpectralObjective
from .pair import Pair, align_pair, load_pair
from .report import Determination, determine, verdict

__all__ = [
    "MatchResult",
    "match_chain",
    "fit_chain",
    "learnable_parameters",
    "load_pair",
    "align_pair",
    "Pair",
    "Finding",
    "Initializer",
    "INITIALIZERS",
    "register_initializer",
    "Determination",
    "chain_memory_seconds",
]

_MAX_CONTEXT_S = 1.0


@dataclass
class MatchResult:
    """What a match did. Distances are :func:`ddsp.losses.spectral_distance` over the
    whole pair: ``distance_before`` (the chain as given), ``distance_analysis`` (after the
    analysis; nan without it), ``distance_after`` (the result), ``distance_identity`` (the
    dry file itself against the wet one)."""

    iterations: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    distance_before: float = math.nan
    distance_after: float = math.nan
    distance_analysis: float = math.nan
    distance_identity: float = math.nan
    coherence: float = math.nan
    analysis_seconds: float = 0.0
    fit_seconds: float = 0.0
    report_seconds: float = 0.0
    steps_per_second: float = math.nan
    findings: dict[int, dict[str, Finding]] = field(default_factory=dict)
    determination: dict[int, dict[str, Determination]] = field(default_factory=dict)
    verdict: str = ""
    message: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def reduction(self) -> float:
        """Fraction of the starting distance removed (nan when it was 0)."""
        if not self.distance_before > 0:
            return math.nan
        return 1.0 - self.distance_after / self.distance_before


def chain_memory_seconds(chain: Chain) -> float:
    """How long the chain remembers its input (echoes to -30 dB but at most three,
    reverb tails to -30 dB, half the release times), capped at 1 s: the context each crop
    is processed with (what is forgotten biases the loss a little, what is remembered
    costs every step)."""
    total = 0.02
    for p in chain:
        v = p.parameter_values()
        if isinstance(p, (Delay, PingPongDelay)):
            fb = min(abs(v["feedback"]), 0.95)
            repeats = 1 + (math.ceil(math.log(0.03) / math.log(fb)) if fb > 0.03 else 0)
            total += v["delay_ms"] / 1000 * min(repeats, 3)
        elif isinstance(p, Chorus):
            total += (v["centre_ms"] + v["depth_ms"]) / 1000 * 2
        elif isinstance(p, (NoiseReverb, FDNReverb)):
            total += v["rt60_s"] / 2 + v["pre_delay_ms"] / 1000
        elif isinstance(p, Freeverb):
            g = 0.7 + 0.28 * v["room_size"]
            total += 0.5 * 3 * 0.0306 / -math.log10(g)
        elif isinstance(p, (Compressor, Expander, Limiter)):
            total += v["release_ms"] / 2000
    return min(total, _MAX_CONTEXT_S)


def _distance(chain: Chain, dry: torch.Tensor, wet: torch.Tensor) -> float:
    with torch.no_grad():
        return float(spectral_distance(chain(dry[None].float())[0], wet.float()).mean())


def _state(chain: Chain) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in chain.state_dict().items()}


def match_chain(
    chain: Chain,
    dry: torch.Tensor,
    wet: torch.Tensor,
    *,
    steps: int = 60,
    seconds: float | None = None,
    lr: float = 0.02,
    analysis: bool = True,
    crop_seconds: float = 1.0,
    crops: int = 1,
    eval_crops: int = 2,
    loss: str = "spectral",
    seed: int = 0,
    progress: bool = True,
) -> MatchResult:
    """Fit ``chain`` (in place) so that ``chain(dry) ~ wet``: analysis, search, gradient
    phase and report (see the module docstring).

    Args:
        chain: the effect chain, at the pair's sample rate.
        dry, wet: ``(channels, time)`` of one length (see :func:`align_pair`).
        steps: gradient steps (0: analysis only).
        seconds: optional time budget for the gradient phase (None: ``steps`` alone
            bound it, so the result does not depend on the machine's speed).
        lr: Adam's learning rate on the processors' unconstrained parameters.
        analysis: start from the analysis (False: from the chain's own values).
        crop_seconds, crops: crop length and crops per step.
        eval_crops: fixed crops that pick the best state and measure determination.
        loss: ``"spectral"`` or ``"both"`` (adds a waveform term).
        seed: crop draws.
        progress: stage lines and a progress bar on stderr.

    Returns:
        :class:`MatchResult`.
    """
    if loss not in ("spectral", "both"):
        raise ValueError(f"expected loss 'spectral' or 'both', got {loss!r}")
    if dry.ndim != 2 or wet.ndim != 2 or dry.shape[-1] != wet.shape[-1]:
        raise ValueError(
            f"expected dry and wet as (channels, time) of one length, got {tuple(dry.shape)} "
            f"and {tuple(wet.shape)}"
        )
    sr = chain.sample_rate
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if progress else (lambda m: None)
    dry64, wet64 = dry.double(), wet.double()
    crop = int(crop_seconds * sr)
    weight = 10.0 if loss == "both" else 0.0
    result = MatchResult(0, 0.0)
    t0 = time.perf_counter()
    result.distance_before = _distance(chain, dry64, wet64)
    ident = dry64 if dry.shape[0] == wet.shape[0] else dry64.mean(0, keepdim=True).expand_as(wet64)
    result.distance_identity = float(spectral_distance(ident.float(), wet64.float()).mean())
    result.coherence = coherence(dry64, wet64, sr)
    objective = SpectralObjective(
        dry64, wet64, crop=crop, context=int(0.25 * sr), waveform_weight=weight
    )
    eval_starts = objective.spread_starts(eval_crops)
    if analysis:
        say("match: analysing the pair")
        ctx = Context(dry64, wet64, sr, chain, objective, eval_starts)
        result.findings = initialise_chain(ctx)
        result.distance_analysis = _distance(chain, dry64, wet64)
    result.analysis_seconds = time.perf_counter() - t0

    objective.context = int(chain_memory_seconds(chain) * sr)
    frozen = {
        (i, name)
        for i, found in result.findings.items()
        for name, f in found.items()
        if f.how in ("unused", "undetermined")
    }
    if analysis:  # rough parameters were set by analysis or search: gradients would lose them
        frozen |= {
            (i, name)
            for i, p in enumerate(chain)
            for name in (initializer_for(p).rough if initializer_for(p) else ())
        }
    params = learnable_parameters(chain, frozen)
    fitted = {
        (i, s.name)
        for i, p in enumerate(chain)
        for s in p.specs
        if (i, s.name) not in frozen and s.name not in p.nondifferentiable
    }
    start_state = _state(chain)
    say(f"match: fitting {len(params)} parameter tensors for {steps} steps")
    log = gradient_fit(
        chain,
        objective,
        params,
        steps=steps,
        seconds=seconds,
        lr=lr,
        crops=crops,
        eval_starts=eval_starts,
        seed=seed,
        progress=progress,
    )
    result.iterations, result.losses = log.steps, log.losses
    result.fit_seconds, result.steps_per_second = log.seconds, log.steps_per_second
    t1 = time.perf_counter()
    result.distance_after = _distance(chain, dry64, wet64)
    reference = result.distance_analysis if analysis else result.distance_before
    if log.steps and result.distance_after > reference:
        chain.load_state_dict(start_state)
        result.distance_after = reference
        result.notes.append(
            "the gradient phase did not lower the distance over the whole file; "
            "kept the starting values"
        )
    say("match: measuring how well each parameter is determined")
    result.determination = determine(chain, objective, eval_starts, result.findings, fitted)
    result.verdict, result.message = verdict(
        result.coherence,
        result.reduction if math.isfinite(result.reduction) else 0.0,
        result.distance_after,
        result.distance_identity,
    )
    result.report_seconds = time.perf_counter() - t1
    result.seconds = time.perf_counter() - t0
    return result


def fit_chain(
    chain: Chain,
    dry: torch.Tensor,
    wet: torch.Tensor,
    *,
    seconds: float | None = 60.0,
    max_steps: int = 500,
    lr: float = 0.05,
    loss: str = "spectral",
    segment_seconds: float = 4.0,
    batch: int = 4,
    seed: int = 0,
    progress: bool = True,
) -> MatchResult:
    """The gradient phase alone, from the chain's own values: ``dry``, ``wet`` as
    ``(1, channels, time)``; ``max_steps`` Adam steps on ``batch`` crops of
    ``segment_seconds``, or fewer if the time budget ``seconds`` runs out (None: none)."""
    if loss not in ("spectral", "both"):
        raise ValueError(f"expected loss 'spectral' or 'both', got {loss!r}")
    params = learnable_parameters(chain)
    if not params:
        raise ValueError("the chain has no differentiable parameters to fit")
    d, w = dry[0].double(), wet[0].double()
    result = MatchResult(0, 0.0, distance_before=_distance(chain, d, w))
    objective = SpectralObjective(
        d,
        w,
        crop=int(segment_seconds * chain.sample_rate),
        context=int(chain_memory_seconds(chain) * chain.sample_rate),
        waveform_weight=10.0 if loss == "both" else 0.0,
    )
    log: FitLog = gradient_fit(
        chain,
        objective,
        params,
        steps=max_steps,
        seconds=seconds,
        lr=lr,
        crops=batch,
        eval_starts=objective.spread_starts(2),
        seed=seed,
        progress=progress,
    )
    result.iterations, result.losses, result.seconds = log.steps, log.losses, log.seconds
    result.steps_per_second = log.steps_per_second
    result.distance_after = _distance(chain, d, w)
    return result
