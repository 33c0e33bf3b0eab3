"""Autograd bridge to :mod:`ddsp.kernels.delay`: the fractional feedback delay line."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from ..kernels import delay as _dl
from ..kernels._launch import dispatch

__all__ = ["DelayFunction"]


class DelayFunction(torch.autograd.Function):
    """Fractional feedback delay (see :mod:`ddsp.kernels.delay`).

    Inputs ``x (N, T)``, delay in samples ``d (N, Td)`` (>= 1), feedback ``fb (N, Tf)``,
    the line's history ``ring (N, H)`` (``H = 0`` offline) and ``head`` (int, where the next
    input goes in the ring); output ``y (N, T)`` (the delayed signal, without the dry
    part). The ring is read, not written, and gets no gradient.
    """

    @staticmethod
    def forward(x, d, fb, ring, head):  # type: ignore[override]
        y = torch.empty_like(x)
        dispatch(_dl.delay_cpu, _dl.delay_cuda, x, d, fb, ring, int(head), y)
        return y

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        x, d, fb, ring, head = inputs
        ctx.head = int(head)
        ctx.save_for_backward(x, d, fb, ring, output)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, gy: torch.Tensor) -> Any:
        x, d, fb, ring, y = ctx.saved_tensors
        lu = torch.empty(x.shape, dtype=torch.float64, device=x.device)
        gx = torch.empty_like(x)
        gd = torch.empty(d.shape, dtype=torch.float64, device=x.device)
        gfb = torch.empty(fb.shape, dtype=torch.float64, device=x.device)
        dispatch(
            _dl.delay_adjoint_cpu,
            _dl.delay_adjoint_cuda,
            gy.contiguous(),
            x,
            d,
            fb,
            ring,
            ctx.head,
            y,
            lu,
            gx,
            gd,
            gfb,
        )
        need = ctx.needs_input_grad
        return (
            gx if need[0] else None,
            gd.to(d.dtype) if need[1] else None,
            gfb.to(fb.dtype) if need[2] else None,
            None,
            None,
        )
