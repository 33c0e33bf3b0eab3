"""Presets: TOML data keyed by spec names, values in physical units, with a format version.

A preset names a processor (a registry key such as ``"Biquad"``, never a class path), its
construction options (``kind``, ``mode``, ...) and parameter values; a chain preset is a
list of those, and a graph preset (a voice) a table of named nodes with their inputs and
modulations, plus the output node. Loading rejects unknown keys, unknown processors and
out-of-range values with messages naming the file and the key. Shipped presets live in
``presets/`` (installed as ``ddsp._presets``) and load by name:
``load_preset("Biquad/telephone")``.
"""

from __future__ import annotations

import math
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from .modules.base import PROCESSORS, Processor
from .modules.chain import Chain
from .modules.graph import Graph, Modulation, Node

__all__ = [
    "FORMAT",
    "load_preset",
    "save_preset",
    "preset_data",
    "from_preset_data",
    "list_presets",
]

FORMAT = 1
_TOP_KEYS = {
    "format",
    "sample_rate",
    "processor",
    "options",
    "params",
    "chain",
    "nodes",
    "output",
    "description",
}
_STEP_KEYS = {"processor", "options", "params"}
_NODE_KEYS = _STEP_KEYS | {"inputs", "modulation"}


def list_presets() -> list[str]:
    """Names of the shipped presets (``"Processor/name"`` or ``"chains/name"``)."""
    root = resources.files("ddsp._presets")
    names = []
    for folder in root.iterdir():
        if folder.is_dir():
            names += [
                f"{folder.name}/{f.name[:-5]}" for f in folder.iterdir() if f.name.endswith(".toml")
            ]
    return sorted(names)


def _resolve(name_or_path: str | os.PathLike) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return str(path), path.read_text()
    resource = resources.files("ddsp._presets").joinpath(f"{name_or_path}.toml")
    if resource.is_file():
        return str(name_or_path), resource.read_text()
    raise ValueError(
        f"unknown preset {str(name_or_path)!r}: not a .toml file, nor one of {list_presets()}"
    )


def load_preset(
    name_or_path: str | os.PathLike, sample_rate: float | None = None
) -> Processor | Chain:
    """Build the processor or chain a preset describes.

    Args:
        name_or_path: a shipped preset's name (see :func:`list_presets`) or a .toml path.
        sample_rate: Hz; defaults to the preset's ``sample_rate``.
    """
    where, text = _resolve(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"preset {where}: not valid TOML ({e})") from None
    return from_preset_data(data, sample_rate=sample_rate, where=where)


