"""Control helpers shared by the processors (shape conventions of ``Processor.controls``)."""

from __future__ import annotations

from typing import Any

import torch

from ..units import db_to_amp

__all__ = ["source_control", "per_item", "gain_amp"]


def gain_amp(c: dict[str, Any]) -> Any:
    """Linear gain from a controls dict's ``gain_db`` (a float, ``(batch, 1)`` or frames)."""
    g = c["gain_db"]
    return db_to_amp(g[..., 0] if isinstance(g, torch.Tensor) and g.ndim == 3 else g)


def source_control(value: Any) -> Any:
    """Controls of sources are (batch,) or (batch, frames): undo the channel axis."""
    if isinstance(value, torch.Tensor) and value.ndim == 3:
        return value[:, 0]
    if isinstance(value, torch.Tensor) and value.ndim == 2 and value.shape[-1] == 1:
        return value[:, 0]
    return value


def per_item(value: Any) -> Any:
    """``controls()`` gives (batch, 1) or (batch, 1, frames); ops reading (batch,) or
    (batch, frames) get the channel axis removed."""
    return value[:, 0] if isinstance(value, torch.Tensor) and value.ndim >= 2 else value
