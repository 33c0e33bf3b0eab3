"""IRCAM's nn~ (Max/MSP and Pure Data): a TorchScript file with nn~'s conventions.

nn~ is not needed to write or check the file (its Python package pins an old torch); the
conventions below are those its C++ backend reads when it loads a model:

* **Methods.** ``get_methods()`` lists the methods a patch may call; each has a buffer
  ``<method>_params`` holding ``[in_channels, in_ratio, out_channels, out_ratio]`` and
  list attributes ``<method>_input_labels`` / ``<method>_output_labels`` (the inlet and
  outlet tooltips). nn~ calls a method with one ``(batch, in_channels, n // in_ratio)``
  float tensor and expects ``(batch, out_channels, n // out_ratio)`` back; ``batch`` is
  above 1 in mc.nn~, and ``n`` is the object's buffer size (4096 by default, rounded up to
  a power of two), not the model's block size. Here: one method, ``forward``, audio to
  audio with ratios 1 and the model's channels.
* **Attributes.** ``get_attributes()`` lists the settable attributes; each has a buffer
  ``<attr>_params`` of type codes (0 bool, 1 int, 2 float, 3 str, 4 tensor), a getter
  ``get_<attr>()`` returning a tuple of values and a setter ``set_<attr>(...)`` returning
  0 on success (anything else is reported as a failure). Here: one float attribute per
  knob, 0 to 1, so a patch sends ``set gain 0.7``; values outside [0, 1] are refused
  (the setter returns -1 and the knob keeps its value).

Knob names become attribute names with :func:`attribute_name` (``"1.ratio"`` ->
``"k1_ratio"``). The file also has ``reset()`` (clears the model's tails),
``get_sample_rate()`` (the only rate it runs at: nn~ does not resample),
``get_latency()`` and ``get_block_size()``. nn~ reports no latency to Max; the model's
``latency`` samples come on top of nn~'s own buffering.
"""

# No `from __future__ import annotations`: TorchScript reads the class annotations as types.
import itertools
import linecache
import os
import re
from pathlib import Path

import torch
from torch import Tensor

from ...errors import ExportError
from ...io import atomic_path
from ._common import (
    ModelInfo,
    check_blocks,
    check_output_path,
    fresh_copy,
    model_info,
    quiet_torchscript,
)

__all__ = ["save_nn_tilde", "load_nn_tilde", "attribute_name", "NnTildeHost", "TEST_BUFFER_SIZE"]

SUFFIX = ".ts"  # nn~ appends .ts to a model name that lacks it
TEST_BUFFER_SIZE = 8192  # the block nn~'s own Python tools check a method with
FLOAT_TYPE = 2  # nn~'s type code for a float argument

_serial = itertools.count()


