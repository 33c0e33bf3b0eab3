"""Bridge to :mod:`ddsp.kernels.partitioned`: the frequency-domain delay line's sum."""

from __future__ import annotations

import torch

from ..kernels import partitioned as _pc
from ..kernels._launch import dispatch

__all__ = ["spectral_mac"]


def spectral_mac(ring: torch.Tensor, spectra: torch.Tensor, start: int) -> torch.Tensor:
    """``sum_k ring[:, k] * spectra[start + k]`` for ``ring (R, M, F)`` and shared
    ``spectra (2M, F)`` (see ``kernels/partitioned.py``). No gradient: streams without
    gradients only."""
    out = torch.empty(ring.shape[0], ring.shape[2], dtype=ring.dtype, device=ring.device)
    dispatch(_pc.spectral_mac_cpu, _pc.spectral_mac_cuda, ring, spectra, int(start), out)
    return out
