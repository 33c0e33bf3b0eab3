"""Gain (a VCA): audio times a gain in dB, optionally times an envelope."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from ..params import ParamSpec
from ..units import db_to_amp
from .base import Processor, check_audio

__all__ = ["Gain"]


class Gain(Processor):
    """Scale audio by ``gain_db``, and by an envelope when one is given (a VCA).

    Shape: ``x (batch, channels, time)``, ``envelope (batch, time)`` -> like ``x``.
    Gradients: x, gain_db, envelope.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("gain_db", "dB", -60.0, 24.0, 0.0, description="gain"),
    )
    inputs: ClassVar[tuple[str, ...]] = ("x", "envelope")

    stream_inputs: ClassVar[tuple[str, ...]] = ("envelope",)
    per_sample_inputs: ClassVar[tuple[str, ...]] = ("envelope",)

    def forward(
        self, x: torch.Tensor, envelope: torch.Tensor | None = None, **controls: Any
    ) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None, envelope)[0]

    def stream_step(self, x, state, controls, inputs, n):  # type: ignore[override]
        return self._run(x, controls, state, inputs.get("envelope"))

    def stream_fast(self, x, state, controls, inputs, n):
        """No-gradient numpy blocks without an envelope: one multiply."""
        cached = state.get("design")
        if cached is None or cached[0] is not controls:
            amp = db_to_amp(controls["gain_db"])
            amp = amp.detach() if isinstance(amp, torch.Tensor) else torch.tensor(amp)
            if amp.numel() > 1:
                return None
            cached = (controls, np.asarray(float(amp), dtype=x.dtype))
            state["design"] = cached
        return x * cached[1]

    def _run(
        self, x: torch.Tensor, c: dict[str, Any], state: dict | None, envelope: Any = None
    ) -> tuple:
        gain = db_to_amp(c["gain_db"])
        y = x * gain
        if envelope is not None:
            if envelope.shape != (x.shape[0], x.shape[-1]):
                raise ValueError(
                    f"expected envelope of shape (batch, time) = {(x.shape[0], x.shape[-1])}, "
                    f"got {tuple(envelope.shape)}"
                )
            y = y * envelope[:, None, :]
        return y, state
