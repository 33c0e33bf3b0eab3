"""Bridge to :mod:`ddsp.kernels.sos`: a biquad cascade stepping its state in place."""

from __future__ import annotations

import numpy as np
import torch

from ..kernels import sos as _sos
from ..kernels._launch import dispatch

__all__ = ["sos_step"]


def sos_step(x, sos, zx, zy):  # type: ignore[no-untyped-def]
    """Filter rows ``x (R, T)`` through sections ``sos (K, 5)`` (float64) from the states
    ``zx, zy (R, K, 2)``, which are updated in place (see ``kernels/sos.py``).

    Takes torch tensors (CPU or CUDA) or, on the streaming fast path, numpy arrays (CPU).
    No gradient: training streams use the differentiable filters, which share the state
    layout.
    """
    if isinstance(x, np.ndarray):
        y = np.empty_like(x)
        _sos.sos_cpu(x, sos, zx, zy, y)
        return y
    y = torch.empty_like(x)
    dispatch(_sos.sos_cpu, _sos.sos_cuda, x, sos, zx, zy, y)
    return y
