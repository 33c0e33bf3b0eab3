"""The block protocol: a processor's inference path as a scriptable module.

A block is an ``nn.Module`` that TorchScript scripts and ``torch.export`` traces:

    forward(x (batch, in_channels, n), inputs: dict[str, Tensor]) -> (batch, out_channels, n)

Its state (filter memories, envelope levels, delay lines, phases) lives in buffers for one
batch size; :meth:`Block.allocate` makes silent state for a batch (``reset`` is
``allocate`` at the current size). ``inputs`` holds, by name, per-block parameter values
in physical units, shape ``(1, 1)`` (knobs), and per-sample signals ``(batch, n)`` (a
source's inputs, modulation); a parameter absent from ``inputs`` keeps its value from
export time. Knob changes take effect at the next block (no ramp): compare with
``Stream(..., automation="step")``. Blocks run recursions in float64 and return the
input's dtype.
"""

import math
from typing import Any

import torch
from torch import Tensor, nn

from ...errors import ExportError
from ...params import SCALES, ParamSpec

__all__ = [
    "Block",
    "exporting",
    "param",
    "values_of",
    "SpecMap",
    "to_physical",
    "to_normalized",
    "ExportError",
]


class Block(nn.Module):
    """Base of the scriptable inference paths (see the module docstring).

    Attributes: ``name`` (the processor's class), ``in_channels``, ``out_channels``,
    ``latency`` (samples the output lags the offline output).
    """

    def __init__(self, name: str, in_channels: int, out_channels: int, latency: int = 0) -> None:
        super().__init__()
        self.name = name
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.latency = int(latency)
        self.batch = 1

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        """Silent state for ``batch`` signals (blocks with state override this)."""
        self.batch = batch

    @torch.jit.export
    def reset(self) -> None:
        self.allocate(self.batch)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError


@torch.jit.unused
def exporting() -> bool:
    """Whether ``torch.export`` is tracing. Blocks take their compiled paths on it, always
    behind ``torch.jit.is_scripting()`` (TorchScript never calls it)."""
    return bool(torch.compiler.is_exporting())


def values_of(proc: Any) -> dict[str, float]:
    """A processor's parameter values in physical units, as its stream reads them."""
    return {s.name: float(getattr(proc, s.name).detach()) for s in proc.specs}


def knob_values(proc: Any, knob_params: list[str]) -> dict[str, float]:
    """:func:`values_of`, after checking that every knob names a parameter of ``proc``
    (``ExportError`` naming the processor otherwise)."""
    values = values_of(proc)
    unknown = [k for k in knob_params if k not in values]
    if unknown:
        raise ExportError(f"{type(proc).__name__} has no parameter(s) {unknown}")
    return values


def constant(value: float) -> Tensor:
    """An export-time value as a ``(1, 1)`` float32 buffer."""
    return torch.tensor([[value]], dtype=torch.float32)


def per_sample(v: Tensor) -> Tensor:
    """A control ``(1, 1)`` or ``(batch, [1,] n)`` as ``(batch or 1, 1, n or 1)``."""
    return v.reshape(v.shape[0], 1, v.shape[-1])


def param(inputs: dict[str, Tensor], name: str, default: Tensor) -> Tensor:
    """``inputs[name]`` when given (a knob or a modulation), else the export-time value."""
    if name in inputs:
        return inputs[name]
    return default


# --------------------------------------------------------------------------- spec maps
# ParamSpec's maps as scriptable functions of numbers: an exported model maps its knobs
# (0..1) and modulation through them without the library.

_SCALE_CODE = {name: i for i, name in enumerate(SCALES)}  # linear 0, log 1, power 2


def _pow(base: Tensor, exponent: float) -> Tensor:
    return torch.where(base > 0, torch.pow(base.clamp_min(1e-30), exponent), 0.0)


def to_physical(
    u: Tensor, lo: float, hi: float, scale: int, curve: float, symmetric: bool
) -> Tensor:
    """:meth:`ParamSpec.to_physical` on a tensor, the spec given as numbers."""
    if scale == 0:
        return lo + (hi - lo) * u
    if scale == 1:
        return lo * torch.pow(torch.full_like(u, hi / lo), u)
    if not symmetric:
        return lo + (hi - lo) * _pow(u, curve)
    s = 2 * u - 1
    return (lo + hi) / 2 + (hi - lo) / 2 * torch.sign(s) * _pow(s.abs(), curve)


def to_normalized(
    v: Tensor, lo: float, hi: float, scale: int, curve: float, symmetric: bool
) -> Tensor:
    """:meth:`ParamSpec.to_normalized` on a tensor, the spec given as numbers."""
    if scale == 0:
        return (v - lo) / (hi - lo)
    if scale == 1:
        return torch.log(v / lo) / math.log(hi / lo)
    if not symmetric:
        return _pow((v - lo) / (hi - lo), 1.0 / curve)
    s = (v - (lo + hi) / 2) / ((hi - lo) / 2)
    return (torch.sign(s) * _pow(s.abs(), 1.0 / curve) + 1) / 2


class SpecMap(nn.Module):
    """One parameter's spec as a scriptable map between [0, 1] and physical units."""

    def __init__(self, spec: ParamSpec) -> None:
        super().__init__()
        self.lo, self.hi = float(spec.minimum), float(spec.maximum)
        self.scale = _SCALE_CODE[spec.scale]
        self.curve, self.symmetric = float(spec.curve), bool(spec.symmetric)

    def forward(self, u: Tensor) -> Tensor:
        return to_physical(u, self.lo, self.hi, self.scale, self.curve, self.symmetric)

    @torch.jit.export
    def normalized(self, v: Tensor) -> Tensor:
        return to_normalized(v, self.lo, self.hi, self.scale, self.curve, self.symmetric)