def attribute_name(knob: str) -> str:
    """The nn~ attribute for a knob: characters other than letters, digits and ``_``
    become ``_``, and a name starting with a digit gets a ``k`` in front."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", knob)
    return f"k{name}" if name[:1].isdigit() else name


def _labels(channels: int, what: str) -> list[str]:
    if channels == 1:
        return [f"(signal) {what}"]
    return [f"(signal) left {what}", f"(signal) right {what}"]


class _NnTildeModule(torch.nn.Module):
    """The scripted file: ``forward`` plus nn~'s discovery methods; per-knob getters and
    setters are added by :func:`_with_knob_methods`."""

    _methods: list[str]
    _attributes: list[str]
    forward_input_labels: list[str]
    forward_output_labels: list[str]
    sample_rate: int
    block_size: int
    latency: int

    def __init__(self, model: torch.nn.Module, info: ModelInfo, attributes: list[str]) -> None:
        super().__init__()
        self.model = model
        self._methods = ["forward"]
        self._attributes = attributes
        self.register_buffer(
            "forward_params", torch.tensor([info.in_channels, 1, info.out_channels, 1])
        )
        self.forward_input_labels = _labels(info.in_channels, "input")
        self.forward_output_labels = _labels(info.out_channels, "output")
        self.register_buffer("knobs", info.default_knobs())
        for attr in attributes:
            self.register_buffer(f"{attr}_params", torch.tensor([FLOAT_TYPE]))
        self.sample_rate = int(round(info.sample_rate))
        self.block_size = info.block_size
        self.latency = info.latency

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x, self.knobs)

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> list[str]:
        return self._attributes

    @torch.jit.export
    def reset(self) -> None:
        self.model.reset()

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sample_rate

    @torch.jit.export
    def get_latency(self) -> int:
        return self.latency

    @torch.jit.export
    def get_block_size(self) -> int:
        return self.block_size

    @torch.jit.export
    def set_knob(self, index: int, value: float) -> int:
        """Set knob ``index`` to ``value`` in [0, 1]: 0, or -1 (refused, unchanged)."""
        if index < 0 or index >= self.knobs.shape[0] or not (value >= 0.0 and value <= 1.0):
            return -1
        self.knobs[index] = value
        return 0

    @torch.jit.export
    def get_knob(self, index: int) -> float:
        return float(self.knobs[index])


def _with_knob_methods(attributes: list[str]) -> type[_NnTildeModule]:
    """A subclass with ``get_<attr>`` / ``set_<attr>`` per knob. TorchScript compiles from
    source, so the methods are written as source and registered with linecache (as
    torch.fx does for its generated code)."""
    lines = []
    for i, attr in enumerate(attributes):
        lines += [
            "@torch.jit.export",
            f"def set_{attr}(self, {attr}0: float) -> int:",
            f"    return self.set_knob({i}, {attr}0)",
            "",
            "@torch.jit.export",
            f"def get_{attr}(self) -> tuple[float]:",
            f"    return (self.get_knob({i}),)",
            "",
        ]
    source = "\n".join(lines) + "\n"
    filename = f"<ddsp nn~ knob methods {next(_serial)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"torch": torch}
    exec(compile(source, filename, "exec"), namespace)
    methods = {name: namespace[name] for a in attributes for name in (f"set_{a}", f"get_{a}")}
    methods["__module__"] = __name__
    return type("NnTildeModel", (_NnTildeModule,), methods)


def _attributes(info: ModelInfo) -> list[str]:
    attributes = [attribute_name(k) for k in info.knob_names]
    if len(set(attributes)) != len(attributes):
        raise ExportError(
            f"knob names {list(info.knob_names)} give clashing nn~ attributes {attributes}"
        )
    taken = set(dir(_NnTildeModule)) | {"model", "knobs", "ddsp_name", "ddsp_description"}
    for knob, attr in zip(info.knob_names, attributes):
        clash = {attr, f"get_{attr}", f"set_{attr}", f"{attr}_params"} & taken
        if clash or attr.startswith("_"):
            raise ExportError(
                f"knob {knob!r} cannot be an nn~ attribute: {attr!r} clashes with the "
                f"file's own names ({', '.join(sorted(clash)) or 'leading underscore'})"
            )
    return attributes


def save_nn_tilde(
    model: torch.nn.Module,
    path: str | os.PathLike,
    *,
    name: str,
    description: str = "",
    check: bool = True,
) -> list[Path]:
    """Save ``model`` as an nn~ TorchScript file ``path`` (``.ts``).

    ``name`` and ``description`` are kept in the file as the attributes ``ddsp_name`` and
    ``ddsp_description`` (nn~ itself shows the file name). The file is checked as nn~
    loads it unless ``check`` is False: loaded with ``torch.jit.load``, its methods and
    attributes listed, ``forward`` run on zeros of :data:`TEST_BUFFER_SIZE` samples at
    batch 1 and 4, then on consecutive blocks compared with ``model``. Written atomically:
    nothing is left at ``path`` on failure.

    Returns:
        ``[path]``.

    Raises:
        OutputError: a path that cannot be written or does not end with ``.ts``.
        ExportError: a model that breaks the contract, or a file that fails the checks.
    """
    path = check_output_path(path, SUFFIX, "nn~")
    info = model_info(model)
    attributes = _attributes(info)
    module = _with_knob_methods(attributes)(fresh_copy(model), info, attributes)
    module.ddsp_name = str(name)
    module.ddsp_description = str(description)
    with quiet_torchscript():
        try:
            scripted = torch.jit.script(module)
        except Exception as e:
            raise ExportError(f"cannot script {type(model).__name__} for nn~: {e}") from None
        with atomic_path(path) as tmp:
            torch.jit.save(scripted, str(tmp))
            if check:
                _check_file(tmp, model, info, attributes)
    return [path]


def _check_file(tmp: Path, model: torch.nn.Module, info: ModelInfo, attributes: list[str]):
    what = f"the nn~ file for {type(model).__name__}"
    host = load_nn_tilde(tmp)
    if host.methods != ["forward"] or host.attributes != attributes:
        raise ExportError(f"{what} lists methods {host.methods}, attributes {host.attributes}")
    params = host.method_params("forward")
    if params != [info.in_channels, 1, info.out_channels, 1]:
        raise ExportError(f"{what}: forward_params are {params}")
    for batch in (1, 4):
        x = torch.zeros(batch, info.in_channels, TEST_BUFFER_SIZE)
        with torch.no_grad():
            y = host.module.forward(x)
        want = (batch, info.out_channels, TEST_BUFFER_SIZE)
        if tuple(y.shape) != want or y.dtype != torch.float32:
            raise ExportError(f"{what}: zeros {tuple(x.shape)} gave {tuple(y.shape)} {y.dtype}")
    for attr, default in zip(attributes, info.knob_defaults):
        if host.get(attr) != float(torch.tensor(default)):
            raise ExportError(f"{what}: get_{attr}() is {host.get(attr)}, not {default}")
    host.reset()
    check_blocks(fresh_copy(model), host, info, what=what)


class NnTildeHost:
    """An nn~ file loaded as nn~ does: call it on ``(batch, channels, n)`` blocks.

    ``host(x, knobs)`` sets each knob through its ``set_<attr>`` setter (as a patch's
    ``set`` message would) when ``knobs`` is given, then calls ``forward``.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        with quiet_torchscript():
            self.module = torch.jit.load(str(path), map_location="cpu")
        self.module.eval()
        self.methods: list[str] = list(self.module.get_methods())
        self.attributes: list[str] = list(self.module.get_attributes())
        self.sample_rate = int(self.module.get_sample_rate())
        self.latency = int(self.module.get_latency())
        self.block_size = int(self.module.get_block_size())

    def method_params(self, method: str) -> list[int]:
        return [int(v) for v in getattr(self.module, f"{method}_params")]

    def set(self, attribute: str, value: float) -> None:
        """``set <attribute> <value>``; ExportError if the setter refuses it."""
        if getattr(self.module, f"set_{attribute}")(float(value)) != 0:
            raise ExportError(f"nn~ setter set_{attribute}({value}) refused the value")

    def get(self, attribute: str) -> float:
        return float(getattr(self.module, f"get_{attribute}")()[0])

    def reset(self) -> None:
        self.module.reset()

    def __call__(self, x: Tensor, knobs: Tensor | None = None) -> Tensor:
        if knobs is not None:
            for attr, value in zip(self.attributes, knobs.tolist(), strict=True):
                self.set(attr, value)
        with torch.no_grad():
            return self.module.forward(x)


def load_nn_tilde(path: str | os.PathLike) -> NnTildeHost:
    """Load an nn~ file with ``torch.jit.load`` (no ddsp needed to run it)."""
    return NnTildeHost(path)
