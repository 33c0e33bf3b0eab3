"""Oscillator processors: band-limited waveforms, two-operator FM and a learnable wavetable
(shells over :mod:`ddsp.functional.oscillators`). Sources render ``(batch, 1, n_samples)``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from ..functional import WAVEFORMS, fm, oscillator, wavetable
from ..functional.oscillators import oscillator_latency, oscillator_state
from ..params import ParamSpec
from ._controls import gain_amp, source_control
from ._options import whole_option
from .base import Processor

__all__ = ["Oscillator", "FM", "Wavetable", "GAIN"]

GAIN = ParamSpec("gain_db", "dB", -60.0, 12.0, 0.0, description="output gain")
WIDTH = ParamSpec("width", "", 0.01, 0.99, 0.5, description="pulse width (pulse shape)")
RATIO = ParamSpec("ratio", "", 0.125, 16.0, 1.0, scale="log", description="modulator / carrier")
INDEX = ParamSpec(
    "index", "", 0.0, 20.0, 1.0, scale="power", curve=2.0, description="modulation index"
)


def _f0(inputs: dict[str, Any], n: int) -> torch.Tensor:
    """A streamed block's f0: ``(batch, n)`` per sample, or one value per item."""
    f0 = inputs.get("f0_hz")
    if not isinstance(f0, torch.Tensor):
        raise ValueError("expected the input f0_hz as a tensor (batch, n) or (batch,)")
    f0 = f0[:, None] if f0.ndim == 1 else f0
    if f0.ndim != 2 or f0.shape[-1] not in (1, n):
        raise ValueError(f"expected f0_hz of shape (batch, {n}) or (batch,), got {tuple(f0.shape)}")
    return f0


def _with_channel(out: Any, state: Any) -> tuple:
    """A functional oscillator's result as ``((batch, 1, n), new state or None)``."""
    return (out[:, None], None) if state is None else (out[0][:, None], out[1])


class _F0Source(Processor):
    """A source driven by ``f0_hz`` alone: subclasses render with ``_render(f0_hz, n,
    controls, state)`` and stream one state tensor, ``stream_state()[_state_key]``."""

    is_source = True
    stream_inputs = ("f0_hz",)
    per_sample_inputs = ("f0_hz",)
    _state_key: ClassVar[str] = "phase"

    def forward(self, f0_hz: torch.Tensor, n_samples: int, **controls: Any) -> torch.Tensor:
        return self._render(f0_hz, n_samples, self.controls(**controls), None)[0]

    def _render(self, f0_hz: torch.Tensor, n: int, c: dict, state: Any) -> tuple:
        raise NotImplementedError

    def stream_step(self, x, state, controls, inputs, n):  # type: ignore[override]
        y, new = self._render(_f0(inputs, n), n, controls, state[self._state_key])
        return y, {self._state_key: new}


class Oscillator(_F0Source):
    """Band-limited saw, square, pulse or triangle (see :func:`ddsp.functional.oscillator`).

    Shape: ``f0_hz (batch, frames)`` -> ``(batch, 1, n_samples)``.
    Gradients: f0_hz, width, gain_db.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (WIDTH, GAIN)

    def __init__(self, sample_rate: float, shape: str = "saw", **values: float) -> None:
        if shape not in WAVEFORMS:
            raise ValueError(f"expected shape in {WAVEFORMS}, got {shape!r}")
        super().__init__(sample_rate, **values)
        self.shape = shape

    def _render(self, f0_hz: torch.Tensor, n: int, c: dict, state: Any) -> tuple:
        out = oscillator(
            f0_hz,
            sample_rate=self.sample_rate,
            n_samples=n,
            shape=self.shape,
            width=source_control(c["width"]),
            amplitude=source_control(gain_amp(c)),
            state=state,
            return_state=state is not None,
        )
        return _with_channel(out, state)

    # streaming: f0_hz (batch, n) per sample or (batch, 1) per block; the decimation
    # filter is centred, so the stream lags by half of it (32 samples at 4x oversampling)
    _state_key = "osc"

    def stream_latency(self, frame_size: int | None = None) -> int:
        return oscillator_latency()

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        return {"osc": oscillator_state(batch, dtype=dtype, device=device)}

    def options(self) -> dict[str, Any]:
        return {"shape": self.shape}


class FM(_F0Source):
    """Two-operator FM voice (see :func:`ddsp.functional.fm`).

    Shape: ``f0_hz (batch, frames)`` -> ``(batch, 1, n_samples)``.
    Gradients: f0_hz, ratio, index, gain_db.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (RATIO, INDEX, GAIN)

    def _render(self, f0_hz: torch.Tensor, n: int, c: dict, state: Any) -> tuple:
        out = fm(
            f0_hz,
            sample_rate=self.sample_rate,
            n_samples=n,
            ratio=source_control(c["ratio"]),
            index=source_control(c["index"]),
            amplitude=source_control(gain_amp(c)),
            state=state,
            return_state=state is not None,
        )
        return _with_channel(out, state)

    _state_key = "phases"

    def stream_state(self, batch: int, channels: int, *, device, **_: Any) -> dict:
        return {"phases": torch.zeros(batch, 2, dtype=torch.float64, device=device)}


class Wavetable(_F0Source):
    """Wavetable oscillator with a learnable single-cycle table (initially a sine).

    Shape: ``f0_hz (batch, frames)`` -> ``(batch, 1, n_samples)``.
    Gradients: the table, f0_hz, gain_db.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (GAIN,)

    def __init__(self, sample_rate: float, table_size: int = 512, **values: float) -> None:
        super().__init__(sample_rate, **values)
        table_size = whole_option("Wavetable", "table_size", table_size, 4, 65_536)
        if table_size & (table_size - 1):
            raise ValueError(f"Wavetable: expected a power-of-two table_size, got {table_size}")
        self.table = nn.Parameter(torch.sin(2 * math.pi * torch.arange(table_size) / table_size))

    def _render(self, f0_hz: torch.Tensor, n: int, c: dict, state: Any) -> tuple:
        out = wavetable(
            f0_hz,
            self.table.to(f0_hz.dtype),
            sample_rate=self.sample_rate,
            n_samples=n,
            amplitude=source_control(gain_amp(c)),
            state=state,
            return_state=state is not None,
        )
        return _with_channel(out, state)

    def stream_state(self, batch: int, channels: int, *, device, **_: Any) -> dict:
        return {"phase": torch.zeros(batch, 1, dtype=torch.float64, device=device)}

    def options(self) -> dict[str, Any]:
        return {"table_size": int(self.table.shape[0])}
