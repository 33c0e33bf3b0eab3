"""Bridge to :mod:`ddsp.kernels.envelope`: the attack/release branch mask (no gradient)."""

from __future__ import annotations

import torch

from ..kernels import envelope as _env
from ..kernels._launch import dispatch

__all__ = ["envelope_mask"]


def envelope_mask(
    g: torch.Tensor, attack: torch.Tensor, release: torch.Tensor, y0: torch.Tensor
) -> torch.Tensor:
    """Branch mask (1: attack) of the attack/release one-pole (see ``kernels/envelope.py``).

    ``g (N, T)``, coefficients ``(N, Ta)``, ``(N, Tr)``, ``y0 (N,)``; no gradient (the
    branch is piecewise constant).
    """
    mask = torch.empty(g.shape, dtype=torch.uint8, device=g.device)
    y_end = torch.empty((g.shape[0], 1), dtype=g.dtype, device=g.device)
    with torch.no_grad():
        dispatch(
            _env.envelope_mask_cpu,
            _env.envelope_mask_cuda,
            g.detach(),
            attack.detach(),
            release.detach(),
            y0.detach()[:, None],
            mask,
            y_end,
        )
    return mask.bool()