def from_preset_data(
    data: dict[str, Any], sample_rate: float | None = None, where: str = "preset"
) -> Processor | Chain:
    """Build from already-parsed preset data (see :func:`load_preset`)."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(_TOP_KEYS)}")
    if data.get("format") != FORMAT:
        raise ValueError(f"{where}: expected format = {FORMAT}, got {data.get('format')!r}")
    rate = sample_rate if sample_rate is not None else data.get("sample_rate")
    if not isinstance(rate, (int, float)) or not rate > 0:
        raise ValueError(
            f"{where}: expected a positive sample_rate (in the preset or as an argument), "
            f"got {rate!r}"
        )
    if sum(k in data for k in ("processor", "chain", "nodes")) != 1:
        raise ValueError(f"{where}: expected exactly one of 'processor', 'chain' or 'nodes'")
    if "nodes" in data:
        return _build_graph(data, float(rate), where)
    if "chain" in data:
        steps = data["chain"]
        if not isinstance(steps, list) or not steps:
            raise ValueError(f"{where}: expected 'chain' to be a non-empty list of processors")
        return Chain(
            _build(step, float(rate), f"{where} chain[{i}]") for i, step in enumerate(steps)
        )
    step = {k: data[k] for k in _STEP_KEYS if k in data}
    return _build(step, float(rate), where)


def _build_graph(data: dict[str, Any], sample_rate: float, where: str) -> Graph:
    nodes = data["nodes"]
    if not isinstance(nodes, dict) or not nodes:
        raise ValueError(f"{where}: expected 'nodes' to be a non-empty table of nodes")
    built: dict[str, Node] = {}
    for name, spec in nodes.items():
        at = f"{where} nodes.{name}"
        if not isinstance(spec, dict):
            raise ValueError(f"{at}: expected a table")
        unknown = sorted(set(spec) - _NODE_KEYS)
        if unknown:
            raise ValueError(
                f"{at}: unknown key(s) {unknown}; expected some of {sorted(_NODE_KEYS)}"
            )
        proc = _build({k: spec[k] for k in _STEP_KEYS if k in spec}, sample_rate, at)
        mods = {}
        for param, mod in spec.get("modulation", {}).items():
            if not isinstance(mod, dict) or set(mod) != {"from", "amount"}:
                raise ValueError(
                    f"{at}: expected modulation.{param} = {{ from = NODE, amount = X }}"
                )
            mods[param] = Modulation(str(mod["from"]), float(mod["amount"]))
        built[name] = Node(proc, dict(spec.get("inputs", {})), mods)
    try:
        return Graph(built, output=data.get("output", ""))
    except (ValueError, KeyError) as e:
        raise ValueError(f"{where}: {e}") from None


def _build(step: dict[str, Any], sample_rate: float, where: str) -> Processor:
    unknown = sorted(set(step) - _STEP_KEYS)
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {unknown}; expected some of {sorted(_STEP_KEYS)}"
        )
    name = step.get("processor")
    if name not in PROCESSORS:
        raise ValueError(
            f"{where}: unknown processor {name!r}; expected one of {sorted(PROCESSORS)}"
        )
    cls = PROCESSORS[name]
    params = step.get("params", {})
    options = step.get("options", {})
    if not isinstance(params, dict) or not isinstance(options, dict):
        raise ValueError(f"{where}: expected 'params' and 'options' to be tables")
    for key, value in params.items():
        if key not in cls.spec_names():
            raise ValueError(
                f"{where}: unknown parameter {key!r} for {name}; "
                f"expected some of {list(cls.spec_names())}"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError(f"{where}: expected a finite number for {key}, got {value!r}")
        spec = cls.spec(key)
        if not spec.minimum <= value <= spec.maximum:
            raise ValueError(
                f"{where}: expected {key} in [{spec.minimum:g}, {spec.maximum:g}] {spec.unit}, "
                f"got {value:g}"
            )
    try:
        return cls(sample_rate, **options, **params)
    except TypeError as e:
        raise ValueError(f"{where}: bad options {options} for {name} ({e})") from None


def preset_data(module: Processor | Chain) -> dict[str, Any]:
    """The preset of a processor or chain: its class names, options and physical values."""

    def step(p: Processor) -> dict[str, Any]:
        out: dict[str, Any] = {"processor": type(p).__name__}
        if p.options():
            out["options"] = p.options()
        if p.specs:
            out["params"] = p.parameter_values()
        return out

    if isinstance(module, Graph):
        nodes = {}
        for name, node in module.wiring.items():
            entry = step(node.processor)
            if node.inputs:
                entry["inputs"] = dict(node.inputs)
            if node.modulation:
                entry["modulation"] = {
                    k: {"from": m.source, "amount": m.amount} for k, m in node.modulation.items()
                }
            nodes[name] = entry
        return {
            "format": FORMAT,
            "sample_rate": module.sample_rate,
            "output": module.output,
            "nodes": nodes,
        }
    if isinstance(module, Chain):
        return {
            "format": FORMAT,
            "sample_rate": module.sample_rate,
            "chain": [step(p) for p in module],
        }
    return {"format": FORMAT, "sample_rate": module.sample_rate, **step(module)}


def save_preset(module: Processor | Chain, path: str | os.PathLike) -> None:
    """Write the module's preset as TOML, atomically (temporary file, then rename)."""
    text = _to_toml(preset_data(module))
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return _table(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"cannot write {type(v).__name__} to a preset")


def _table(d: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in d.items()) + " }"


def _to_toml(data: dict[str, Any]) -> str:
    lines = [f"format = {data['format']}", f"sample_rate = {_value(float(data['sample_rate']))}"]
    steps = data.get("chain")
    if "nodes" in data:
        lines.append(f"output = {_value(data['output'])}")
        for name, node in data["nodes"].items():
            lines += ["", f"[nodes.{name}]"] + [f"{k} = {_value(v)}" for k, v in node.items()]
    elif steps is None:
        lines.append(f"processor = {_value(data['processor'])}")
        for key in ("options", "params"):
            if key in data:
                lines += ["", f"[{key}]"] + [f"{k} = {_value(v)}" for k, v in data[key].items()]
    else:
        for step in steps:
            lines += ["", "[[chain]]", f"processor = {_value(step['processor'])}"]
            for key in ("options", "params"):
                if key in step:
                    lines.append(f"{key} = {_table(step[key])}")
    return "\n".join(lines) + "\n"
