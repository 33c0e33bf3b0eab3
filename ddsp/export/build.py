"""Build an :class:`ExportedModel` from a processor, a chain or a voice.

Every processor maps to a block through :data:`BUILDERS` (its class name -> a builder);
one without an inference path raises :class:`ExportError` naming it. Knobs name
parameters: ``"threshold_db"`` or ``"Compressor.threshold_db"`` for a processor,
``"1.threshold_db"`` or ``"Compressor.threshold_db"`` (when the chain holds one
compressor) for a chain, ``"filter.cutoff_hz"`` for a voice's node.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..modules.base import Processor
from ..modules.chain import Chain
from ..modules.graph import Graph, Node
from .blocks.base import Block, ExportError
from .blocks.dynamics import DynamicsBlock
from .blocks.effects import DistortionBlock, GainBlock, PannerBlock, StereoWidthBlock
from .blocks.graph import ChainBlock, Connection, GraphBlock, GraphNodeBlock, Modulator, Tap
from .blocks.linear import SectionsBlock, SVFBlock
from .blocks.registry_delays import DELAY_BUILDERS
from .blocks.registry_sources import MODULATED_BUILDERS, SOURCE_BUILDERS
from .model import ExportedModel, Knob

__all__ = ["BUILDERS", "MAX_KNOBS", "build_block", "export_model", "exportable", "resolve_knobs"]

MAX_KNOBS = 4

# inputs that hold several values per sample or frame (one per harmonic or band): a host's
# channels carry one value each, so a voice's own nodes must compute them
VECTOR_INPUTS = ("harmonic_distribution", "magnitudes")

BUILDERS: dict[str, Callable[..., Block]] = {
    "Biquad": SectionsBlock,
    "ParametricEQ": SectionsBlock,
    "SVF": SVFBlock,
    "Compressor": DynamicsBlock,
    "Expander": DynamicsBlock,
    "Limiter": DynamicsBlock,
    "Gain": GainBlock,
    "Distortion": DistortionBlock,
    "Panner": PannerBlock,
    "StereoWidth": StereoWidthBlock,
    **DELAY_BUILDERS,
    **SOURCE_BUILDERS,
}


def exportable() -> list[str]:
    """Names of the processors that export."""
    return sorted(BUILDERS)


def build_block(
    proc: Processor,
    *,
    channels: int,
    block_size: int,
    knob_params: Sequence[str] = (),
    delay: int = 0,
    frame_size: int | None = None,
    modulated: bool = False,
) -> Block:
    """The block of one processor (``ExportError`` if it has none); ``modulated``: its
    controls arrive per sample (a voice's modulation), which filters designed once per
    knob change cannot follow, so SVF and Biquad then run as time-varying scans."""
    name = type(proc).__name__
    builder = BUILDERS.get(name)
    if modulated and name in MODULATED_BUILDERS:
        builder = MODULATED_BUILDERS[name]
    if builder is None:
        raise ExportError(
            f"{name} cannot be exported: it has no inference path yet (exportable: "
            f"{', '.join(exportable())})"
        )
    accepted = inspect.signature(builder).parameters
    extra: dict[str, Any] = {}
    if "delay" in accepted:
        extra["delay"] = delay
    if "frame_size" in accepted:
        extra["frame_size"] = frame_size
    try:
        proc.stream_channels(channels)
    except ValueError as e:
        raise ExportError(str(e)) from None
    return builder(proc, channels, block_size, list(knob_params), **extra)


# --------------------------------------------------------------------------- knobs


def _targets(module: Any) -> dict[str, Processor]:
    """Node keys of a module: ``""`` for a processor, indices for a chain, names for a voice."""
    if isinstance(module, Processor):
        return {"": module}
    if isinstance(module, Chain):
        return {str(i): p for i, p in enumerate(module)}
    return {name: node.processor for name, node in module.wiring.items()}


def resolve_knobs(module: Any, knobs: Sequence[str]) -> list[Knob]:
    """Knob names -> :class:`Knob` (key in the block tree, spec, value at export)."""
    if len(knobs) > MAX_KNOBS:
        raise ExportError(f"expected at most {MAX_KNOBS} knobs, got {len(knobs)}: {list(knobs)}")
    targets = _targets(module)
    out: list[Knob] = []
    for text in knobs:
        node, _, name = text.rpartition(".")
        if isinstance(module, Processor):
            if node and node != type(module).__name__:
                raise ExportError(f"knob {text!r}: expected PARAM or {type(module).__name__}.PARAM")
            key_node = ""
        elif node in targets:
            key_node = node
        else:
            matches = [k for k, p in targets.items() if type(p).__name__ == node]
            if len(matches) != 1:
                where = "no" if not matches else f"{len(matches)} ({', '.join(matches)})"
                raise ExportError(
                    f"knob {text!r}: {where} node named {node!r}; expected one of "
                    f"{sorted(targets)} or a processor name that occurs once"
                )
            key_node = matches[0]
        proc = targets[key_node]
        if name not in proc.spec_names():
            raise ExportError(
                f"knob {text!r}: {type(proc).__name__} has no parameter {name!r}; it has "
                f"{list(proc.spec_names())}"
            )
        spec = proc.spec(name)
        key = f"{key_node}.{name}" if key_node else name
        if any(k.key == key for k in out):
            raise ExportError(f"knob {text!r} is given twice")
        value = float(getattr(proc, name).detach())
        out.append(Knob(key, spec, float(spec.to_normalized(value)), text))
    return out


def _params_for(knobs: list[Knob], node: str) -> list[str]:
    prefix = f"{node}." if node else ""
    return [k.key[len(prefix) :] for k in knobs if (k.key.startswith(prefix) if node else True)]


# --------------------------------------------------------------------------- building


def export_model(
    module: Processor | Chain | Graph,
    *,
    block_size: int = 512,
    channels: int | None = None,
    knobs: Sequence[str] = (),
    frame_size: int | None = None,
) -> ExportedModel:
    """An :class:`ExportedModel` of ``module`` (copied: later changes to it do not leak in).

    Args:
        module: a processor, chain or voice.
        block_size: the block size hosts will mostly call with (any size works).
        channels: input channels of an effect (default 2 where it takes 2, else 1).
        knobs: up to four parameter names (see the module docstring).
        frame_size: samples per control frame for frame-driven sources.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ExportError(f"expected block_size as a positive int, got {block_size!r}")
    if channels is not None and channels not in (1, 2):
        raise ExportError(f"expected channels 1 or 2, got {channels!r}")
    knob_list = resolve_knobs(module, knobs)
    with torch.no_grad():
        if isinstance(module, Graph):
            root = _voice(module, block_size, knob_list, frame_size)
            names = list(root.input_names)
            in_channels = len(names)
        elif isinstance(module, Processor) and module.is_source:
            root, names = _source(module, block_size, knob_list, frame_size)
            in_channels = len(names)
        else:
            in_channels = channels or _default_channels(module)
            root, names = _effect(module, in_channels, block_size, knob_list), []
    return ExportedModel(
        root,
        knob_list,
        sample_rate=float(module.sample_rate),
        block_size=block_size,
        in_channels=in_channels,
        input_names=names,
    )


def _default_channels(module: Processor | Chain) -> int:
    first = module if isinstance(module, Processor) else (module[0] if len(module) else None)
    if first is None:
        raise ExportError("expected a chain with at least one processor")
    try:
        first.stream_channels(2)
        return 2
    except ValueError:
        return 1


def _effect(module: Processor | Chain, channels: int, block_size: int, knobs: list[Knob]):
    if isinstance(module, Processor):
        return build_block(
            module, channels=channels, block_size=block_size, knob_params=_params_for(knobs, "")
        )
    if len(module) == 0:
        raise ExportError("expected a chain with at least one processor")
    blocks, delay, ch = [], 0, channels
    for i, proc in enumerate(module):
        if proc.is_source:
            raise ExportError(f"{type(proc).__name__} is a source, not an effect for a chain")
        block = build_block(
            proc,
            channels=ch,
            block_size=block_size,
            knob_params=_params_for(knobs, str(i)),
            delay=delay,
        )
        blocks.append(block)
        delay += block.latency
        ch = block.out_channels
    return ChainBlock(blocks, channels)


def _source(proc: Processor, block_size: int, knobs: list[Knob], frame_size: int | None):
    graph = Graph({"source": _node(proc)}, output="source")
    root = _voice(graph, block_size, [Knob("source." + k.key, k.spec, k.default, k.label)
                                      for k in knobs], frame_size)  # fmt: skip
    return root, list(root.input_names)


def _node(proc: Processor) -> Node:
    return Node(proc, inputs={name: f"${name}" for name in proc.stream_inputs})


def _voice(graph: Graph, block_size: int, knobs: list[Knob], frame_size: int | None):
    latency: dict[str, int] = {}
    shapes: dict[str, list[int]] = {}
    channels: dict[str, int] = {}
    inputs: list[str] = []
    nodes: list[GraphNodeBlock] = []

    def lat(src: str) -> int:
        return 0 if src.startswith("$") else latency[src]

    def sources(src: Any) -> list[str]:
        return [] if src is None else ([src] if isinstance(src, str) else list(src))

    for name, wiring in graph.wiring.items():
        proc = wiring.processor
        for arg in VECTOR_INPUTS:
            if any(s.startswith("$") for s in sources(wiring.inputs.get(arg))):
                raise ExportError(
                    f"{type(proc).__name__} ({name!r}): its {arg} holds one value per "
                    "harmonic or band, which a host's channels (one value each) cannot "
                    "carry; compute it with nodes of a voice (ddsp.Graph) and export the voice"
                )
        srcs = [s for src in wiring.inputs.values() for s in sources(src)]
        srcs += [m.source for m in wiring.modulation.values()]
        for s in srcs:
            if s.startswith("$") and s[1:] not in inputs:
                inputs.append(s[1:])
                shapes[s] = []
        lat_in = max((lat(s) for s in srcs), default=0)
        x_src = sources(wiring.inputs.get("x"))
        in_ch = max((channels.get(s, 1) for s in x_src), default=1)
        controlled = set(wiring.modulation) | (set(wiring.inputs) & set(proc.spec_names()))
        block = build_block(
            proc,
            channels=in_ch,
            block_size=block_size,
            knob_params=_params_for(knobs, name),
            delay=lat_in,
            frame_size=frame_size,
            modulated=bool(controlled),
        )

        def tap(s: str, lat_in: int = lat_in) -> Tap:
            return Tap(s, lat_in - lat(s), shapes[s])

        conns = [
            Connection(arg, [tap(s) for s in sources(src)])
            for arg, src in wiring.inputs.items()
            if arg not in ("x", "n_samples", "batch")
        ]
        mods = [
            Modulator(p, tap(m.source), m.amount, proc.spec(p), float(getattr(proc, p).detach()))
            for p, m in wiring.modulation.items()
        ]
        audio = Connection("x", [tap(s) for s in x_src]) if x_src else None
        node = GraphNodeBlock(name, block, conns, mods, audio)
        nodes.append(node)
        latency[name] = lat_in + block.latency
        channels[name] = block.out_channels
        shapes[name] = _probe_shape(node, shapes, inputs)
    out = graph.output
    root = GraphBlock(nodes, out, inputs, channels[out], latency[out])
    root.allocate(1)
    return root


def _probe_shape(
    node: GraphNodeBlock, shapes: dict[str, list[int]], inputs: list[str]
) -> list[int]:
    """The shape of a node's output after batch, before time (one sample, then silence)."""
    values = {k: torch.zeros([1, *shape, 1]) for k, shape in shapes.items()}
    for name in inputs:
        values["$" + name] = torch.zeros(1, 1)
    node.allocate(1)
    y = node(values, {}, torch.zeros(1, 0, 1))
    node.allocate(1)
    return list(y.shape[1:-1])
