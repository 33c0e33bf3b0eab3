"""The nodes a :class:`~ddsp.streaming.Stream` runs: one processor, a chain, or a voice graph.

A node holds the state of its processors, tracks their parameters between blocks (to
ramp automation) and reports latency, tail and output channels. Nodes validate what they
can before touching any state, and replace their state only after a block succeeded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..modules.base import _RAW, Processor
from ..modules.chain import Chain
from ..modules.graph import Graph, _arguments

__all__ = ["ProcessorNode", "ChainNode", "GraphNode"]


def _needs_grad(x: torch.Tensor | None, proc: Processor) -> bool:
    if not torch.is_grad_enabled():
        return False
    if x is not None and x.requires_grad:
        return True
    return any(p.requires_grad for p in proc.parameters())


class ProcessorNode:
    """One processor with its state, automation ramps and (optionally) a fast path."""

    def __init__(self, proc: Processor, spec: dict[str, Any], *, delay: int) -> None:
        self.proc, self.spec, self.delay = proc, spec, delay
        self.is_source = proc.is_source
        self.input_names = set(proc.stream_inputs)
        self.per_sample = set(proc.per_sample_inputs)
        if spec["frame_size"] is not None:
            self.per_sample -= set(proc.frame_inputs)
        self.in_channels = spec["channels"]
        self.out_channels = (
            proc.stream_channels(1) if proc.is_source else proc.stream_channels(spec["channels"])
        )
        self.latency = proc.stream_latency(spec["frame_size"])
        self.tail = proc.stream_tail()
        self._raws = [getattr(proc, _RAW + s.name) for s in proc.specs]
        self._specs = set(proc.spec_names())
        self._fast = getattr(proc, "stream_fast", None)
        self.reset()

    def reset(self) -> None:
        s = self.spec
        self.state = self.proc.stream_state(
            s["batch"],
            self.in_channels,
            dtype=s["dtype"],
            device=s["device"],
            delay=self.delay,
            frame_size=s["frame_size"],
        )
        self._u: dict[str, torch.Tensor] | None = None  # normalized values of the last block
        self._versions: tuple | None = None
        self._constant: dict[str, Any] | None = None

    # ------------------------------------------------------------------ controls

    def _versions_now(self) -> tuple:
        return tuple([p._version for p in self._raws])

    def controls(
        self, n: int, overrides: dict[str, Any], grad: bool
    ) -> tuple[dict[str, Any], bool, Any]:
        """This block's controls, whether they are ramped, and a commit callback.

        Unchanged parameters (same tensor versions, no override) reuse the previous
        block's values, detached, unless gradients are wanted.
        """
        proc = self.proc
        versions = self._versions_now()
        if not overrides and not grad and versions == self._versions and self._constant:
            return self._constant, False, lambda: None
        current: dict[str, Any] = {}
        u_now: dict[str, torch.Tensor] = {}
        per_sample: set[str] = set()  # controls given for every sample: taken as they are
        for spec in proc.specs:
            value = overrides.get(spec.name)
            if value is None:
                value = getattr(proc, spec.name)
                if not grad:
                    value = value.detach()
            elif not isinstance(value, torch.Tensor):
                value = float(value)
            elif value.ndim == 2 and value.shape[-1] == n and n > 1:
                per_sample.add(spec.name)
            current[spec.name] = value
            last = value[..., -1:] if spec.name in per_sample else value
            u_now[spec.name] = torch.as_tensor(
                spec.to_normalized(torch.as_tensor(last, dtype=torch.float64).detach())
            )
        ramped = False
        controls: dict[str, Any] = {}
        if self._u is not None and n > 0 and self.spec["ramp"]:
            w = torch.arange(1, n + 1, dtype=torch.float64, device=self.spec["device"]) / n
            for spec in proc.specs:
                if spec.name in per_sample:
                    continue
                prev, now = self._u[spec.name], u_now[spec.name]
                if prev.shape == now.shape and bool(torch.equal(prev, now)):
                    continue
                value = current[spec.name]
                u_cur = spec.to_normalized(
                    value if isinstance(value, torch.Tensor) else torch.tensor(value)
                )
                u_cur = torch.as_tensor(u_cur).to(torch.float64)
                start = prev.to(u_cur.device)
                u = start.reshape(-1, 1) + (u_cur.reshape(-1, 1) - start.reshape(-1, 1)) * w
                controls[spec.name] = spec.to_physical(u.clamp(0.0, 1.0)).to(self.spec["dtype"])
                ramped = True
        for name, value in current.items():
            controls.setdefault(name, value)
        shaped = proc.controls(**controls)

        def commit() -> None:
            self._u = u_now
            self._versions = versions
            self._constant = None if (ramped or overrides or grad) else shaped

        if not ramped and not overrides and not grad:
            commit()
            return shaped, False, lambda: None
        return shaped, ramped, commit

    # ------------------------------------------------------------------ processing

    def process(self, x: torch.Tensor | None, n: int, inputs: dict[str, Any]) -> torch.Tensor:
        proc = self.proc
        specs = self._specs
        if inputs:
            overrides = {k: v for k, v in inputs.items() if k in specs}
            others = {k: v for k, v in inputs.items() if k not in specs}
            unknown = sorted(set(others) - self.input_names)
            if unknown:
                raise ValueError(
                    f"unknown input(s) {unknown} for {type(proc).__name__}; expected some of "
                    f"{sorted(self.input_names | specs)}"
                )
        else:
            overrides, others = inputs, inputs
        is_np = isinstance(x, np.ndarray)
        grad = not is_np and torch.is_grad_enabled() and _needs_grad(x, proc)
        controls, ramped, commit = self.controls(n, overrides, grad)
        fast = self._fast
        if fast is not None and not grad and not ramped and not others:
            # the inference fast path: numpy arrays and numba kernels, state in place
            x_np = x if is_np or x is None else (x.numpy() if x.device.type == "cpu" else False)
            if x_np is not False:
                y = fast(x_np, self.state, controls, others, n)
                if y is not None:
                    commit()
                    return y if is_np or x is None else torch.from_numpy(y)
        xt = torch.from_numpy(x) if is_np else x
        y, state = proc.stream_step(xt, self.state, controls, others, n)
        self.state = state
        commit()
        return y.detach().numpy() if is_np else y


class ChainNode:
    """Processors in series: each starts its clock where the latency before it ends."""

    def __init__(self, chain: Chain, spec: dict[str, Any]) -> None:
        self.nodes: list[ProcessorNode] = []
        delay, channels = 0, spec["channels"]
        for i, proc in enumerate(chain):
            if proc.is_source:
                raise ValueError(f"{type(proc).__name__} is a source, not an effect for a chain")
            try:
                node = ProcessorNode(proc, {**spec, "channels": channels}, delay=delay)
            except ValueError as e:  # say which step refused the audio, as Chain does
                raise ValueError(f"{type(proc).__name__} (chain step {i + 1}): {e}") from e
            self.nodes.append(node)
            delay += node.latency
            channels = node.out_channels
        self.is_source = False
        self.input_names: set[str] = set()
        self.per_sample: set[str] = set()
        self.out_channels = channels
        self.latency = delay
        self.tail = sum(node.tail for node in self.nodes)

    def reset(self) -> None:
        for node in self.nodes:
            node.reset()

    def process(self, x: torch.Tensor | None, n: int, inputs: dict[str, Any]) -> torch.Tensor:
        if inputs:
            raise ValueError(
                f"a chain takes no controls per block (got {sorted(inputs)}); set the "
                "processors' parameters instead: the stream ramps them"
            )
        y = x
        for node in self.nodes:
            y = node.process(y, n, {})
        return y


class _Fifo:
    """A delay of ``delay`` samples on ``(batch, ..., n)`` signals (latency alignment)."""

    def __init__(self, delay: int) -> None:
        self.delay = delay
        self.buffer: torch.Tensor | None = None

    def reset(self) -> None:
        self.buffer = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.delay == 0:
            return x
        if self.buffer is None:
            self.buffer = x.new_zeros((*x.shape[:-1], self.delay))
        joined = torch.cat([self.buffer, x], -1)
        self.buffer = joined[..., joined.shape[-1] - self.delay :].detach()
        return joined[..., : x.shape[-1]]


class GraphNode:
    """A voice: nodes run in order, each input aligned to the latest latency it meets."""

    def __init__(self, graph: Graph, spec: dict[str, Any]) -> None:
        self.graph = graph
        self.nodes: dict[str, ProcessorNode] = {}
        self.node_latency: dict[str, int] = {}
        self.fifos: dict[tuple[str, str], _Fifo] = {}
        channels: dict[str, int] = {}
        self.input_names: set[str] = set()
        for name, wiring in graph.wiring.items():
            proc = wiring.processor
            sources = [s for src in wiring.inputs.values() for s in _sources(src)]
            sources += [m.source for m in wiring.modulation.values()]
            self.input_names |= {s[1:] for s in sources if s.startswith("$")}
            lat_in = max((self._latency(s) for s in sources), default=0)
            x_src = wiring.inputs.get("x")
            in_ch = max((channels.get(s, 1) for s in _sources(x_src)), default=1) if x_src else 1
            node = ProcessorNode(proc, {**spec, "channels": in_ch}, delay=lat_in)
            self.nodes[name] = node
            channels[name] = node.out_channels
            self.node_latency[name] = lat_in + node.latency
            for s in sources:
                gap = lat_in - self._latency(s)
                if gap:
                    self.fifos[(name, s)] = _Fifo(gap)
        self.is_source = True
        self.per_sample = set(self.input_names)
        self.out_channels = channels[graph.output]
        self.latency = self.node_latency[graph.output]
        self.tail = sum(node.tail for node in self.nodes.values())

    def _latency(self, source: str) -> int:
        return 0 if source.startswith("$") else self.node_latency[source]

    def reset(self) -> None:
        for node in self.nodes.values():
            node.reset()
        for fifo in self.fifos.values():
            fifo.reset()

    def process(self, x: torch.Tensor | None, n: int, inputs: dict[str, Any]) -> torch.Tensor:
        missing = sorted(self.input_names - set(inputs))
        unknown = sorted(set(inputs) - self.input_names)
        if missing or unknown:
            raise ValueError(
                f"expected the voice's inputs {sorted(self.input_names)}, got {sorted(inputs)}"
            )
        values: dict[str, torch.Tensor] = {}

        def read(consumer: str, src: str) -> torch.Tensor:
            value = inputs[src[1:]] if src.startswith("$") else values[src]
            fifo = self.fifos.get((consumer, src))
            return fifo(value) if fifo is not None else value

        for name, wiring in self.graph.wiring.items():
            node, proc = self.nodes[name], wiring.processor
            kwargs: dict[str, Any] = {}
            for arg, src in wiring.inputs.items():
                srcs = _sources(src)
                kwargs[arg] = read(name, srcs[0])
                for s in srcs[1:]:
                    kwargs[arg] = kwargs[arg] + read(name, s)
            for param, mod in wiring.modulation.items():
                spec = proc.spec(param)
                base = spec.to_normalized(getattr(proc, param))
                u = (base + mod.amount * read(name, mod.source)).clamp(0.0, 1.0)
                kwargs[param] = spec.to_physical(u)  # (batch, n): per sample
            block_x = kwargs.pop("x", None)
            args = _arguments(proc)
            for extra in ("n_samples", "batch"):
                if extra in args:
                    kwargs.pop(extra, None)
            values[name] = node.process(block_x, n, kwargs)
        return values[self.graph.output]


def _sources(src: Any) -> list[str]:
    if src is None:
        return []
    return [src] if isinstance(src, str) else list(src)
