"""Convolution reverb processors: DDSP's parametric noise reverb and a learnable or
measured impulse response (shells over :mod:`ddsp.functional.reverb`)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import convolution_reverb, load_impulse_response, noise_reverb_ir
from ..params import ParamSpec
from ._controls import per_item
from ._options import number_option, seed_option
from .base import Processor, check_audio

__all__ = ["NoiseReverb", "ConvolutionReverb"]


class NoiseReverb(Processor):
    """Parametric noise reverb (see :func:`ddsp.functional.noise_reverb_ir`), mixed in.

    Options: ``max_seconds`` (IR length), ``seed``. Give the input room for the tail.
    Shape: ``(batch, channels, time) -> (batch, channels, time)``.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rt60_s", "s", 0.1, 10.0, 1.5, scale="log", description="decay time (60 dB)"),
        ParamSpec("pre_delay_ms", "ms", 0.0, 200.0, 10.0, description="gap before the tail"),
        ParamSpec("high_rt60_ratio", "", 0.1, 1.5, 0.5, description="high-band decay / rt60"),
        ParamSpec("mix", "", 0.0, 1.0, 0.25, description="dry 0 .. wet 1"),
    )

    # the pre-delay shifts the IR by whole samples: no gradient reaches it
    nondifferentiable: ClassVar[tuple[str, ...]] = ("pre_delay_ms",)

    def __init__(
        self, sample_rate: float, max_seconds: float = 4.0, seed: int = 0, **values: float
    ) -> None:
        super().__init__(sample_rate, **values)
        self.max_seconds = number_option("NoiseReverb", "max_seconds", max_seconds, 0.0, 60.0,
                                         low_open=True)  # fmt: skip
        self.seed = seed_option("NoiseReverb", seed)

    def impulse_response(self) -> torch.Tensor:
        """The current IR, ``(L,)``."""
        return noise_reverb_ir(
            self.rt60_s,
            int(self.max_seconds * self.sample_rate),
            sample_rate=self.sample_rate,
            pre_delay_ms=float(self.pre_delay_ms.detach()),
            high_rt60_ratio=self.high_rt60_ratio,
            seed=self.seed,
        )[0]

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        ir = noise_reverb_ir(
            c["rt60_s"],
            int(self.max_seconds * self.sample_rate),
            sample_rate=self.sample_rate,
            pre_delay_ms=float(torch.as_tensor(c["pre_delay_ms"]).detach().reshape(-1)[0]),
            high_rt60_ratio=c["high_rt60_ratio"],
            seed=self.seed,
        ).to(x.dtype)
        if ir.shape[0] > 1:  # per-item decay times: one IR per batch item
            ir = ir[:, None, :]
        return convolution_reverb(check_audio(x), ir, mix=per_item(c["mix"]))

    def options(self) -> dict[str, Any]:
        return {"max_seconds": self.max_seconds, "seed": self.seed}


class ConvolutionReverb(Processor):
    """Convolution with a learnable impulse response (initially a 1 s noise tail).

    Use :meth:`load` for a measured IR file. Shape: ``(batch, channels, time)`` in and out.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("mix", "", 0.0, 1.0, 0.25, description="dry 0 .. wet 1"),
    )

    def __init__(self, sample_rate: float, ir_seconds: float = 1.0, **values: float) -> None:
        super().__init__(sample_rate, **values)
        ir_seconds = number_option("ConvolutionReverb", "ir_seconds", ir_seconds, 0.0, 60.0,
                                   low_open=True)  # fmt: skip
        n = max(1, round(ir_seconds * sample_rate))
        self.ir = torch.nn.Parameter(
            noise_reverb_ir(ir_seconds / 1.5, n, sample_rate=sample_rate)[0]
        )

    def load(self, path: str, channel: int = 0) -> ConvolutionReverb:
        """Replace the IR by a measured one (resampled to this sample rate)."""
        ir = load_impulse_response(path, sample_rate=self.sample_rate, channel=channel)[0]
        self.ir = torch.nn.Parameter(ir / ir.square().sum().sqrt().clamp_min(1e-12))
        return self

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        return convolution_reverb(check_audio(x), self.ir.to(x.dtype), mix=per_item(c["mix"]))

    def options(self) -> dict[str, Any]:
        return {"ir_seconds": self.ir.shape[0] / self.sample_rate}

    def load_learned_tensors(self, tensors: dict[str, Any], sample_rate: float) -> None:
        """As :meth:`Processor.load_learned_tensors`; an IR saved at another rate is resampled."""
        ir = tensors.get("ir")
        if ir is not None and sample_rate != self.sample_rate:
            import torchaudio.functional as taf

            ir = torch.as_tensor(ir, dtype=torch.float32)
            ir = taf.resample(ir, int(round(sample_rate)), int(round(self.sample_rate)))
            self.ir = torch.nn.Parameter(ir)  # the length follows the rate
            tensors = {**tensors, "ir": ir}
        super().load_learned_tensors(tensors, sample_rate)
