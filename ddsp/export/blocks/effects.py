"""Memoryless effects: gain (a VCA), distortion, panning and stereo width.

Their controls are a ``(1, 1)`` knob, a ``(batch, n)`` modulation or the export-time value;
:func:`~ddsp.export.blocks.base.per_sample` shapes any of them to broadcast over
``(batch, channels, n)``.
"""

import math

import torch
from torch import Tensor

from ...functional.effects import _shape
from .base import Block, ExportError, constant, knob_values, param, per_sample

__all__ = ["GainBlock", "DistortionBlock", "PannerBlock", "StereoWidthBlock"]


class GainBlock(Block):
    """``Gain``: ``x * 10^(gain_db / 20)``, times ``inputs["envelope"] (batch, [1,] n)``."""

    def __init__(self, proc, channels: int, block_size: int, knob_params: list[str]) -> None:
        values = knob_values(proc, knob_params)
        super().__init__("Gain", channels, channels)
        self.register_buffer("gain_db", constant(values["gain_db"]))

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        db = per_sample(param(inputs, "gain_db", self.gain_db))
        y = x * torch.pow(10.0, db / 20.0).to(x.dtype)
        if "envelope" in inputs:  # (batch, n), or (batch, 1, n) from an envelope's block
            env = inputs["envelope"]
            y = y * env.reshape(env.shape[0], 1, env.shape[-1]).to(x.dtype)
        return y


class DistortionBlock(Block):
    """``Distortion``: the library's waveshapers, mixed with the dry signal."""

    def __init__(self, proc, channels: int, block_size: int, knob_params: list[str]) -> None:
        values = knob_values(proc, knob_params)
        super().__init__("Distortion", channels, channels)
        self.shape = str(proc.shape)
        for key in ("drive_db", "bias", "mix", "output_db"):
            self.register_buffer(key, constant(values[key]))

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        drive = torch.pow(10.0, per_sample(param(inputs, "drive_db", self.drive_db)) / 20.0)
        b = per_sample(param(inputs, "bias", self.bias))
        m = per_sample(param(inputs, "mix", self.mix))
        out = torch.pow(10.0, per_sample(param(inputs, "output_db", self.output_db)) / 20.0)
        wet = _shape(drive * x + b, self.shape) - _shape(b, self.shape)
        return ((m * wet + (1 - m) * x) * out).to(x.dtype)


class PannerBlock(Block):
    """``Panner``: constant-power gains ``cos``/``sin`` of ``(position + 1) pi / 4``; mono
    or stereo in, stereo out."""

    def __init__(self, proc, channels: int, block_size: int, knob_params: list[str]) -> None:
        values = knob_values(proc, knob_params)
        if channels not in (1, 2):
            raise ExportError(f"Panner takes 1 or 2 channels, got {channels}")
        super().__init__("Panner", channels, 2)
        self.register_buffer("position", constant(values["position"]))
        self.boost = math.sqrt(2) ** (channels - 1)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        angle = (per_sample(param(inputs, "position", self.position)) + 1) * (math.pi / 4)
        gains = torch.cat([torch.cos(angle), torch.sin(angle)], 1) * self.boost
        if x.shape[1] == 2:
            return (x * gains).to(x.dtype)
        return (x.expand(x.shape[0], 2, x.shape[2]) * gains).to(x.dtype)


class StereoWidthBlock(Block):
    """``StereoWidth``: mid/side, ``side *= width``; stereo in and out."""

    def __init__(self, proc, channels: int, block_size: int, knob_params: list[str]) -> None:
        values = knob_values(proc, knob_params)
        if channels != 2:
            raise ExportError(f"StereoWidth takes 2 channels, got {channels}")
        super().__init__("StereoWidth", 2, 2)
        self.register_buffer("width", constant(values["width"]))

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        w = per_sample(param(inputs, "width", self.width))[:, 0]
        mid = (x[:, 0] + x[:, 1]) / 2
        side = (x[:, 0] - x[:, 1]) / 2 * w
        return torch.stack([mid + side, mid - side], 1).to(x.dtype)
