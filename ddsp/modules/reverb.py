"""Convolution reverb processors: DDSP's parametric noise reverb and a learnable or
measured impulse response (shells over :mod:`ddsp.functional.reverb`)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import convolution_reverb, load_impulse_response, noise_reverb_ir
from ..functional._controls import as_control
from ..functional.reverb import (
    ConvolutionState,
    _tail,
    convolution_state,
    convolve_blocks,
    ir_partitions,
    partition_size,
)
from ..params import ParamSpec
from ._options import number_option, seed_option
from .base import Processor, check_audio

__all__ = ["NoiseReverb", "ConvolutionReverb"]


def _last(value: Any) -> Any:
    """A control's value at the end of the block (the target of a ramp)."""
    return value[..., -1:] if isinstance(value, torch.Tensor) and value.ndim == 3 else value


def _conv_state(batch: int, channels: int, ir_length: int, dtype: Any, device: Any) -> dict:
    size = partition_size(ir_length)
    state = convolution_state((batch, channels), ir_length, size, dtype=dtype, device=device)
    return {"conv": state, "ir": None, "ir_key": None, "parts": None}


def _conv_step(
    x: torch.Tensor, state: dict, ir: torch.Tensor, mix: Any, key: Any, cached: bool
) -> tuple[torch.Tensor, dict]:
    """One block of a convolution reverb; a changed IR crossfades in across the block."""
    conv: ConvolutionState = state["conv"]
    size = conv.chunk.shape[-1]
    parts = state["parts"] if cached else ir_partitions(ir, size)
    m = as_control(mix, x, "mix")
    if state["parts"] is not None and not cached:  # new IR: fade from the old one's output
        # (convolve_blocks writes the delay line in place: the old IR's pass gets a copy)
        old, _ = convolve_blocks(x, *state["parts"], conv._replace(spectra=conv.spectra.clone()))
        if conv.spectra.shape[-2]:  # the pending tail as the new IR makes it
            tail = _tail(conv.spectra, conv.count, parts[1], size)
            conv = conv._replace(tail=tail.detach())
        wet, new = convolve_blocks(x, *parts, conv)
        n = x.shape[-1]
        w = torch.arange(1, n + 1, dtype=x.dtype, device=x.device) / max(n, 1)
        wet = old + w * (wet - old)
    else:
        wet, new = convolve_blocks(x, *parts, conv)
    y = (1 - m) * x + m * wet
    keep = {"ir": ir.detach(), "ir_key": key, "parts": tuple(p.detach() for p in parts)}
    return y, {"conv": new, **keep}


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

    IR_PARAMS = ("rt60_s", "pre_delay_ms", "high_rt60_ratio")

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        x = check_audio(x)
        c = self.controls(**controls)
        return convolution_reverb(x, self._ir(c, x.dtype), mix=c["mix"])

    def _ir(self, c: dict[str, Any], dtype: torch.dtype) -> torch.Tensor:
        """The IR for controls ``c`` (their last value where they vary), ``(L,)`` or
        ``(batch, 1, L)`` for per-item settings."""
        last = {k: _last(c[k]) for k in self.IR_PARAMS}
        ir = noise_reverb_ir(
            last["rt60_s"],
            self.ir_length,
            sample_rate=self.sample_rate,
            pre_delay_ms=float(torch.as_tensor(last["pre_delay_ms"]).detach().reshape(-1)[0]),
            high_rt60_ratio=last["high_rt60_ratio"],
            seed=self.seed,
        ).to(dtype)
        return ir[:, None, :] if ir.shape[0] > 1 else ir[0]  # per-item decay: one IR each

    @property
    def ir_length(self) -> int:
        return int(self.max_seconds * self.sample_rate)

    def options(self) -> dict[str, Any]:
        return {"max_seconds": self.max_seconds, "seed": self.seed}

    # streaming: a zero-latency partitioned convolution; the IR is rebuilt only when its
    # settings change, and then the block crossfades from the old IR's output to the new

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        return _conv_state(batch, channels, self.ir_length, dtype, device)

    def stream_tail(self) -> int:
        return self.ir_length

    def stream_step(self, x, state, controls, inputs, n):  # type: ignore[override]
        key = tuple(
            tuple(torch.as_tensor(_last(controls[k])).detach().flatten().tolist())
            for k in self.IR_PARAMS
        )
        grad = any(isinstance(controls[k], torch.Tensor) and controls[k].requires_grad
                   for k in self.IR_PARAMS)  # fmt: skip
        cached = state.get("ir_key") == key and not grad
        ir = state["ir"] if cached else self._ir(controls, x.dtype)
        return _conv_step(x, state, ir, controls["mix"], key, cached)


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
        x = check_audio(x)
        return convolution_reverb(x, self.ir.to(x.dtype), mix=self.controls(**controls)["mix"])

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        return _conv_state(batch, channels, self.ir.shape[0], dtype, device)

    def stream_tail(self) -> int:
        return int(self.ir.shape[0])

    def stream_step(self, x, state, controls, inputs, n):  # type: ignore[override]
        key = (id(self.ir), self.ir._version)
        cached = state.get("ir_key") == key and not (
            torch.is_grad_enabled() and self.ir.requires_grad
        )
        ir = state["ir"] if cached else self.ir.to(x.dtype)
        return _conv_step(x, state, ir, controls["mix"], key, cached)

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
