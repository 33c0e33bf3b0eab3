"""Autograd bridge to :mod:`ddsp.kernels.compressor`: fused peak-detector dynamics."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .. import _workspace as workspace
from ..kernels import compressor as _dyn
from ..kernels._launch import dispatch

__all__ = ["DynamicsFunction", "dynamics_step"]


class DynamicsFunction(torch.autograd.Function):
    """Fused peak-detector dynamics (see :mod:`ddsp.kernels.compressor`).

    Inputs ``x (N, T)``, per-row controls ``p (N, 6)`` = (threshold_db, ratio, knee_db,
    attack_coef, release_coef, makeup_amp) in float64, initial gain ``y0 (N,)`` float64,
    ``floor2`` and ``compress`` (True: compressor, False: expander). Output ``(N, T)``.
    """

    @staticmethod
    def forward(x, p, y0, floor2, compress):  # type: ignore[override]
        out = workspace.empty(tuple(x.shape), x.dtype, x.device)
        ys = workspace.empty(tuple(x.shape), x.dtype, x.device)
        mask = workspace.empty(tuple(x.shape), torch.uint8, x.device)
        gs = workspace.empty(tuple(x.shape), x.dtype, x.device)
        os = workspace.empty(tuple(x.shape), x.dtype, x.device)
        args = (x, p, y0[:, None], floor2, compress, out, ys, mask, gs, os)
        dispatch(_dyn.dynamics_cpu, _dyn.dynamics_cuda, *args)
        return out, ys, mask, gs, os

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        x, p, y0, floor2, compress = inputs
        ctx.mark_non_differentiable(*output[1:])
        ctx.set_materialize_grads(False)
        ctx.floor2, ctx.compress = floor2, compress
        ctx.save_for_backward(x, p, y0, *output[1:])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Any, *_state: Any) -> Any:
        x, p, y0, ys, mask, gs, os = ctx.saved_tensors
        if grad_out is None:
            return None, None, None, None, None
        gx = workspace.empty(tuple(x.shape), x.dtype, x.device)
        gp = torch.empty_like(p)
        gy0 = torch.empty((x.shape[0], 1), dtype=torch.float64, device=x.device)
        dispatch(
            _dyn.dynamics_adjoint_cpu,
            _dyn.dynamics_adjoint_cuda,
            grad_out.contiguous(),
            x,
            p,
            y0[:, None],
            ctx.floor2,
            ctx.compress,
            ys,
            mask,
            gs,
            os,
            gx,
            gp,
            gy0,
        )
        need = ctx.needs_input_grad
        return (
            gx if need[0] else None,
            gp if need[1] else None,
            gy0[:, 0] if need[2] else None,
            None,
            None,
        )


def dynamics_step(x, p, rms_coef, power, gain, floor2, compress, rms):  # type: ignore[no-untyped-def]
    """One block of streamed dynamics (see ``kernels/compressor.py``, streaming): ``x (B,
    C, T)``, controls ``p (B, 6)`` float64, states ``power (B, C)`` and ``gain (B, G)``
    (``G`` 1: channels linked) updated in place. Torch tensors (CPU or CUDA) or, on the
    streaming fast path, numpy arrays (CPU). No gradient: the inference fast path."""
    args = (float(rms_coef), power, gain, float(floor2), bool(compress), bool(rms))
    if isinstance(x, np.ndarray):
        y = np.empty_like(x)
        _dyn.dynamics_stream_cpu(x, p, *args, y)
        return y
    y = torch.empty_like(x)
    dispatch(_dyn.dynamics_stream_cpu, _dyn.dynamics_stream_cuda, x, p, *args, y)
    return y
