"""Noise processor: DDSP filtered noise (shell over :mod:`ddsp.functional.noise`)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import filtered_noise, white_noise
from ..functional.noise import NoiseState, filtered_noise_blocks, noise_state
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
    is_source = True
    stream_inputs = ("magnitudes",)
    frame_inputs = ("magnitudes",)

    def __init__(
        self,
        sample_rate: float,
        seed: int | None = None,
        n_bands: int | None = None,
        **values: float,
    ) -> None:
        super().__init__(sample_rate, **values)
        self.seed = seed_option("FilteredNoise", seed, optional=True)
        if n_bands is not None and (
            isinstance(n_bands, bool) or not isinstance(n_bands, int) or n_bands < 2
        ):
            raise ValueError(f"expected n_bands as an integer >= 2 or None, got {n_bands!r}")
        self.n_bands = n_bands

    def forward(
        self,
        magnitudes: torch.Tensor | None = None,
        n_samples: int = 0,
        batch: int = 1,
        **controls: Any,
    ) -> torch.Tensor:
        c = self.controls(**controls)
        if magnitudes is None:  # white noise
            y = white_noise((batch, n_samples), seed=self.seed)
        else:
            self._check_bands(magnitudes)
            y = filtered_noise(magnitudes, n_samples, seed=self.seed)
        return self._gain(y, c)

    def _check_bands(self, magnitudes: torch.Tensor) -> None:
        if self.n_bands is not None and magnitudes.shape[-1] != self.n_bands:
            raise ValueError(
                f"expected magnitudes with {self.n_bands} bands, got shape "
                f"{tuple(magnitudes.shape)}"
            )

    def _gain(self, y: torch.Tensor, c: dict[str, Any]) -> torch.Tensor:
        gain = source_control(gain_amp(c))
        if isinstance(gain, torch.Tensor) and gain.ndim == 1 and gain.shape[0] > 1:
            gain = gain[:, None]
        return (gain * y)[:, None]

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.seed is None else {"seed": self.seed}
        if self.n_bands is not None:
            out["n_bands"] = self.n_bands
        return out

    # streaming: white noise, or (with ``n_bands``) filtered noise in frames of the
    # stream's ``frame_size``; the linear-phase filters make the stream lag by
    # ``n_bands - 1`` samples (their centre), reported as its latency

    @property
    def ir_size(self) -> int:
        return 2 * (self.n_bands - 1) + 1 if self.n_bands else 1

    def stream_latency(self, frame_size: int | None = None) -> int:
        return (self.ir_size - 1) // 2

    def stream_state(
        self, batch: int, channels: int, *, dtype, device, frame_size=None, **_: Any
    ) -> dict:
        if self.n_bands is not None and frame_size is None:
            raise ValueError(
                "a stream of filtered noise needs frame_size= (samples per magnitude frame)"
            )
        hop = frame_size or 1
        noise = noise_state(batch, hop, self.ir_size, self.seed, dtype=dtype, device=device)
        return {"noise": noise, "frame_size": hop}

    def stream_step(self, x, state, controls, inputs, n):  # type: ignore[override]
        noise: NoiseState = state["noise"]
        mags = inputs.get("magnitudes")
        if self.n_bands is None:
            if mags is not None:
                raise ValueError("FilteredNoise without n_bands streams white noise: no magnitudes")
            batch = noise.pending.shape[0]
            y = white_noise(
                (batch, n),
                seed=noise.seed,
                offset=noise.offset,
                dtype=noise.pending.dtype,
                device=noise.pending.device,
            )
            new = noise._replace(offset=noise.offset + n)
        else:
            if mags is None:
                raise ValueError("expected magnitudes (batch, frames, n_bands) for this block")
            self._check_bands(mags)
            y, new = filtered_noise_blocks(mags, n, noise, frame_size=state["frame_size"])
        return self._gain(y, controls), {**state, "noise": new}
