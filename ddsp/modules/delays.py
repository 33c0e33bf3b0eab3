"""Delay processors: echo, chorus, flanger and stereo ping-pong (shells over
:mod:`ddsp.functional.delays`)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from ..functional import DelayState, chorus, delay, ping_pong_delay
from ..params import ParamSpec
from ._options import number_option
from .base import Processor, check_audio

__all__ = ["Delay", "Chorus", "Flanger", "PingPongDelay"]


def _line(
    batch: int, rows: int, longest_ms: float, sample_rate: float, dtype, device
) -> DelayState:
    """A silent delay line long enough for ``longest_ms`` (the delay spec's maximum)."""
    n_h = int(math.ceil(longest_ms * sample_rate / 1000.0)) + 2
    return DelayState(torch.zeros(batch, rows, n_h, dtype=dtype, device=device), 0)


class Delay(Processor):
    """Feedback delay / echo (see :func:`ddsp.functional.delay`), modulatable delay time.

    Streams with a line as long as the longest delay the spec allows, so the delay time
    can be automated over its whole range.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("delay_ms", "ms", 1.0, 2000.0, 250.0, scale="log", description="delay time"),
        ParamSpec("feedback", "", -0.95, 0.95, 0.3, description="echo feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.3, description="dry 0 .. wet 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        out = delay(
            x,
            c["delay_ms"],
            sample_rate=self.sample_rate,
            feedback=c["feedback"],
            mix=c["mix"],
            state=None if state is None else state["line"],
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], {"line": out[1]})

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        longest = self.spec("delay_ms").maximum
        return {"line": _line(batch, channels, longest, self.sample_rate, dtype, device)}

    def stream_tail(self) -> int:
        return _echo_tail(self)


def _echo_tail(proc: Processor) -> int:
    """Samples until the echoes fall 60 dB: ``delay * log(1000) / -log|feedback|``."""
    fb = min(abs(float(proc.feedback.detach())), 0.999)
    d = float(proc.delay_ms.detach()) * proc.sample_rate / 1000.0
    repeats = 1 if fb < 1e-3 else math.log(1000.0) / -math.log(fb)
    return int(math.ceil(d * (1 + repeats)))


class Chorus(Processor):
    """Chorus: an LFO-swept delay of 5-40 ms (see :func:`ddsp.functional.chorus`)."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rate_hz", "Hz", 0.05, 10.0, 0.8, scale="log", description="sweep rate"),
        ParamSpec("depth_ms", "ms", 0.0, 4.5, 2.5, description="sweep depth"),
        ParamSpec("centre_ms", "ms", 5.0, 40.0, 15.0, description="mean delay"),
        ParamSpec("feedback", "", -0.9, 0.9, 0.0, description="feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.5, description="dry 0 .. wet 1"),
    )

    def __init__(self, sample_rate: float, lfo_phase: float = 0.0, **values: float) -> None:
        super().__init__(sample_rate, **values)
        self.lfo_phase = number_option(type(self).__name__, "lfo_phase", lfo_phase, 0.0, 1.0)

    def options(self) -> dict[str, Any]:
        # only a phase that is not 0: a default chorus saves as before
        return {"lfo_phase": self.lfo_phase} if self.lfo_phase else {}

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def run_at(self, x: torch.Tensor, starts: list[int] | torch.Tensor) -> torch.Tensor:
        """``x (batch, C, T)`` processed as if item ``b`` began ``starts[b]`` samples into
        the signal (its LFO at that phase, its line silent): crops of one long signal
        scored apart, as matching does, sweep as the whole signal did."""
        return self._run_at(check_audio(x), self.controls(), starts)

    def _run_at(self, x: torch.Tensor, c: dict[str, Any], starts) -> torch.Tensor:
        rate = torch.as_tensor(c["rate_hz"]).detach().to(torch.float64)
        if rate.ndim and rate.shape[-1] > 1:  # a per-sample rate: its first value
            rate = rate[..., :1]
        rate = rate.reshape(-1, 1, 1)
        at = torch.as_tensor(starts, dtype=torch.float64).reshape(-1, 1, 1)
        phase = torch.remainder(self.lfo_phase + rate * at / self.sample_rate, 1.0)
        line = self._silent_line(x.shape[0], x.shape[1], x.dtype, x.device)
        return self._chorus(x, c, (phase, line))

    def _chorus(self, x: torch.Tensor, c: dict[str, Any], state, return_state: bool = False):
        return chorus(
            x,
            sample_rate=self.sample_rate,
            rate_hz=c["rate_hz"],
            depth_ms=c["depth_ms"],
            centre_ms=c["centre_ms"],
            feedback=c["feedback"],
            mix=c["mix"],
            state=state,
            return_state=return_state,
        )

    def _silent_line(self, batch: int, channels: int, dtype, device) -> DelayState:
        """An empty delay line long enough for the longest sweep the specs allow."""
        longest = self.spec("centre_ms").maximum + self.spec("depth_ms").maximum
        return _line(batch, channels, longest, self.sample_rate, dtype, device)

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        if state is None:
            if self.lfo_phase:
                return self._run_at(x, c, [0] * x.shape[0]), None
            return self._chorus(x, c, None), None
        out = self._chorus(x, c, (state["phase"], state["line"]), True)
        return out[0], {"phase": out[1][0], "line": out[1][1]}

    def stream_state(
        self, batch: int, channels: int, *, dtype, device, delay: int = 0, **_: Any
    ) -> dict:
        rate = float(self.rate_hz.detach())
        phase = (self.lfo_phase - rate * delay / self.sample_rate) % 1.0
        phase = torch.tensor([phase], dtype=torch.float64)
        line = self._silent_line(batch, channels, dtype, device)
        return {"phase": phase.to(device), "line": line}

    def stream_tail(self) -> int:
        fb = min(abs(float(self.feedback.detach())), 0.999)
        longest = (float(self.centre_ms.detach()) + float(self.depth_ms.detach())) / 1000.0
        repeats = 1 if fb < 1e-3 else math.log(1000.0) / -math.log(fb)
        return int(math.ceil(longest * self.sample_rate * (1 + repeats)))


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
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        out = ping_pong_delay(
            x,
            c["delay_ms"],
            sample_rate=self.sample_rate,
            feedback=c["feedback"],
            mix=c["mix"],
            state=None if state is None else state["lines"],
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], {"lines": out[1]})

    def stream_channels(self, channels: int) -> int:
        if channels not in (1, 2):
            raise ValueError(
                f"expected 1 or 2 channels into PingPongDelay, got {channels} channels"
            )
        return 2

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        longest = self.spec("delay_ms").maximum  # the sum and difference lines
        return {"lines": _line(batch, 2, longest, self.sample_rate, dtype, device)}

    def stream_tail(self) -> int:
        return _echo_tail(self)
