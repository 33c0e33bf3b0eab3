"""What the plugin formats share: the model contract, output paths, optional packages and
the check that a saved file plays like the model it came from."""

from __future__ import annotations

import contextlib
import copy
import importlib
import math
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor

from ...errors import ExportError, MissingDependencyError, OutputError
from ...io import check_outputs

__all__ = [
    "MAX_KNOBS",
    "ModelInfo",
    "model_info",
    "fresh_copy",
    "check_output_path",
    "require",
    "quiet_torchscript",
    "check_blocks",
]

MAX_KNOBS = 4  # Neutone's limit; the other formats keep it so that one model fits all three
CHECK_TOLERANCE = 1e-4  # saved file vs model, relative to the signal's scale (or 1)


@dataclass(frozen=True)
class ModelInfo:
    """The exported model's declared attributes (see ``ddsp.export.model.ExportedModel``)."""

    sample_rate: float
    block_size: int
    in_channels: int
    out_channels: int
    latency: int
    knob_names: tuple[str, ...]
    knob_descriptions: tuple[str, ...]
    knob_defaults: tuple[float, ...]

    @property
    def n_knobs(self) -> int:
        return len(self.knob_names)

    def default_knobs(self) -> Tensor:
        return torch.tensor(self.knob_defaults, dtype=torch.float32)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _attr(model: torch.nn.Module, name: str) -> object:
    if not hasattr(model, name):
        raise ExportError(f"cannot export {type(model).__name__}: it has no attribute {name!r}")
    return getattr(model, name)


def model_info(model: torch.nn.Module) -> ModelInfo:
    """Read and check the attributes every format needs; ExportError names what is wrong."""
    if not isinstance(model, torch.nn.Module):
        raise ExportError(f"cannot export {type(model).__name__}: not a torch.nn.Module")
    what = type(model).__name__
    sample_rate = _attr(model, "sample_rate")
    block_size = _attr(model, "block_size")
    in_ch, out_ch = _attr(model, "in_channels"), _attr(model, "out_channels")
    latency = _attr(model, "latency")
    names = list(_attr(model, "knob_names"))
    descriptions = list(_attr(model, "knob_descriptions"))
    defaults = list(_attr(model, "knob_defaults"))
    if not callable(getattr(model, "reset", None)):
        raise ExportError(f"cannot export {what}: it has no reset() method")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)):
        raise ExportError(f"cannot export {what}: sample_rate {sample_rate!r} is not a number")
    if not (math.isfinite(sample_rate) and sample_rate > 0):
        raise ExportError(f"cannot export {what}: sample_rate {sample_rate!r} is not positive")
    for name, value, low in (("block_size", block_size, 1), ("latency", latency, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ExportError(f"cannot export {what}: {name} {value!r} is not an integer >= {low}")
    for name, value in (("in_channels", in_ch), ("out_channels", out_ch)):
        if value not in (1, 2) or isinstance(value, bool):
            raise ExportError(f"cannot export {what}: {name} is {value!r}; 1 or 2 are supported")
    if len(names) > MAX_KNOBS:
        raise ExportError(f"cannot export {what}: {len(names)} knobs, at most {MAX_KNOBS}")
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ExportError(f"cannot export {what}: knob names {names} must be distinct strings")
    if len(descriptions) != len(names) or len(defaults) != len(names):
        raise ExportError(
            f"cannot export {what}: {len(names)} knob names but {len(descriptions)} "
            f"descriptions and {len(defaults)} defaults"
        )
    if not all(isinstance(d, str) for d in descriptions):
        raise ExportError(f"cannot export {what}: knob descriptions must be strings")
    for name, d in zip(names, defaults):
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0.0 <= d <= 1.0:
            raise ExportError(f"cannot export {what}: knob {name!r} default {d!r} is not in [0, 1]")
    return ModelInfo(
        float(sample_rate),
        block_size,
        in_ch,
        out_ch,
        latency,
        tuple(names),
        tuple(descriptions),
        tuple(float(d) for d in defaults),
    )


def fresh_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy in eval mode with its state cleared: exporting never touches ``model``."""
    try:
        model = copy.deepcopy(model)
    except Exception as e:  # a module holding something that cannot be copied
        raise ExportError(f"cannot copy {type(model).__name__} for export: {e}") from None
    model.eval()
    model.reset()
    return model


def check_output_path(path: str | os.PathLike, suffix: str, fmt: str) -> Path:
    """``path`` as a Path; OutputError, before any work, if it has the wrong suffix or
    cannot be a file (a folder stands there, or a parent is a file)."""
    path = Path(path)
    if not path.name.lower().endswith(suffix):
        raise OutputError(f"cannot write {path}: a {fmt} file must end with {suffix}")
    check_outputs([path])
    return path


def require(module: str, package: str, feature: str) -> ModuleType:
    """Import an optional dependency, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"{feature} needs the package {package!r} ({e}); install it with: "
            "pip install 'ddsp-numba[plugins]'"
        ) from None


@contextlib.contextmanager
def quiet_torchscript() -> Iterator[None]:
    """Silence torch's deprecation notices for TorchScript: the hosts load TorchScript."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        yield


def check_blocks(
    model: torch.nn.Module,
    run: Callable[[Tensor, Tensor], Tensor],
    info: ModelInfo,
    *,
    what: str,
    batch: int = 1,
    blocks: int = 3,
) -> None:
    """Feed the same random blocks and knobs to a fresh ``model`` and to ``run`` (a saved
    file, loaded as its host would); ExportError unless they agree block after block."""
    gen = torch.Generator().manual_seed(1234)
    knobs = torch.rand(info.n_knobs, generator=gen)
    with torch.no_grad():
        for i in range(blocks):
            x = torch.rand(batch, info.in_channels, info.block_size, generator=gen) * 2 - 1
            want = model(x, knobs)
            got = run(x, knobs)
            if tuple(got.shape) != tuple(want.shape) or got.dtype != want.dtype:
                raise ExportError(
                    f"{what}: block {i} came out {tuple(got.shape)} {got.dtype}, "
                    f"the model gives {tuple(want.shape)} {want.dtype}"
                )
            scale = max(float(want.abs().max()), 1.0)
            err = float((got.double() - want.double()).abs().max()) / scale
            if not err <= CHECK_TOLERANCE:  # NaN fails too
                raise ExportError(
                    f"{what}: block {i} differs from the model by {err:.3g} "
                    f"(more than {CHECK_TOLERANCE:g})"
                )
