"""PyTorch 2 export: ``FILE.pt2`` (a ``torch.export`` program) and, where a C++ compiler
is found, ``FILE.aoti.pt2`` (the same program compiled by AOTInductor) beside it.

Both run with torch alone, no ddsp: ``torch.export.load(FILE.pt2).module()`` in Python,
``torch._inductor.aoti_load_package(FILE.aoti.pt2)`` in Python, or AOTInductor's C++
loader (``torch::inductor::AOTIModelPackageLoader``) inside a native host. Either is
called as ``program(x, knobs)`` with ``x (batch, in_channels, block_size)`` float32 and
``knobs (K,)`` float32 in [0, 1], and returns ``(batch, out_channels, block_size)``.
The AOTInductor package reads its inputs as dense memory: pass contiguous tensors (a
slice of a longer signal is strided and would be misread; :class:`Pt2Host` copies it).

**Batch and block size are fixed at export** (``batch=``, default 1, and the model's
``block_size``): the programs refuse other shapes. The state (filter memories, delay lines)
lives in the programs' buffers and is carried from call to call; a fresh load starts
silent, so reloading is the reset (:class:`Pt2Host` ``.reset()`` does it for you).

The model's facts (sample rate, channels, block size, batch, latency, knobs) travel inside
both files as JSON, under ``ddsp.json`` (the ``.pt2``'s extra files) and as the metadata
entry ``ddsp.json`` of the AOTInductor package (``get_metadata()``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import torch
from torch import Tensor

from ...errors import ExportError
from ...io import atomic_path
from ._common import ModelInfo, check_blocks, check_output_path, fresh_copy, model_info

__all__ = ["save_pt2", "load_pt2", "aoti_path", "compiler_available", "Pt2Host"]

log = logging.getLogger(__name__)

SUFFIX = ".pt2"
AOTI_SUFFIX = ".aoti.pt2"
META = "ddsp.json"
# joint_graph_constant_folding: Inductor folds a one-element buffer into a constant
# (pytorch/pytorch#165444), so a mutated one-element state (a mono filter memory at batch 1)
# would never change. cpp.threads: single-threaded kernels; OpenMP's thread pool made a
# 256-sample block take 10 to 35 ms instead of 0.15 ms on a busy two-core machine.
AOTI_CONFIG = {"joint_graph_constant_folding": False, "cpp.threads": 1}


class _Program(torch.nn.Module):
    """The exported signature: ``forward(x, knobs)``, x first; the model's state in buffers."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, knobs: Tensor) -> Tensor:
        return self.model(x, knobs)


def aoti_path(path: str | os.PathLike) -> Path:
    """Where the AOTInductor package of ``FILE.pt2`` goes: ``FILE.aoti.pt2``."""
    path = Path(path)
    stem = path.name[: -len(SUFFIX)] if path.name.lower().endswith(SUFFIX) else path.name
    return path.with_name(stem + AOTI_SUFFIX)


def compiler_available() -> bool:
    """Whether a C++ compiler for AOTInductor is on the PATH (``$CXX``, c++, g++, clang++)."""
    names = [os.environ.get("CXX", ""), "c++", "g++", "clang++"]
    return any(shutil.which(n) for n in names if n)


