"""Chains and voices of blocks, wired as the library's stream wires them.

Knobs reach a block through ``inputs`` keyed ``"<node>.<param>"`` (``"0.threshold_db"``
in a chain, ``"filter.cutoff_hz"`` in a voice); each container passes a block its own
keys without the prefix. A voice (:class:`GraphBlock`) runs its nodes in order; each input
is a graph input (``"$gate"``), another node's output or a sum of several, delayed so
that signals that went through different latencies line up (as ``ddsp.Stream`` does), and
modulation adds a control signal to a parameter in its spec's normalized units.
"""

import torch
from torch import Tensor, nn

from .base import Block, SpecMap, param

__all__ = ["ChainBlock", "GraphBlock", "GraphNodeBlock", "Tap", "Connection", "Modulator"]


def _own(inputs: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in inputs.items():
        if key.startswith(prefix):
            out[key[len(prefix) :]] = value
    return out


class ChainBlock(Block):
    """Blocks in series; latency adds up."""

    def __init__(self, blocks: list[Block], in_channels: int) -> None:
        out = blocks[-1].out_channels
        super().__init__("Chain", in_channels, out, sum(b.latency for b in blocks))
        self.blocks = nn.ModuleList(blocks)

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        for block in self.blocks:
            block.allocate(batch)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        y = x
        for i, block in enumerate(self.blocks):
            y = block(y, _own(inputs, str(i) + "."))
        return y


class Tap(nn.Module):
    """One source of an input: a graph input (``$name``) or a node, delayed by ``gap``
    samples (a FIFO carried between blocks)."""

    shape: list[int]  # TorchScript cannot infer the type of an empty list

    def __init__(self, source: str, gap: int, shape: list[int]) -> None:
        super().__init__()
        self.source = source
        self.gap = int(gap)
        self.shape = list(shape)  # the source's shape after batch, without time
        self.register_buffer("fifo", torch.zeros([1] + self.shape + [self.gap]))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.fifo = torch.zeros([batch] + self.shape + [self.gap])

    def forward(self, values: dict[str, Tensor]) -> Tensor:
        value = values[self.source]
        if self.gap == 0:
            return value
        joined = torch.cat([self.fifo.to(value.dtype), value], -1)
        n = value.shape[-1]
        self.fifo.copy_(joined[..., n:])
        return joined[..., :n]


class Connection(nn.Module):
    """A node's argument: the sum of its taps."""

    def __init__(self, argument: str, taps: list[Tap]) -> None:
        super().__init__()
        self.argument = argument
        self.taps = nn.ModuleList(taps)

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        for tap in self.taps:
            tap.allocate(batch)

    def forward(self, values: dict[str, Tensor]) -> Tensor:
        total = torch.zeros(0)
        first = True
        for tap in self.taps:
            v = tap(values)
            if first:
                total = v
                first = False
            else:
                total = total + v
        return total


class Modulator(nn.Module):
    """Per-sample modulation of a parameter: ``u = u_param + amount * source``, clipped to
    [0, 1] and mapped back through the parameter's spec."""

    def __init__(self, parameter: str, tap: Tap, amount: float, spec, base: float) -> None:
        super().__init__()
        self.parameter = parameter
        self.tap = tap
        self.amount = float(amount)
        self.map = SpecMap(spec)
        self.register_buffer("base", torch.tensor([[base]], dtype=torch.float32))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.tap.allocate(batch)

    def forward(self, values: dict[str, Tensor], own: dict[str, Tensor]) -> Tensor:
        base = self.map.normalized(param(own, self.parameter, self.base))
        source = self.tap(values)  # (batch, n) or a one-channel (batch, 1, n) envelope/LFO
        source = source.reshape(source.shape[0], source.shape[-1])
        u = (base + self.amount * source).clamp(0.0, 1.0)
        return self.map(u)  # (batch, n)


class GraphNodeBlock(nn.Module):
    """One node of a voice: its block, its argument connections and its modulators."""

    def __init__(
        self,
        name: str,
        block: Block,
        connections: list[Connection],
        modulators: list[Modulator],
        audio: Connection | None,
    ) -> None:
        super().__init__()
        self.name = name
        self.block = block
        self.connections = nn.ModuleList(connections)
        self.modulators = nn.ModuleList(modulators)
        self.has_audio = audio is not None
        self.audio = nn.ModuleList([] if audio is None else [audio])

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.block.allocate(batch)
        for c in self.connections:
            c.allocate(batch)
        for m in self.modulators:
            m.allocate(batch)
        for a in self.audio:
            a.allocate(batch)

    def forward(
        self, values: dict[str, Tensor], knobs: dict[str, Tensor], silent: Tensor
    ) -> Tensor:
        own = _own(knobs, self.name + ".")
        args: dict[str, Tensor] = {}
        for key, value in own.items():
            args[key] = value
        for c in self.connections:
            args[c.argument] = c(values)
        for m in self.modulators:
            args[m.parameter] = m(values, own)
        x = silent
        for a in self.audio:
            x = a(values)
        return self.block(x, args)


class GraphBlock(Block):
    """A voice: nodes in order; graph inputs arrive in ``inputs`` as ``(batch, n)``
    signals named without the ``$``."""

    input_names: list[str]

    def __init__(
        self, nodes: list[GraphNodeBlock], output: str, input_names: list[str], out_channels: int,
        latency: int,
    ) -> None:  # fmt: skip
        super().__init__("Graph", 0, out_channels, latency)
        self.nodes = nn.ModuleList(nodes)
        self.output = output
        self.input_names = list(input_names)

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        for node in self.nodes:
            node.allocate(batch)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        values: dict[str, Tensor] = {}
        for name in self.input_names:
            values["$" + name] = inputs[name]
        silent = x[:, :0]
        for node in self.nodes:
            values[node.name] = node(values, inputs, silent)
        return values[self.output]
