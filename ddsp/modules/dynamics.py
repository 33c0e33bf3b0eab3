"""Dynamics processors: thin shells over :mod:`ddsp.functional.dynamics`."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch

from ..functional import DETECTORS, DynamicsState, compressor, expander, limiter
from ..functional.dynamics import _FLOOR
from ..ops import dynamics_step
from ..params import ParamSpec
from ..units import ms_to_coef
from ._options import flag_option
from .base import Processor, check_audio

__all__ = ["Compressor", "Limiter", "Expander"]

THRESHOLD = ParamSpec("threshold_db", "dB", -60.0, 0.0, -18.0, description="threshold")
RATIO = ParamSpec("ratio", "", 1.0, 20.0, 4.0, scale="log", description="compression ratio")
ATTACK = ParamSpec("attack_ms", "ms", 0.05, 200.0, 10.0, scale="log", description="10-90 % attack")
RELEASE = ParamSpec(
    "release_ms", "ms", 5.0, 3000.0, 100.0, scale="log", description="10-90 % release"
)
KNEE = ParamSpec("knee_db", "dB", 0.0, 24.0, 6.0, description="knee width")
MAKEUP = ParamSpec("makeup_db", "dB", 0.0, 24.0, 0.0, description="make-up gain")


def _silent(
    batch: int, channels: int, linked: bool, detector: str, dtype: Any, device: Any
) -> dict:
    """The state of a silent stream: unity gain, an empty RMS detector."""
    gain = torch.ones(batch, 1 if linked else channels, 1, dtype=dtype, device=device)
    power = torch.zeros(batch, channels, dtype=dtype, device=device)
    return {"dynamics": DynamicsState(gain, power if detector in ("rms", "envelope") else None)}


_FLOOR2 = _FLOOR**2


def _dynamics_fast(
    proc: Processor, x: np.ndarray, state: dict, controls: dict, detector: str, compress: bool
) -> np.ndarray:
    """No-gradient numpy blocks with constant controls: the streaming dynamics kernel."""
    cached = state.get("design")
    if cached is None or cached[0] is not controls:
        sr = proc.sample_rate

        def value(name: str) -> torch.Tensor:
            v = controls[name]
            v = v.detach() if isinstance(v, torch.Tensor) else torch.tensor(float(v))
            return v.to(torch.float64).reshape(-1)

        cols = [
            value("threshold_db"),
            value("ratio"),
            value("knee_db"),
            ms_to_coef(value("attack_ms"), sr),
            ms_to_coef(value("release_ms"), sr),
            torch.pow(10.0, value("makeup_db") / 20.0),
        ]
        batch, channels, _ = x.shape
        p = torch.stack([c.expand(batch) for c in torch.broadcast_tensors(*cols)], -1)
        dyn: DynamicsState = state["dynamics"]
        power = dyn.power if dyn.power is not None else torch.zeros(batch, channels)
        gain = dyn.gain.view(dyn.gain.shape[0], dyn.gain.shape[1])  # the state, in place
        cached = (controls, p.contiguous().numpy(), power.numpy(), gain.numpy())
        state["design"] = cached
    _, p, power, gain = cached
    rms_coef = ms_to_coef(10.0, proc.sample_rate)
    return dynamics_step(np.ascontiguousarray(x), p, rms_coef, power, gain, _FLOOR2,
                         compress, detector == "rms")  # fmt: skip


class _Dynamics(Processor):
    def __init__(
        self,
        sample_rate: float,
        detector: str = "peak",
        link_channels: bool = True,
        **values: float,
    ) -> None:
        if detector not in DETECTORS:
            raise ValueError(f"expected detector in {DETECTORS}, got {detector!r}")
        super().__init__(sample_rate, **values)
        self.detector = detector
        self.link_channels = flag_option(type(self).__name__, "link_channels", link_channels)

    def options(self) -> dict[str, Any]:
        return {"detector": self.detector, "link_channels": self.link_channels}

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        # compressor or expander: one signature, so one shell serves both
        out = type(self)._function(
            x,
            c["threshold_db"],
            c["ratio"],
            c["attack_ms"],
            c["release_ms"],
            sample_rate=self.sample_rate,
            knee_db=c["knee_db"],
            makeup_db=c["makeup_db"],
            detector=self.detector,
            link_channels=self.link_channels,
            state=None if state is None else state["dynamics"],
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], {"dynamics": out[1]})

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        return _silent(batch, channels, self.link_channels, self.detector, dtype, device)

    def stream_fast(self, x, state, controls, inputs, n):
        if self.detector == "envelope":
            return None  # no numba kernel for it: the torch path streams it
        return _dynamics_fast(self, x, state, controls, self.detector, type(self) is not Expander)


class Compressor(_Dynamics):
    """Feed-forward soft-knee compressor (see :func:`ddsp.functional.compressor`).

    Options: ``detector`` (``"peak"``/``"rms"``/``"envelope"``: the last smooths the level,
    not the gain, as JUCE's and so pedalboard's compressor does), ``link_channels``
    (default True: one gain for all channels, so a stereo image holds).
    Shape: ``(batch, channels, time) -> (batch, channels, time)``.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (THRESHOLD, RATIO, ATTACK, RELEASE, KNEE, MAKEUP)
    _function = staticmethod(compressor)


class Expander(_Dynamics):
    """Downward expander / gate (see :func:`ddsp.functional.expander`).

    Shape: ``(batch, channels, time) -> (batch, channels, time)``.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("threshold_db", "dB", -90.0, 0.0, -40.0, description="threshold"),
        ParamSpec("ratio", "", 1.0, 50.0, 2.0, scale="log", description="expansion ratio"),
        ATTACK,
        RELEASE,
        KNEE,
        MAKEUP,
    )
    _function = staticmethod(expander)


class Limiter(Processor):
    """Peak limiter, infinite ratio, no look-ahead (see :func:`ddsp.functional.limiter`).

    Shape: ``(batch, channels, time) -> (batch, channels, time)``; channels linked.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("threshold_db", "dB", -30.0, 0.0, -1.0, description="ceiling"),
        ParamSpec("attack_ms", "ms", 0.01, 20.0, 0.1, scale="log", description="10-90 % attack"),
        RELEASE,
        ParamSpec("knee_db", "dB", 0.0, 12.0, 0.0, description="knee width"),
        MAKEUP,
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        out = limiter(
            x,
            c["threshold_db"],
            c["release_ms"],
            sample_rate=self.sample_rate,
            attack_ms=c["attack_ms"],
            knee_db=c["knee_db"],
            makeup_db=c["makeup_db"],
            link_channels=True,
            state=None if state is None else state["dynamics"],
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], {"dynamics": out[1]})

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        return _silent(batch, channels, True, "peak", dtype, device)

    def stream_fast(self, x, state, controls, inputs, n):
        return _dynamics_fast(self, x, state, {**controls, "ratio": math.inf}, "peak", True)
