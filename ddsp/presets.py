"""Presets: TOML data keyed by spec names, values in physical units, with a format version.

A preset names a processor (a registry key such as ``"Biquad"``, never a class path), its
construction options (``kind``, ``mode``, ...) and parameter values; a chain preset is a
list of those, and a graph preset (a voice) a table of named nodes with their inputs and
modulations, plus the output node. What a processor learned beyond its specs (an FDN's
feedback matrix and gains, a learned impulse response, a wavetable) is stored beside the
TOML file in a ``.npz`` archive of plain arrays that the TOML names (``tensors = ...``),
so a saved and loaded processor sounds exactly like the original.

Loading rejects unknown keys, unknown processors, out-of-range values and tensors of the
wrong name or shape with messages naming the file and the key. Shipped presets live in
``presets/`` (installed as ``ddsp._presets``) and load by name:
``load_preset("Biquad/telephone")``.

Formats: 1 (specs and options only) loads as before; 2 adds ``tensors``.
"""

from __future__ import annotations

import ast
import math
import os
import re
import tomllib
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from .io import atomic_path
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
    "parse_chain_spec",
    "load_chain",
]

FORMAT = 2
_FORMATS = (1, 2)
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
    "tensors",
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


def _resolve(name_or_path: str | os.PathLike) -> tuple[str, str, Any]:
    """``(where, text, folder)``: the preset's text and the folder its tensors live in."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        try:
            return str(path), path.read_text(), path.parent
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"cannot read preset {path}: {e}") from None
    name = str(name_or_path)
    if "/" not in name:  # a bare name that one shipped preset has: "vocal_chain"
        matches = [p for p in list_presets() if p.split("/", 1)[1] == name]
        if len(matches) == 1:
            name = matches[0]
    resource = resources.files("ddsp._presets").joinpath(f"{name}.toml")
    if resource.is_file():
        return name, resource.read_text(), resource.parent
    raise ValueError(
        f"unknown preset {str(name_or_path)!r}: not a .toml file, nor one of {list_presets()}"
    )


def load_preset(
    name_or_path: str | os.PathLike, sample_rate: float | None = None
) -> Processor | Chain | Graph:
    """Build the processor, chain or voice a preset describes.

    Args:
        name_or_path: a shipped preset's name (see :func:`list_presets`) or a .toml path.
        sample_rate: Hz; defaults to the preset's ``sample_rate``.
    """
    where, text, folder = _resolve(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"preset {where}: not valid TOML ({e})") from None
    return from_preset_data(data, sample_rate=sample_rate, where=where, folder=folder)


def from_preset_data(
    data: dict[str, Any],
    sample_rate: float | None = None,
    where: str = "preset",
    folder: Any = None,
) -> Processor | Chain | Graph:
    """Build from already-parsed preset data (see :func:`load_preset`); ``folder`` is where
    a ``tensors`` archive named by the data is looked up."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(_TOP_KEYS)}")
    if data.get("format") not in _FORMATS or isinstance(data.get("format"), bool):
        raise ValueError(f"{where}: expected format in {_FORMATS}, got {data.get('format')!r}")
    saved_rate = data.get("sample_rate")
    rate = sample_rate if sample_rate is not None else saved_rate
    # the preset's own rate is checked even when the caller's replaces it
    for value in (saved_rate, rate) if "sample_rate" in data else (rate,):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not value > 0
        ):
            raise ValueError(
                f"{where}: expected a positive sample_rate in Hz (in the preset or as an "
                f"argument), got {value!r}"
            )
    if sum(k in data for k in ("processor", "chain", "nodes")) != 1:
        raise ValueError(f"{where}: expected exactly one of 'processor', 'chain' or 'nodes'")
    if "nodes" in data:
        module: Processor | Chain | Graph = _build_graph(data, float(rate), where)
    elif "chain" in data:
        steps = data["chain"]
        if not isinstance(steps, list) or not steps:
            raise ValueError(f"{where}: expected 'chain' to be a non-empty list of processors")
        module = Chain(
            _build(step, float(rate), f"{where} chain[{i}]") for i, step in enumerate(steps)
        )
    else:
        module = _build({k: data[k] for k in _STEP_KEYS if k in data}, float(rate), where)
    if "tensors" in data:
        _load_tensors(module, data["tensors"], folder, where, float(saved_rate or rate))
    return module


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
            amount = mod["amount"]
            if isinstance(amount, bool) or not isinstance(amount, (int, float)):
                raise ValueError(f"{at}: expected a number for modulation.{param}.amount")
            if not math.isfinite(amount):
                raise ValueError(f"{at}: expected a finite modulation.{param}.amount, got {amount}")
            mods[param] = Modulation(str(mod["from"]), float(amount))
        inputs = spec.get("inputs", {})
        if not isinstance(inputs, dict):
            raise ValueError(f"{at}: expected 'inputs' to be a table")
        built[name] = Node(proc, dict(inputs), mods)
    try:
        return Graph(built, output=data.get("output", ""))
    except (ValueError, KeyError, TypeError) as e:
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
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: bad options {options} for {name} ({e})") from None


# --------------------------------------------------------------------------- chain specs

_STEP = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*$", re.S)


