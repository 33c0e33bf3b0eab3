"""Gain (a VCA): audio times a gain in dB, optionally times an envelope."""

from __future__ import annotations

from typing import Any, ClassVar

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

    def forward(
        self, x: torch.Tensor, envelope: torch.Tensor | None = None, **controls: Any
    ) -> torch.Tensor:
        x = check_audio(x)
        gain = db_to_amp(self.controls(**controls)["gain_db"])
        y = x * gain
        if envelope is not None:
            if envelope.shape != (x.shape[0], x.shape[-1]):
                raise ValueError(
                    f"expected envelope of shape (batch, time) = {(x.shape[0], x.shape[-1])}, "
                    f"got {tuple(envelope.shape)}"
                )
            y = y * envelope[:, None, :]
        return y
