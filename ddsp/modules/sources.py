"""Source and modulator processors: waveforms, FM, wavetable, filtered noise, ADSR, LFO.

Sources render ``(batch, 1, n_samples)`` audio from frame-rate controls; modulators
render ``(batch, n_samples)`` control signals that can drive any processor's controls.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from ..functional import (
    LFO_SHAPES,
    WAVEFORMS,
    adsr,
    filtered_noise,
    fm,
    lfo,
    oscillator,
    wavetable,
    white_noise,
)
from ..params import ParamSpec
from ..units import db_to_amp
from .base import Processor

__all__ = ["Oscillator", "FM", "Wavetable", "FilteredNoise", "ADSR", "LFO"]

GAIN = ParamSpec("gain_db", "dB", -60.0, 12.0, 0.0, description="output gain")
WIDTH = ParamSpec("width", "", 0.01, 0.99, 0.5, description="pulse width (pulse shape)")
RATIO = ParamSpec("ratio", "", 0.125, 16.0, 1.0, scale="log", description="modulator / carrier")
INDEX = ParamSpec(
    "index", "", 0.0, 20.0, 1.0, scale="power", curve=2.0, description="modulation index"
)
ATTACK = ParamSpec("attack_ms", "ms", 0.1, 5000.0, 10.0, scale="log", description="attack time")
DECAY = ParamSpec("decay_ms", "ms", 0.1, 10_000.0, 200.0, scale="log", description="decay time")
SUSTAIN = ParamSpec("sustain", "", 0.0, 1.0, 0.7, description="sustain level")
RELEASE = ParamSpec(
    "release_ms", "ms", 0.1, 10_000.0, 300.0, scale="log", description="release time"
)
RATE = ParamSpec("rate_hz", "Hz", 0.01, 50.0, 2.0, scale="log", description="LFO rate")
DEPTH = ParamSpec("depth", "", 0.0, 1.0, 1.0, description="LFO peak value")
PHASE = ParamSpec("phase", "", 0.0, 1.0, 0.0, description="start phase in cycles")


def _gain(c: dict[str, Any]) -> Any:
    g = c["gain_db"]
    return db_to_amp(g[..., 0] if isinstance(g, torch.Tensor) and g.ndim == 3 else g)


def _source_control(value: Any) -> Any:
    """Controls of sources are (batch,) or (batch, frames): undo the channel axis."""
    if isinstance(value, torch.Tensor) and value.ndim == 3:
        return value[:, 0]
    if isinstance(value, torch.Tensor) and value.ndim == 2 and value.shape[-1] == 1:
        return value[:, 0]
    return value


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
            width=_source_control(c["width"]),
            amplitude=_source_control(_gain(c)),
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
            ratio=_source_control(c["ratio"]),
            index=_source_control(c["index"]),
            amplitude=_source_control(_gain(c)),
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
        if table_size < 4 or table_size & (table_size - 1):
            raise ValueError(f"expected a power-of-two table_size >= 4, got {table_size}")
        self.table = nn.Parameter(torch.sin(2 * math.pi * torch.arange(table_size) / table_size))

    def forward(self, f0_hz: torch.Tensor, n_samples: int, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        y = wavetable(
            f0_hz,
            self.table.to(f0_hz.dtype),
            sample_rate=self.sample_rate,
            n_samples=n_samples,
            amplitude=_source_control(_gain(c)),
        )
        return y[:, None]

    def options(self) -> dict[str, Any]:
        return {"table_size": int(self.table.shape[0])}


class FilteredNoise(Processor):
    """DDSP filtered noise (see :func:`ddsp.functional.filtered_noise`); white without magnitudes.

    Shape: ``magnitudes (batch, frames, n_bands)`` -> ``(batch, 1, n_samples)``.
    Gradients: magnitudes, gain_db.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (GAIN,)

    def __init__(self, sample_rate: float, seed: int | None = None, **values: float) -> None:
        super().__init__(sample_rate, **values)
        self.seed = seed

    def forward(
        self,
        magnitudes: torch.Tensor | None = None,
        n_samples: int = 0,
        batch: int = 1,
        **controls: Any,
    ) -> torch.Tensor:
        c = self.controls(**controls)
        gain = _source_control(_gain(c))
        if magnitudes is None:  # white noise
            y = white_noise((batch, n_samples), seed=self.seed)
        else:
            y = filtered_noise(magnitudes, n_samples, seed=self.seed)
        if isinstance(gain, torch.Tensor) and gain.ndim == 1 and gain.shape[0] > 1:
            gain = gain[:, None]
        return (gain * y)[:, None]

    def options(self) -> dict[str, Any]:
        return {} if self.seed is None else {"seed": self.seed}


class ADSR(Processor):
    """Gate-driven linear ADSR envelope (see :func:`ddsp.functional.adsr`).

    Shape: ``gate (batch, n_samples)`` -> ``(batch, n_samples)`` in [0, 1].
    Gradients: the four times and the sustain level.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (ATTACK, DECAY, SUSTAIN, RELEASE)

    def forward(self, gate: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = {k: _source_control(v) for k, v in self.controls(**controls).items()}
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
        c = {k: _source_control(v) for k, v in self.controls(**controls).items()}
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
