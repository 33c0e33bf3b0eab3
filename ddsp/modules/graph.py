"""``Graph``: named processors wired by name, with mixing and modulation (a voice).

Each node names a processor and where its inputs come from: a graph input (``"$f0_hz"``),
another node's output (``"osc"``), or a list of either, summed (mixing). A node's
parameters can be modulated per sample by another node's control signal (an envelope,
an LFO): the modulator's value times ``amount`` is added to the parameter in its spec's
normalized units, then clipped to [0, 1] and mapped back (so a cutoff sweep of 0.4 on a
20 Hz - 20 kHz log range spans 4 octaves, and no modulation can leave the range). Nodes
run in the order given; an input may only name earlier nodes. This plays the role of
Magenta DDSP's ProcessorGroup, and a graph saves to and loads from a preset.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .base import Processor

__all__ = ["Graph", "Node", "Modulation"]


@dataclass(frozen=True)
class Modulation:
    """Per-sample modulation of a parameter: ``u = u_param + amount * source`` (normalized)."""

    source: str
    amount: float


@dataclass
class Node:
    """One processor of a graph: its inputs (argument -> source) and modulations."""

    processor: Processor
    inputs: dict[str, str | list[str]] = field(default_factory=dict)
    modulation: dict[str, Modulation] = field(default_factory=dict)


def _arguments(proc: Processor) -> list[str]:
    return [
        p.name
        for p in inspect.signature(proc.forward).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ("self",)
    ]


class Graph(nn.Module):
    """A voice: processors wired by name (see the module docstring).

    Args:
        nodes: name -> :class:`Node`, in running order.
        output: the node whose output the graph returns.

    ``forward(n_samples, **inputs)``: graph inputs by name (``f0_hz=...``, ``gate=...``);
    sources receive ``n_samples`` (and ``batch``) automatically.
    """

    def __init__(self, nodes: Mapping[str, Node], output: str) -> None:
        super().__init__()
        self.processors = nn.ModuleDict()
        self.wiring: dict[str, Node] = {}
        rates = set()
        for name, node in nodes.items():
            if not name.isidentifier():
                raise ValueError(f"expected node names to be identifiers, got {name!r}")
            if not isinstance(node.processor, Processor):
                raise TypeError(
                    f"expected node {name} to hold a Processor, got {type(node.processor).__name__}"
                )
            args = _arguments(node.processor)
            for arg, src in node.inputs.items():
                if arg not in args:
                    raise ValueError(
                        f"node {name}: {type(node.processor).__name__} has no input {arg!r}; "
                        f"it takes {args}"
                    )
                for s in [src] if isinstance(src, str) else src:
                    if not s.startswith("$") and s not in self.wiring:
                        raise ValueError(
                            f"node {name}: input {arg} reads {s!r}, which is not an earlier node"
                        )
            for param, mod in node.modulation.items():
                node.processor.spec(param)  # raises for unknown parameters
                if mod.source not in self.wiring:
                    raise ValueError(
                        f"node {name}: modulation of {param} reads {mod.source!r}, "
                        "not an earlier node"
                    )
            self.processors[name] = node.processor
            self.wiring[name] = node
            rates.add(node.processor.sample_rate)
        if output not in self.wiring:
            raise ValueError(
                f"expected output to name a node, got {output!r}; nodes: {list(self.wiring)}"
            )
        if len(rates) != 1:
            raise ValueError(f"expected one sample rate for all nodes, got {sorted(rates)}")
        self.output = output
        self.sample_rate = rates.pop()

    def forward(self, n_samples: int, **inputs: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {}
        batch = next((t.shape[0] for t in inputs.values() if isinstance(t, torch.Tensor)), 1)

        def read(src: str) -> torch.Tensor:
            if src.startswith("$"):
                if src[1:] not in inputs:
                    raise ValueError(f"graph input {src[1:]!r} is needed; got {sorted(inputs)}")
                return inputs[src[1:]]
            return values[src]

        for name, node in self.wiring.items():
            proc = node.processor
            kwargs: dict[str, Any] = {}
            for arg, src in node.inputs.items():
                kwargs[arg] = read(src) if isinstance(src, str) else sum(read(s) for s in src)
            args = _arguments(proc)
            if "n_samples" in args:
                kwargs["n_samples"] = n_samples
            if "batch" in args:
                kwargs["batch"] = batch
            for param, mod in node.modulation.items():
                spec = proc.spec(param)
                base = spec.to_normalized(getattr(proc, param))
                u = (base + mod.amount * values[mod.source]).clamp(0.0, 1.0)
                kwargs[param] = spec.to_physical(u)  # (batch, n_samples): per sample
            values[name] = proc(**kwargs)
        return values[self.output]

    def __getitem__(self, name: str) -> Processor:
        return self.processors[name]  # type: ignore[return-value]
