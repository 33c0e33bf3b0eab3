"""Envelope and modulator processors: gate-driven ADSR and LFO (shells over
:mod:`ddsp.functional.envelopes`). They render ``(batch, n_samples)`` control signals
that can drive any processor's controls, e.g. inside a :class:`~ddsp.Graph`."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import LFO_SHAPES, adsr, lfo
from ..functional.envelopes import adsr_state
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


def _block_value(value: Any) -> Any:
    """A control held for the block: a streamed ramp ``(batch, 1, n)`` takes its last value."""
    return value[..., -1] if isinstance(value, torch.Tensor) and value.ndim == 3 else value


class ADSR(Processor):
    """Gate-driven linear ADSR envelope (see :func:`ddsp.functional.adsr`).

    Shape: ``gate (batch, n_samples)`` -> ``(batch, n_samples)`` in [0, 1].
    Gradients: the four times and the sustain level.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (ATTACK, DECAY, SUSTAIN, RELEASE)

    def forward(self, gate: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._render(gate, self.controls(**controls), None)[0]

    def _render(self, gate: torch.Tensor, controls: dict, state: Any) -> tuple:
        # times are per note: a streamed ramp takes its final value for the block
        c = {k: source_control(_block_value(v)) for k, v in controls.items()}
        out = adsr(
            gate,
            c["attack_ms"],
            c["decay_ms"],
            c["sustain"],
            c["release_ms"],
            sample_rate=self.sample_rate,
            state=state,
            return_state=state is not None,
        )
        return (out, None) if state is None else out

    # streaming: the gate (batch, n) per sample; a note may span any number of blocks
    is_source = True
    stream_inputs = ("gate",)
    per_sample_inputs = ("gate",)

    def stream_state(self, batch: int, channels: int, *, device, **_: Any) -> dict:
        return {"adsr": adsr_state(batch, device)}

    def stream_step(self, x, state, controls, inputs, n):  # type: ignore[override]
        gate = inputs.get("gate")
        if not isinstance(gate, torch.Tensor) or gate.ndim != 2 or gate.shape[-1] != n:
            got = tuple(gate.shape) if isinstance(gate, torch.Tensor) else gate
            raise ValueError(f"expected the input gate of shape (batch, {n}), got {got}")
        y, new = self._render(gate, controls, state["adsr"])
        return y, {"adsr": new}


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

    def forward(
        self,
        n_samples: int,
        batch: int = 1,
        dtype: torch.dtype = torch.float32,
        **controls: Any,
    ) -> torch.Tensor:
        return self._render(n_samples, batch, self.controls(**controls), None, dtype)[0]

    def _render(
        self, n: int, batch: int, controls: dict, state: Any, dtype: Any = torch.float32
    ) -> tuple:
        c = {k: source_control(v) for k, v in controls.items()}
        out = lfo(
            n,
            c["rate_hz"],
            sample_rate=self.sample_rate,
            shape=self.shape,
            depth=c["depth"],
            phase=_block_value(c["phase"]),
            batch=batch,
            dtype=dtype,
            state=state,
            return_state=state is not None,
        )
        return (out, None) if state is None else out

    # streaming: no inputs, ``n_samples`` per block; ``phase`` sets where it starts
    is_source = True

    def stream_state(
        self, batch: int, channels: int, *, dtype, device, delay: int = 0, **_: Any
    ) -> dict:
        rate = float(self.rate_hz.detach())
        start = float(self.phase.detach()) - rate * delay / self.sample_rate
        phase = torch.full((batch, 1), start % 1.0, dtype=torch.float64, device=device)
        return {"phase": phase, "batch": batch, "dtype": dtype}

    def stream_step(self, x, state, controls, inputs, n):  # type: ignore[override]
        y, phase = self._render(n, state["batch"], controls, state["phase"], state["dtype"])
        return y, {**state, "phase": phase}

    def options(self) -> dict[str, Any]:
        return {"shape": self.shape}