def save_pt2(
    model: torch.nn.Module,
    path: str | os.PathLike,
    *,
    name: str,
    description: str = "",
    batch: int = 1,
    aoti: bool | None = None,
    check: bool = True,
) -> list[Path]:
    """Export ``model`` to ``path`` (``.pt2``) and, with ``aoti``, ``FILE.aoti.pt2``.

    Args:
        name, description: kept in the files' ``ddsp.json``.
        batch: the batch size the programs take (fixed, as is the model's block size).
        aoti: compile the AOTInductor package too: True (ExportError without a C++
            compiler), False, or None (where a compiler is found). Compiling takes 25 s
            to a minute on two cores. The package's kernels are single-threaded.
        check: load the files as a host would and compare consecutive blocks with the
            model (ExportError if they differ).

    Files are written atomically: on any failure neither is left at its path.

    Returns:
        The paths written: ``[path]`` or ``[path, FILE.aoti.pt2]``.

    Raises:
        OutputError: a path that cannot be written or does not end with ``.pt2``.
        ExportError: a model that breaks the contract or that ``torch.export`` cannot
            trace, or files that fail the check.
    """
    path = check_output_path(path, SUFFIX, "PT2")
    if path.name.lower().endswith(AOTI_SUFFIX):
        raise ExportError(f"{path}: {AOTI_SUFFIX} is the name of the AOTInductor package")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ExportError(f"batch must be a positive integer, not {batch!r}")
    if aoti is None:
        aoti = compiler_available()
    elif aoti and not compiler_available():
        raise ExportError("the AOTInductor package needs a C++ compiler (none found; set CXX)")
    package = aoti_path(path)
    if aoti:
        check_output_path(package, AOTI_SUFFIX, "AOTInductor")
    info = model_info(model)
    meta = json.dumps(
        {"name": str(name), "description": str(description), "batch": batch, **info.to_dict()}
    )
    program = _export(model, info, batch)
    with atomic_path(path) as tmp:
        torch.export.save(program, str(tmp), extra_files={META: meta})
        if check:
            _check(load_pt2(tmp, aoti=False), model, info, batch, "the .pt2 file")
        if not aoti:
            return [path]
        with atomic_path(package) as tmp_package:
            _compile(program, tmp_package, meta)
            if check:
                package_host = load_pt2(tmp_package, aoti=True)
                _check(package_host, model, info, batch, "the AOTInductor package")
    return [path, package]


def _export(model: torch.nn.Module, info: ModelInfo, batch: int) -> torch.export.ExportedProgram:
    program = _Program(fresh_copy(model))
    x = torch.zeros(batch, info.in_channels, info.block_size)
    knobs = info.default_knobs()
    with torch.no_grad():
        program(x, knobs)  # the state takes this batch size ...
        program.model.reset()  # ... and is silent again
    try:
        return torch.export.export(program, (x, knobs), strict=False)
    except Exception as e:
        raise ExportError(f"torch.export cannot trace {type(model).__name__}: {e}") from None


def _compile(program: torch.export.ExportedProgram, tmp: Path, meta: str) -> None:
    from torch._inductor import aoti_compile_and_package

    configs = {**AOTI_CONFIG, "aot_inductor.metadata": {META: meta}}
    started = time.perf_counter()
    try:
        aoti_compile_and_package(program, package_path=str(tmp), inductor_configs=configs)
    except Exception as e:
        raise ExportError(f"AOTInductor could not compile the program: {e}") from None
    log.info("AOTInductor compiled %s in %.1f s", tmp.name, time.perf_counter() - started)


def _check(host: Pt2Host, model: torch.nn.Module, info: ModelInfo, batch: int, what: str):
    check_blocks(
        fresh_copy(model), host, info, what=f"{what} of {type(model).__name__}", batch=batch
    )


class Pt2Host:
    """A ``.pt2`` program or ``.aoti.pt2`` package loaded with torch alone.

    ``host(x, knobs)`` runs one block (``knobs`` defaults to the model's defaults);
    ``reset()`` loads the file again (its state is the silent one it was saved with);
    ``meta`` is the ``ddsp.json`` dictionary.
    """

    def __init__(self, path: str | os.PathLike, aoti: bool | None = None) -> None:
        self.path = Path(path)
        self.aoti = self.path.name.lower().endswith(AOTI_SUFFIX) if aoti is None else aoti
        self.reset()

    def reset(self) -> None:
        if self.aoti:
            from torch._inductor import aoti_load_package

            self.program = aoti_load_package(str(self.path))
            self.meta = json.loads(self.program.get_metadata()[META])
        else:
            extra = {META: ""}
            self.program = torch.export.load(str(self.path), extra_files=extra).module()
            self.meta = json.loads(extra[META])
        self.latency = int(self.meta["latency"])
        self.sample_rate = float(self.meta["sample_rate"])

    def __call__(self, x: Tensor, knobs: Tensor | None = None) -> Tensor:
        if knobs is None:
            knobs = torch.tensor(self.meta["knob_defaults"], dtype=torch.float32)
        if self.aoti:  # an AOTInductor package reads dense memory: a strided view is misread
            x = x.contiguous()
        with torch.no_grad():
            return self.program(x, knobs)


def load_pt2(path: str | os.PathLike, *, aoti: bool | None = None) -> Pt2Host:
    """Load ``FILE.pt2`` (``torch.export.load(...).module()``) or, with ``aoti`` (None:
    when the name ends with ``.aoti.pt2``), an AOTInductor package
    (``torch._inductor.aoti_load_package``)."""
    return Pt2Host(path, aoti)
