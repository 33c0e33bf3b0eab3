"""Autograd bridge to :mod:`ddsp.kernels.svf`: the trapezoidal state-variable filter."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from ..kernels import svf as _svf
from ..kernels._launch import dispatch

__all__ = ["SVFFunction", "svf_op"]


class SVFFunction(torch.autograd.Function):
    """Trapezoidal state-variable filter (see :mod:`ddsp.kernels.svf`).

    Inputs ``x (N, T)``, ``g (N, Tg)``, ``k (N, Tk)``, ``s0 (N, 2)``, a ``mix (3,)``
    tensor (not differentiated) and ``store`` (keep per-sample states for backward).
    Outputs ``y (N, T)``, final state ``(N, 2)`` and the stored states (no gradient).
    """

    @staticmethod
    def forward(
        x: torch.Tensor,
        g: torch.Tensor,
        k: torch.Tensor,
        s0: torch.Tensor,
        mix: torch.Tensor,
        store: bool,
    ) -> Any:
        n, n_t = x.shape
        y = torch.empty_like(x)
        sf = torch.empty_like(s0)
        states = torch.empty((n, n_t if store else 0, 2), dtype=x.dtype, device=x.device)
        dispatch(_svf.svf_cpu, _svf.svf_cuda, x, g, k, mix, s0, y, states, sf)
        return y, sf, states

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        x, g, k, _, mix, store = inputs
        _, _, states = output
        ctx.set_materialize_grads(False)  # unused outputs: None, not zero tensors
        ctx.mark_non_differentiable(states)
        ctx.stored = store
        ctx.save_for_backward(x, g, k, mix, states)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor, grad_sf: torch.Tensor, _: Any) -> Any:
        x, g, k, mix, states = ctx.saved_tensors
        if not ctx.stored:
            raise RuntimeError("SVF.backward needs the states: call it with store=True")
        gy = torch.zeros_like(x) if grad_y is None else grad_y.contiguous()
        gsf = (
            torch.zeros((x.shape[0], 2), dtype=x.dtype, device=x.device)
            if grad_sf is None
            else grad_sf.contiguous()
        )
        gx = torch.empty_like(x)
        gg = torch.empty(
            g.shape, dtype=torch.float64 if g.shape[1] == 1 else g.dtype, device=g.device
        )
        gk = torch.empty(
            k.shape, dtype=torch.float64 if k.shape[1] == 1 else k.dtype, device=k.device
        )
        gs0 = torch.empty_like(gsf)
        dispatch(
            _svf.svf_adjoint_cpu,
            _svf.svf_adjoint_cuda,
            gy,
            x,
            g,
            k,
            mix,
            states,
            gsf,
            gx,
            gg,
            gk,
            gs0,
        )
        need = ctx.needs_input_grad
        return (
            gx if need[0] else None,
            gg.to(g.dtype) if need[1] else None,
            gk.to(k.dtype) if need[2] else None,
            gs0 if need[3] else None,
            None,
            None,
        )


def svf_op(
    x: torch.Tensor, g: torch.Tensor, k: torch.Tensor, s0: torch.Tensor, mix: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply :class:`SVF`, storing states only when a gradient may be asked for."""
    store = torch.is_grad_enabled() and any(t.requires_grad for t in (x, g, k, s0))
    y, sf, _ = SVFFunction.apply(x, g, k, s0, mix, store)
    return y, sf
