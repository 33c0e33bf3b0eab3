"""Oscillator processors: band-limited waveforms, two-operator FM and a learnable wavetable
(shells over :mod:`ddsp.functional.oscillators`). Sources render ``(batch, 1, n_samples)``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from ..functional import WAVEFORMS, fm, oscillator, wavetable
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


class Oscillator(Processor):
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

    def forward(self, f0_hz: torch.Tensor, n_samples: int, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        y = oscillator(
            f0_hz,
            sample_rate=self.sample_rate,
            n_samples=n_samples,
            shape=self.shape,
            width=source_control(c["width"]),
            amplitude=source_control(gain_amp(c)),
        )
        return y[:, None]

    def options(self) -> dict[str, Any]:
        return {"shape": self.shape}


class FM(Processor):
    """Two-operator FM voice (see :func:`ddsp.functional.fm`).

    Shape: ``f0_hz (batch, frames)`` -> ``(batch, 1, n_samples)``.
    Gradients: f0_hz, ratio, index, gain_db.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (RATIO, INDEX, GAIN)

    def forward(self, f0_hz: torch.Tensor, n_samples: int, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        y = fm(
            f0_hz,
            sample_rate=self.sample_rate,
            n_samples=n_samples,
            ratio=source_control(c["ratio"]),
            index=source_control(c["index"]),
            amplitude=source_control(gain_amp(c)),
        )
        return y[:, None]


class Wavetable(Processor):
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

    def forward(self, f0_hz: torch.Tensor, n_samples: int, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        y = wavetable(
            f0_hz,
            self.table.to(f0_hz.dtype),
            sample_rate=self.sample_rate,
            n_samples=n_samples,
            amplitude=source_control(gain_amp(c)),
        )
        return y[:, None]

    def options(self) -> dict[str, Any]:
        return {"table_size": int(self.table.shape[0])}
