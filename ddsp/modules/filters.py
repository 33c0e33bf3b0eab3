"""Filter processors: thin shells over :mod:`ddsp.functional.filters`."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from ..functional import BIQUAD_KINDS, SVF_MODES, LFilterState, biquad, svf
from ..functional.filters import _rbj_design
from ..ops import sos_step
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


def _silent_sections(batch: int, channels: int, k: int, dtype: Any, device: Any) -> dict:
    """The state of ``k`` biquads in series: their last inputs and outputs (DF-I), stacked
    ``(batch, channels, k, 2)`` so one kernel can step them all (``kernels/sos.py``)."""
    zeros = torch.zeros(batch, channels, k, 2, dtype=dtype, device=device)
    return {"x": zeros, "y": zeros.clone()}


def _band_states(state: dict, k: int) -> list[LFilterState]:
    return [LFilterState(state["x"][..., i, :], state["y"][..., i, :]) for i in range(k)]


def _stacked(states: list[LFilterState]) -> dict:
    return {
        "x": torch.stack([s.x for s in states], -2),
        "y": torch.stack([s.y for s in states], -2),
    }


def _sections_fast(
    x: np.ndarray, state: dict, controls: dict, design: Any, sample_rate: float
) -> np.ndarray | None:
    """Run biquads in series with the streaming kernel on a numpy block ``(B, C, n)``, the
    coefficients designed once per set of controls (kept in the state); None when the
    controls differ per item (the differentiable path handles those)."""
    cached = state.get("design")
    if cached is None or cached[0] is not controls:
        values = [v for band in design() for v in band[1:]]
        if any(isinstance(v, torch.Tensor) and v.numel() > 1 for v in values):
            return None
        rows = []
        for kind, fc, q, gain in design():
            b, a = _rbj_design(kind, _as_float(fc), _as_float(q), _as_float(gain), sample_rate)
            rows.append(torch.cat([b.reshape(3), a.reshape(3)[1:]]))
        sos = torch.stack(rows).to(torch.float64).numpy()
        batch, channels, _ = x.shape
        k = state["x"].shape[-2]
        views = tuple(state[s].view(batch * channels, k, 2).numpy() for s in ("x", "y"))
        cached = (controls, sos, views)
        state["design"] = cached
    batch, channels, n = x.shape
    zx, zy = cached[2]
    y = sos_step(np.ascontiguousarray(x).reshape(batch * channels, n), cached[1], zx, zy)
    return y.reshape(batch, channels, n)


def _as_float(value: Any) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


# A biquad cascade as data: per section (kind, cutoff, q, gain), each a parameter name or a
# constant. The streaming kernel and the exported filters (ddsp.export) design from it.
Section = tuple[str, "str | float", "str | float", "str | float"]


def section_design(
    sections: list[Section], controls: dict, sample_rate: float
) -> list[tuple[str, Any, Any, Any]]:
    """``(kind, cutoff_hz, q, gain_db)`` per section for these controls (cutoffs kept
    below Nyquist)."""

    def value(v: Any) -> Any:
        return controls[v] if isinstance(v, str) else v

    return [
        (kind, _below_nyquist(value(fc), sample_rate), value(q), value(g))
        for kind, fc, q, g in sections
    ]


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
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        out = biquad(
            x,
            self.kind,
            _below_nyquist(c["cutoff_hz"], self.sample_rate),
            c["q"],
            c["gain_db"],
            sample_rate=self.sample_rate,
            zi=None if state is None else _band_states(state, 1)[0],
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], _stacked([out[1]]))

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        return _silent_sections(batch, channels, 1, dtype, device)

    def sections(self) -> list[Section]:
        """The filter as a cascade of biquads (see :func:`section_design`)."""
        return [(self.kind, "cutoff_hz", "q", "gain_db")]

    def stream_fast(self, x, state, controls, inputs, n):
        """No-gradient blocks with constant controls: the streaming biquad kernel."""

        def design() -> list[tuple]:
            return section_design(self.sections(), controls, self.sample_rate)

        return _sections_fast(x, state, controls, design, self.sample_rate)

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
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        out = svf(
            x,
            _below_nyquist(c["cutoff_hz"], self.sample_rate),
            c["resonance"],
            sample_rate=self.sample_rate,
            mode=self.mode,
            zi=None if state is None else state["svf"],
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], {"svf": out[1]})

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        return {"svf": torch.zeros(batch, channels, 2, dtype=dtype, device=device)}

    def options(self) -> dict[str, Any]:
        return {"mode": self.mode}
