"""Autograd bridge to :mod:`ddsp.kernels.fdn`: the delay network (FDN, comb banks)."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from .. import _workspace as workspace
from ..kernels import fdn as _fdn
from ..kernels._launch import dispatch

__all__ = ["NetworkFunction"]


def _fdn_block(m: torch.Tensor, n_t: int, cap: int = 2048) -> int:
    """Block length of the delay-network kernel: at most the shortest line (see its doc)."""
    return max(1, min(int(m.min()), n_t, cap))


class NetworkFunction(torch.autograd.Function):
    """Delay lines with one-pole filters, a feedback matrix, input and output taps and a
    direct path (see :mod:`ddsp.kernels.fdn`).

    Inputs ``x (R, Ci, T)``, ``B (N, Ci)``, ``A (RA, N, N)``, ``k, p (Rk, N)``, integer
    delays ``m (Rm, N)`` (no gradient), taps ``Ca, Cs (RC, Co, N)``, direct path
    ``D (RC, Co, Ci)``; output ``y (R, Co, T)`` (and the kernel's saved state). The
    backward is the exact adjoint: one reverse kernel pass that also sums every parameter
    gradient asked for (float64, per row, then over shared rows).
    """

    @staticmethod
    def forward(x, B, A, k, p, m, Ca, Cs, D):  # type: ignore[override]
        n_r, _, n_t = x.shape
        n_l = B.shape[0]
        y = workspace.empty((n_r, Ca.shape[1], n_t), x.dtype, x.device)
        a = workspace.empty((n_r, n_l, n_t), x.dtype, x.device)
        v = workspace.empty((n_r, n_l, n_t), x.dtype, x.device)
        block = _fdn_block(m, n_t)
        dispatch(_fdn.network_cpu, _fdn.network_cuda, x, B, A, k, p, m, Ca, Cs, D, y, a, v, block)
        return y, a, v

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        ctx.set_materialize_grads(False)  # a and v are saved state, not outputs to learn from
        ctx.mark_non_differentiable(output[1], output[2])
        ctx.save_for_backward(*inputs, output[1], output[2])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, gy: torch.Tensor | None, _ga: Any, _gv: Any) -> Any:
        x, B, A, k, p, m, Ca, Cs, D, a, v = ctx.saved_tensors
        if gy is None:
            return (None,) * 9
        n_r, n_in, n_t = x.shape
        n_l, n_out = B.shape[0], Ca.shape[1]
        need = ctx.needs_input_grad

        def buf(i: int, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
            # a gradient not asked for is given size 0: the kernel skips it
            shape = shape if need[i] else (0,) * len(shape)
            return torch.empty((n_r, *shape), dtype=dtype, device=x.device)

        lv = x.new_empty(n_r, n_l, _fdn_block(m, n_t))
        la = workspace.empty(tuple(a.shape), a.dtype, a.device)
        gx = buf(0, n_in, n_t, dtype=x.dtype)
        gB, gA = buf(1, n_l, n_in), buf(2, n_l, n_l)
        gk, gp = buf(3, n_l), buf(4, n_l)
        gCa, gCs, gD = buf(6, n_out, n_l), buf(7, n_out, n_l), buf(8, n_out, n_in)
        dispatch(
            _fdn.network_adjoint_cpu,
            _fdn.network_adjoint_cuda,
            gy.contiguous(), x, B, A, k, p, m, Ca, Cs, D, a, v,
            la, lv, gx, gB, gA, gk, gp, gCa, gCs, gD,
        )  # fmt: skip

        def reduce(g: torch.Tensor, like: torch.Tensor, i: int) -> torch.Tensor | None:
            if not need[i]:
                return None
            g = g if like.ndim == g.ndim and like.shape[0] == n_r else g.sum(0)
            return g.reshape(like.shape).to(like.dtype)

        return (
            gx if need[0] else None,
            reduce(gB, B, 1),
            reduce(gA, A, 2),
            reduce(gk, k, 3),
            reduce(gp, p, 4),
            None,
            reduce(gCa, Ca, 6),
            reduce(gCs, Cs, 7),
            reduce(gD, D, 8),
        )
