"""Checkpoints of training runs: plain data that loads with ``weights_only=True``.

A checkpoint holds tensors, numbers, strings, lists and dicts only: the model's and the
optimiser's state dicts, the schedule, the step, the data order, the random states (as
tensors) and the configuration (also written beside the checkpoints as ``config.toml``).
It is read with ``torch.load(..., weights_only=True)``, whose unpickler refuses anything
that would construct an arbitrary object, so a run folder someone shares cannot run code
on this machine; such a file gives a :class:`~ddsp.errors.CheckpointError`.
"""

from __future__ import annotations

import io
import pickle
import random
import re
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, ConfigError
from ..io import atomic_path
from .config import Config
from .model import Autoencoder, ModelConfig

__all__ = [
    "CHECKPOINT_FORMAT",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "load_run",
    "rng_state",
    "set_rng_state",
]

CHECKPOINT_FORMAT = 2
_REQUIRED = ("format", "model", "config", "sample_rate", "frame_rate", "statistics", "step")


def rng_state() -> dict[str, Any]:
    """torch's and Python's random states, as tensors and numbers."""
    version, words, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "python_version": int(version),
        "python_words": torch.tensor(words, dtype=torch.int64),
        "python_gauss": gauss,
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    words = tuple(int(w) for w in state["python_words"].tolist())
    random.setstate((state["python_version"], words, state["python_gauss"]))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plain data, see the module docstring) atomically."""
    buf = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint as plain data; CheckpointError for damaged, foreign or unsafe files."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found:  # a class or function the file asks to call: never run it
            raise CheckpointError(
                f"refusing to load checkpoint {path}: it is not plain data (it asks to call "
                f"{found.group(1)}, which could run code); only load checkpoints written by "
                "ddsp train"
            ) from None
        raise CheckpointError(
            f"cannot read checkpoint {path}: not a checkpoint file (damaged or of another kind)"
        ) from None
    except Exception as e:  # torch raises many types for a damaged file
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from None
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(state).__name__}, not a checkpoint of ddsp train"
        )
    if state.get("format") != CHECKPOINT_FORMAT:
        got = state.get("format")
        what = "no format number (an older ddsp)" if got is None else f"format {got!r}"
        raise CheckpointError(
            f"checkpoint {path} has {what}; this version reads format "
            f"{CHECKPOINT_FORMAT} (train again, or use the version that wrote it)"
        )
    missing = [k for k in _REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {missing}")
    return state


def latest_checkpoint(run: Path) -> Path | None:
    """The newest ``step_*.pt`` of a run folder, or None."""
    found = sorted((Path(run) / "checkpoints").glob("step_*.pt"))
    return found[-1] if found else None


def model_config(state: dict[str, Any], where: str) -> ModelConfig:
    """The validated model configuration a checkpoint was trained with."""
    try:
        return Config.from_dict({"model": state["config"]["model"]}, where=where).model
    except (KeyError, TypeError, ConfigError) as e:
        raise CheckpointError(f"checkpoint {where} holds no usable model config: {e}") from None


def load_run(run: Path, which: str = "best") -> tuple[Autoencoder, dict[str, Any]]:
    """The trained model of a run folder (its ``best`` checkpoint, else the newest) and the
    checkpoint's data (statistics, rates)."""
    run = Path(run)
    if not run.is_dir():
        raise CheckpointError(f"{run} is not a run folder (no such folder)")
    path = run / "checkpoints" / f"{which}.pt"
    if not path.exists():
        path = latest_checkpoint(run) or path
    if not path.exists():
        raise CheckpointError(f"{run} has no checkpoint (expected {path})")
    state = load_checkpoint(path)
    mcfg = model_config(state, str(path))
    try:
        model = Autoencoder(mcfg, int(state["sample_rate"]), float(state["frame_rate"]))
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {path} does not hold a usable model: {e}") from None
    model.eval()
    return model, state
