"""Dynamics processors: thin shells over :mod:`ddsp.functional.dynamics`."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import DETECTORS, compressor, expander, limiter
from ..params import ParamSpec
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
        c = self.controls(**controls)
        # compressor or expander: one signature, so one shell serves both
        return type(self)._function(
            check_audio(x),
            c["threshold_db"],
            c["ratio"],
            c["attack_ms"],
            c["release_ms"],
            sample_rate=self.sample_rate,
            knee_db=c["knee_db"],
            makeup_db=c["makeup_db"],
            detector=self.detector,
            link_channels=self.link_channels,
        )


class Compressor(_Dynamics):
    """Feed-forward soft-knee compressor (see :func:`ddsp.functional.compressor`).

    Options: ``detector`` (``"peak"``/``"rms"``), ``link_channels`` (default True: one
    gain for all channels, so a stereo image holds).
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
        x = check_audio(x)
        c = self.controls(**controls)
        return limiter(
            x,
            c["threshold_db"],
            c["release_ms"],
            sample_rate=self.sample_rate,
            attack_ms=c["attack_ms"],
            knee_db=c["knee_db"],
            makeup_db=c["makeup_db"],
            link_channels=True,
        )
