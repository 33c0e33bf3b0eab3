"""Delay processors: echo, chorus, flanger and stereo ping-pong (shells over
:mod:`ddsp.functional.delays`)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import chorus, delay, ping_pong_delay
from ..params import ParamSpec
from .base import Processor, check_audio

__all__ = ["Delay", "Chorus", "Flanger", "PingPongDelay"]


class Delay(Processor):
    """Feedback delay / echo (see :func:`ddsp.functional.delay`), modulatable delay time."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("delay_ms", "ms", 1.0, 2000.0, 250.0, scale="log", description="delay time"),
        ParamSpec("feedback", "", -0.95, 0.95, 0.3, description="echo feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.3, description="dry 0 .. wet 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        return delay(
            check_audio(x),
            c["delay_ms"],
            sample_rate=self.sample_rate,
            feedback=c["feedback"],
            mix=c["mix"],
        )


class Chorus(Processor):
    """Chorus: an LFO-swept delay of 5-40 ms (see :func:`ddsp.functional.chorus`)."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rate_hz", "Hz", 0.05, 10.0, 0.8, scale="log", description="sweep rate"),
        ParamSpec("depth_ms", "ms", 0.0, 4.5, 2.5, description="sweep depth"),
        ParamSpec("centre_ms", "ms", 5.0, 40.0, 15.0, description="mean delay"),
        ParamSpec("feedback", "", -0.9, 0.9, 0.0, description="feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.5, description="dry 0 .. wet 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        return chorus(
            check_audio(x),
            sample_rate=self.sample_rate,
            rate_hz=c["rate_hz"],
            depth_ms=c["depth_ms"],
            centre_ms=c["centre_ms"],
            feedback=c["feedback"],
            mix=c["mix"],
        )


class Flanger(Chorus):
    """Flanger: a short (2.5-10 ms) swept delay with feedback, comb-filter sweeps."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rate_hz", "Hz", 0.05, 5.0, 0.3, scale="log", description="sweep rate"),
        ParamSpec("depth_ms", "ms", 0.0, 2.0, 1.5, description="sweep depth"),
        ParamSpec("centre_ms", "ms", 2.5, 10.0, 3.0, description="mean delay"),
        ParamSpec("feedback", "", -0.95, 0.95, 0.6, description="feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.5, description="dry 0 .. wet 1"),
    )


class PingPongDelay(Processor):
    """Stereo ping-pong delay (see :func:`ddsp.functional.ping_pong_delay`).

    Shape: ``(batch, C, time) -> (batch, 2, time)``, ``C`` in {1, 2}.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("delay_ms", "ms", 1.0, 2000.0, 300.0, scale="log", description="per bounce"),
        ParamSpec("feedback", "", -0.95, 0.95, 0.5, description="echo feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.3, description="dry 0 .. wet 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        return ping_pong_delay(
            check_audio(x),
            c["delay_ms"],
            sample_rate=self.sample_rate,
            feedback=c["feedback"],
            mix=c["mix"],
        )
