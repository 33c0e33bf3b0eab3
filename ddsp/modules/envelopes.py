"""Envelope and modulator processors: gate-driven ADSR and LFO (shells over
:mod:`ddsp.functional.envelopes`). They render ``(batch, n_samples)`` control signals
that can drive any processor's controls, e.g. inside a :class:`~ddsp.Graph`."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import LFO_SHAPES, adsr, lfo
from ..params import ParamSpec
from ._controls import source_control
from .base import Processor

__all__ = ["ADSR", "LFO"]

ATTACK = ParamSpec("attack_ms", "ms", 0.1, 5000.0, 10.0, scale="log", description="attack time")
DECAY = ParamSpec("decay_ms", "ms", 0.1, 10_000.0, 200.0, scale="log", description="decay time")
SUSTAIN = ParamSpec("sustain", "", 0.0, 1.0, 0.7, description="sustain level")
RELEASE = ParamSpec(
    "release_ms", "ms", 0.1, 10_000.0, 300.0, scale="log", description="release time"
)
RATE = ParamSpec("rate_hz", "Hz", 0.01, 50.0, 2.0, scale="log", description="LFO rate")
DEPTH = ParamSpec("depth", "", 0.0, 1.0, 1.0, description="LFO peak value")
PHASE = ParamSpec("phase", "", 0.0, 1.0, 0.0, description="start phase in cycles")


class ADSR(Processor):
    """Gate-driven linear ADSR envelope (see :func:`ddsp.functional.adsr`).

    Shape: ``gate (batch, n_samples)`` -> ``(batch, n_samples)`` in [0, 1].
    Gradients: the four times and the sustain level.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (ATTACK, DECAY, SUSTAIN, RELEASE)

    def forward(self, gate: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = {k: source_control(v) for k, v in self.controls(**controls).items()}
        return adsr(
            gate,
            c["attack_ms"],
            c["decay_ms"],
            c["sustain"],
            c["release_ms"],
            sample_rate=self.sample_rate,
        )


class LFO(Processor):
    """Low-frequency oscillator (see :func:`ddsp.functional.lfo`).

    Shape: ``-> (batch, n_samples)`` in ``[-depth, depth]``.
    Gradients: rate_hz, depth, phase.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (RATE, DEPTH, PHASE)

    def __init__(self, sample_rate: float, shape: str = "sine", **values: float) -> None:
        if shape not in LFO_SHAPES:
            raise ValueError(f"expected shape in {LFO_SHAPES}, got {shape!r}")
        super().__init__(sample_rate, **values)
        self.shape = shape

    def forward(self, n_samples: int, batch: int = 1, **controls: Any) -> torch.Tensor:
        c = {k: source_control(v) for k, v in self.controls(**controls).items()}
        return lfo(
            n_samples,
            c["rate_hz"],
            sample_rate=self.sample_rate,
            shape=self.shape,
            depth=c["depth"],
            phase=c["phase"],
            batch=batch,
        )

    def options(self) -> dict[str, Any]:
        return {"shape": self.shape}