def parse_chain_spec(text: str) -> list[dict[str, Any]]:
    """``"Name(key=value, ...) | Name2(...)"`` -> preset chain steps.

    Values are numbers (parameters, in physical units) or bare words and strings
    (options such as ``kind=lowpass``). Raises ``ValueError`` naming the step.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError('expected a chain such as "Compressor(threshold_db=-20) | Gain"')
    steps = []
    for part in text.split("|"):
        m = _STEP.match(part)
        if not m:
            raise ValueError(
                f"cannot read chain step {part.strip()!r}; expected Name(key=value, ...)"
            )
        name, args = m.group(1), (m.group(2) or "").strip()
        if name not in PROCESSORS:
            raise ValueError(f"unknown processor {name!r}; expected one of {sorted(PROCESSORS)}")
        cls = PROCESSORS[name]
        params: dict[str, Any] = {}
        options: dict[str, Any] = {}
        if args:
            try:
                call = ast.parse(f"f({args})", mode="eval").body
            except SyntaxError:
                raise ValueError(f"cannot read the arguments of {name}: {args!r}") from None
            if not isinstance(call, ast.Call) or call.args:
                raise ValueError(f"{name}: expected key=value arguments, got {args!r}")
            for kw in call.keywords:
                if kw.arg is None:
                    raise ValueError(f"{name}: expected key=value arguments, got {args!r}")
                if kw.arg in params or kw.arg in options:
                    raise ValueError(f"{name}: {kw.arg} is given twice in {args!r}")
                value = _literal(kw.value, name, kw.arg)
                if kw.arg in cls.spec_names():
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise ValueError(f"{name}: expected a number for {kw.arg}, got {value!r}")
                    params[kw.arg] = float(value)
                else:
                    options[kw.arg] = value
        step: dict[str, Any] = {"processor": name}
        if options:
            step["options"] = options
        if params:
            step["params"] = params
        steps.append(step)
    return steps


def _literal(node: ast.expr, name: str, key: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, ast.Name):
        return {"true": True, "false": False}.get(node.id.lower(), node.id)  # bare words
    raise ValueError(f"{name}: cannot read the value of {key}")


def load_chain(source: str | os.PathLike, sample_rate: float) -> Chain:
    """An effect chain from a preset (name or .toml path) or a chain spec (see
    :func:`parse_chain_spec`), built for ``sample_rate``; a single processor becomes a
    one-step chain. Raises ``ValueError`` for voices, which are not effects."""
    text = str(source)
    is_spec = "(" in text or "|" in text or text.strip() in PROCESSORS
    if is_spec:
        data = {"format": FORMAT, "sample_rate": sample_rate, "chain": parse_chain_spec(text)}
        module = from_preset_data(data, where="--chain")
    else:
        module = load_preset(source, sample_rate=sample_rate)
    if isinstance(module, Graph):
        raise ValueError(f"preset {text!r} is an instrument voice, not an effect chain")
    return module if isinstance(module, Chain) else Chain([module])


# --------------------------------------------------------------------------- tensors


def _processors(module: Processor | Chain | Graph) -> dict[str, Processor]:
    """Every processor of a module under the prefix its tensors are saved with."""
    if isinstance(module, Graph):
        return {f"nodes.{name}.": node.processor for name, node in module.wiring.items()}
    if isinstance(module, Chain):
        return {f"chain.{i}.": p for i, p in enumerate(module)}
    return {"": module}


def _tensor_arrays(module: Processor | Chain | Graph) -> dict[str, np.ndarray]:
    return {
        prefix + name: t.detach().cpu().numpy()
        for prefix, proc in _processors(module).items()
        for name, t in proc.learned_tensors().items()
    }


def _load_tensors(
    module: Processor | Chain | Graph, name: Any, folder: Any, where: str, saved_rate: float
) -> None:
    if not isinstance(name, str) or "/" in name or "\\" in name or not name.endswith(".npz"):
        raise ValueError(f"{where}: expected 'tensors' to name a .npz file beside it, got {name!r}")
    if folder is None:
        raise ValueError(f"{where}: names tensors {name!r} but has no folder to find them in")
    try:
        with folder.joinpath(name).open("rb") as f, np.load(f, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"{where}: cannot read tensors {name!r}: {e}") from None
    consumed: set[str] = set()
    for prefix, proc in _processors(module).items():
        own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        consumed |= {prefix + k for k in own}
        if not own and not proc.learned_tensors():
            continue
        try:
            proc.load_learned_tensors(own, saved_rate)
        except ValueError as e:
            raise ValueError(f"{where} ({name}, {prefix or 'processor'}): {e}") from None
    stray = sorted(set(arrays) - consumed)
    if stray:
        raise ValueError(f"{where} ({name}): tensors for no processor: {stray}")


# --------------------------------------------------------------------------- saving


def preset_data(module: Processor | Chain | Graph) -> dict[str, Any]:
    """The preset of a processor, chain or voice: class names, options and physical values
    (tensors beyond the specs are not part of it; :func:`save_preset` writes them)."""

    def step(p: Processor) -> dict[str, Any]:
        out: dict[str, Any] = {"processor": type(p).__name__}
        if p.options():
            out["options"] = p.options()
        if p.specs:
            out["params"] = p.preset_values()
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


def save_preset(module: Processor | Chain | Graph, path: str | os.PathLike) -> list[Path]:
    """Write the module's preset as TOML, and its learned tensors (if any) beside it as
    ``<stem>.npz``, each atomically (temporary file, then rename). Returns the paths
    written."""
    path = Path(path)
    if path.suffix != ".toml":
        raise ValueError(f"expected a preset path ending in .toml, got {str(path)!r}")
    data = preset_data(module)
    arrays = _tensor_arrays(module)
    written = []
    if arrays:
        data["tensors"] = f"{path.stem}.npz"
        npz = path.with_suffix(".npz")
        with atomic_path(npz) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
        written.append(npz)
    text = tomli_w.dumps(_ordered(data))
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    written.insert(0, path)
    return written


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    """Keys in reading order: format, rate, tensors, then the body."""
    first = ("format", "sample_rate", "tensors", "processor", "output")
    out = {k: data[k] for k in first if k in data}
    out.update({k: v for k, v in data.items() if k not in out})
    return out
