"""``ExportedModel``: a block tree with its knobs, the module every export format wraps.

``forward(x (batch, in_channels, n), knobs (K,)) -> (batch, out_channels, n)``, float32.
Knob values are in [0, 1] (clipped) and map through their parameters' specs. An effect
takes audio; a voice takes its control signals as input channels, in the order of
``input_names`` (``f0_hz`` in Hz, ``gate`` 0/1, ...). State lives in buffers; a new batch
size allocates silent state; ``reset()`` clears every tail.
"""

import torch
from torch import Tensor, nn

from .blocks.base import Block, SpecMap

__all__ = ["ExportedModel", "Knob"]


class Knob:
    """A knob: its key in the block tree (``"0.threshold_db"``), the parameter's spec and
    its value at export (normalized)."""

    def __init__(self, key: str, spec, default: float, label: str) -> None:
        self.key, self.spec, self.default, self.label = key, spec, float(default), label

    def description(self) -> str:
        unit = f" {self.spec.unit}" if self.spec.unit else ""
        return (
            f"{self.label}: {self.spec.description or self.spec.name}, "
            f"{self.spec.minimum:g}..{self.spec.maximum:g}{unit} ({self.spec.scale})"
        )


class ExportedModel(nn.Module):
    """See the module docstring. Attributes read by the formats: ``sample_rate``,
    ``block_size``, ``in_channels``, ``out_channels``, ``latency``, ``knob_names``,
    ``knob_descriptions``, ``knob_defaults``, ``input_names``."""

    knob_names: list[str]
    knob_keys: list[str]
    knob_descriptions: list[str]
    knob_defaults: list[float]
    input_names: list[str]

    def __init__(
        self,
        root: Block,
        knobs: list[Knob],
        *,
        sample_rate: float,
        block_size: int,
        in_channels: int,
        input_names: list[str],
    ) -> None:
        super().__init__()
        self.root = root
        self.sample_rate = float(sample_rate)
        self.block_size = int(block_size)
        self.in_channels = int(in_channels)
        self.out_channels = int(root.out_channels)
        self.latency = int(root.latency)
        self.input_names = list(input_names)
        self.is_voice = len(self.input_names) > 0
        self.knob_names = [k.label for k in knobs]
        self.knob_keys = [k.key for k in knobs]
        self.knob_descriptions = [k.description() for k in knobs]
        self.knob_defaults = [k.default for k in knobs]
        self.maps = nn.ModuleList([SpecMap(k.spec) for k in knobs])
        self.batch = 1
        root.allocate(1)

    @torch.jit.export
    def reset(self) -> None:
        """Clear every tail, delay line and phase."""
        self.root.allocate(self.batch)

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        """Silent state for ``batch`` signals."""
        self.batch = batch
        self.root.allocate(batch)

    def forward(self, x: Tensor, knobs: Tensor) -> Tensor:
        if x.shape[0] != self.batch:
            self.allocate(x.shape[0])
        inputs: dict[str, Tensor] = {}
        u = knobs.to(torch.float32).clamp(0.0, 1.0)
        for i, spec in enumerate(self.maps):
            inputs[self.knob_keys[i]] = spec(u[i : i + 1]).reshape(1, 1)
        if self.is_voice:
            for j, name in enumerate(self.input_names):
                inputs[name] = x[:, j]
            x = x[:, :0]
        return self.root(x, inputs)
