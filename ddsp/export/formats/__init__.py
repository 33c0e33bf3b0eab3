"""Plugin file formats for an exported model (``ddsp.export.model.ExportedModel``).

============  ===========================  =========================================
format        file(s)                      host
============  ===========================  =========================================
``neutone``   ``NAME.nm``                  Neutone FX (needs neutone-sdk to save)
``nn_tilde``  ``NAME.ts``                  IRCAM nn~ in Max/MSP and Pure Data
``pt2``       ``NAME.pt2`` (+ ``NAME.aoti.pt2`` where a C++ compiler is found)
                                           torch.export / AOTInductor runtimes
============  ===========================  =========================================

Each format has ``save_<format>(model, path, *, name, description="", ...)``, returning
the paths written, and ``load_<format>(path)``, which loads a file as its host does (torch
alone, no ddsp) and returns a callable on ``(batch, channels, n)`` blocks; :func:`save` and
:func:`load` pick one by name. Saving checks the file as its host would load it and
compares it with the model block by block; files are written through temporary names
beside them, so a failure leaves nothing behind.

The model must follow the contract of ``ExportedModel``: attributes ``sample_rate``,
``block_size``, ``in_channels``, ``out_channels``, ``latency``, ``knob_names``,
``knob_descriptions``, ``knob_defaults``; ``forward(x, knobs)`` with state in buffers;
``reset()`` exported to TorchScript.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ...errors import ConfigError
from .neutone import load_neutone, save_neutone
from .nn_tilde import load_nn_tilde, save_nn_tilde
from .pt2 import load_pt2, save_pt2

__all__ = [
    "FORMATS",
    "Format",
    "save",
    "load",
    "save_neutone",
    "load_neutone",
    "save_nn_tilde",
    "load_nn_tilde",
    "save_pt2",
    "load_pt2",
]


@dataclass(frozen=True)
class Format:
    """A plugin format: its file suffix, host, and save and load functions."""

    name: str
    suffix: str
    host: str
    save: Callable[..., list[Path]]
    load: Callable[..., Callable]


FORMATS: dict[str, Format] = {
    "neutone": Format("neutone", ".nm", "Neutone FX", save_neutone, load_neutone),
    "nn_tilde": Format("nn_tilde", ".ts", "nn~ (Max/MSP, Pure Data)", save_nn_tilde, load_nn_tilde),
    "pt2": Format("pt2", ".pt2", "torch.export / AOTInductor", save_pt2, load_pt2),
}


def _format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise ConfigError(
            f"unknown plugin format {fmt!r}; choose one of {', '.join(sorted(FORMATS))}"
        )
    return FORMATS[fmt]


def save(
    model: torch.nn.Module, path: str | os.PathLike, fmt: str, *, name: str, **options
) -> list[Path]:
    """``FORMATS[fmt].save(model, path, name=name, **options)``; ConfigError if unknown."""
    return _format(fmt).save(model, path, name=name, **options)


def load(path: str | os.PathLike, fmt: str | None = None) -> Callable:
    """Load a file as its host would; the format is ``fmt`` or guessed from the suffix."""
    if fmt is None:
        by_suffix = [f for f in FORMATS.values() if str(path).lower().endswith(f.suffix)]
        if not by_suffix:
            raise ConfigError(f"cannot tell the plugin format of {path}; pass fmt=")
        return by_suffix[0].load(path)
    return _format(fmt).load(path)
