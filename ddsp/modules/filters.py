"""Filter processors: thin shells over :mod:`ddsp.functional.filters`."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import BIQUAD_KINDS, SVF_MODES, biquad, svf
from ..params import ParamSpec
from .base import Processor, check_audio

__all__ = ["Biquad", "SVF"]

CUTOFF = ParamSpec(
    "cutoff_hz",
    "Hz",
    20.0,
    20_000.0,
    1_000.0,
    scale="log",
    description="cutoff or centre frequency",
)
Q = ParamSpec("q", "", 0.1, 20.0, 0.7071, scale="log", description="quality factor")
GAIN = ParamSpec("gain_db", "dB", -24.0, 24.0, 0.0, description="peak or shelf gain")
RESONANCE = ParamSpec("resonance", "", 0.0, 0.99, 0.3, description="0: Q = 0.5, 0.99: Q = 50")

NYQUIST_MARGIN = 0.49  # cutoffs above this fraction of the sample rate act as this value


def _below_nyquist(cutoff: Any, sample_rate: float) -> Any:
    # The spec's range is fixed (20 Hz - 20 kHz); at low sample rates its top lies above
    # Nyquist, where no design exists: such cutoffs act as 0.49 * sample_rate.
    limit = NYQUIST_MARGIN * sample_rate
    if isinstance(cutoff, torch.Tensor):
        return cutoff.clamp(max=limit)
    return min(float(cutoff), limit)


class Biquad(Processor):
    """RBJ biquad (see :func:`ddsp.functional.biquad`) with learnable or driven controls.

    Args:
        sample_rate: Hz.
        kind: one of :data:`ddsp.functional.BIQUAD_KINDS`.
        **values: initial ``cutoff_hz``, ``q``, ``gain_db``.

    Shape: ``(batch, channels, time) -> (batch, channels, time)``.
    Devices: cpu, cuda. Gradients: x and every parameter or control.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (CUTOFF, Q, GAIN)

    def __init__(self, sample_rate: float, kind: str = "lowpass", **values: float) -> None:
        if kind not in BIQUAD_KINDS:
            raise ValueError(f"expected kind in {BIQUAD_KINDS}, got {kind!r}")
        super().__init__(sample_rate, **values)
        self.kind = kind

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        x = check_audio(x)
        c = self.controls(**controls)
        return biquad(
            x,
            self.kind,
            _below_nyquist(c["cutoff_hz"], self.sample_rate),
            c["q"],
            c["gain_db"],
            sample_rate=self.sample_rate,
        )

    def options(self) -> dict[str, Any]:
        return {"kind": self.kind}


class SVF(Processor):
    """Trapezoidal state-variable filter (see :func:`ddsp.functional.svf`).

    Args:
        sample_rate: Hz.
        mode: ``"lowpass"``, ``"bandpass"``, ``"highpass"`` or ``"notch"``.
        **values: initial ``cutoff_hz``, ``resonance``.

    Shape: ``(batch, channels, time) -> (batch, channels, time)``.
    Devices: cpu, cuda. Gradients: x and every parameter or control.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (CUTOFF, RESONANCE)

    def __init__(self, sample_rate: float, mode: str = "lowpass", **values: float) -> None:
        if mode not in SVF_MODES:
            raise ValueError(f"expected mode in {tuple(SVF_MODES)}, got {mode!r}")
        super().__init__(sample_rate, **values)
        self.mode = mode

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        x = check_audio(x)
        c = self.controls(**controls)
        return svf(
            x,
            _below_nyquist(c["cutoff_hz"], self.sample_rate),
            c["resonance"],
            sample_rate=self.sample_rate,
            mode=self.mode,
        )

    def options(self) -> dict[str, Any]:
        return {"mode": self.mode}
