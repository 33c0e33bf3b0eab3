"""Noise processor: DDSP filtered noise (shell over :mod:`ddsp.functional.noise`)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import filtered_noise, white_noise
from ..params import ParamSpec
from ._controls import gain_amp, source_control
from ._options import seed_option
from .base import Processor
from .oscillators import GAIN

__all__ = ["FilteredNoise"]


class FilteredNoise(Processor):
    """DDSP filtered noise (see :func:`ddsp.functional.filtered_noise`); white without magnitudes.

    Shape: ``magnitudes (batch, frames, n_bands)`` -> ``(batch, 1, n_samples)``.
    Gradients: magnitudes, gain_db.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (GAIN,)

    def __init__(self, sample_rate: float, seed: int | None = None, **values: float) -> None:
        super().__init__(sample_rate, **values)
        self.seed = seed_option("FilteredNoise", seed, optional=True)

    def forward(
        self,
        magnitudes: torch.Tensor | None = None,
        n_samples: int = 0,
        batch: int = 1,
        **controls: Any,
    ) -> torch.Tensor:
        c = self.controls(**controls)
        gain = source_control(gain_amp(c))
        if magnitudes is None:  # white noise
            y = white_noise((batch, n_samples), seed=self.seed)
        else:
            y = filtered_noise(magnitudes, n_samples, seed=self.seed)
        if isinstance(gain, torch.Tensor) and gain.ndim == 1 and gain.shape[0] > 1:
            gain = gain[:, None]
        return (gain * y)[:, None]

    def options(self) -> dict[str, Any]:
        return {} if self.seed is None else {"seed": self.seed}
