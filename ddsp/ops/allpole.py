"""Autograd bridge to :mod:`ddsp.kernels.allpole`: the direct-form-I IIR recursion."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..kernels import allpole as _ap
from ..kernels._launch import dispatch

__all__ = ["IIRFunction", "iir_op"]


class IIRFunction(torch.autograd.Function):
    """Direct form I: ``y[t] = sum_j b[t,j] x[t-j] - sum_k a[t,k] y[t-1-k]``.

    Inputs ``x (N, T)``, ``b (N, Tb, B)``, ``a (N, Ta, K)`` (``Tb``, ``Ta`` in ``{1, T}``),
    past inputs ``zx (N, B-1)`` and outputs ``zy (N, K)``; outputs ``y (N, T)`` and the
    final states ``zfx (N, B-1)``, ``zfy (N, K)``. The pure all-pole filter is
    ``b = [[[1]]]``. The backward is the exact adjoint: a fused reverse-time kernel, or,
    when a graph of the backward is requested (double backward), the same Function run on
    time-reversed inputs with shifted coefficients plus plain torch sums, so higher
    derivatives come for free.
    """

    @staticmethod
    def forward(
        x: torch.Tensor, b: torch.Tensor, a: torch.Tensor, zx: torch.Tensor, zy: torch.Tensor
    ) -> Any:
        y = torch.empty_like(x)
        zfx = torch.empty_like(zx)
        zfy = torch.empty_like(zy)
        dispatch(_ap.allpole_cpu, _ap.allpole_cuda, x, b, a, zx, zy, y, zfx, zfy)
        return y, zfx, zfy

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        ctx.set_materialize_grads(False)  # unused final states: None, not zero tensors
        ctx.save_for_backward(*inputs, output[0])

    @staticmethod
    def backward(ctx: Any, grad_y: Any, grad_zfx: Any, grad_zfy: Any) -> Any:
        x, b, a, zx, zy, y = ctx.saved_tensors
        n_t, n_b, n_a = x.shape[1], b.shape[2], a.shape[2]
        need = ctx.needs_input_grad
        g = torch.zeros_like(x) if grad_y is None else grad_y.contiguous()
        if grad_zfy is not None and n_a:
            g = g.clone()  # _route_final_state adds in place
        # The final states are the block's last inputs/outputs (or, for short blocks,
        # part of the initial state): route their gradients there.
        gzy_extra = _route_final_state(g, grad_zfy, n_a, n_t, into_signal=True)
        if torch.is_grad_enabled():
            grads = _adjoint_graph(g, x, b, a, zx, zy, y)
        else:
            grads = _adjoint_fused(g, x, b, a, zx, zy, y, need)
        gx, gb, ga, gzx, gzy = grads
        if grad_zfx is not None and n_b > 1:
            gx = gx.clone()
            gzx_extra = _route_final_state(gx, grad_zfx, n_b - 1, n_t, into_signal=False)
            gzx = gzx + gzx_extra if gzx_extra is not None else gzx
        if gzy_extra is not None:
            gzy = gzy + gzy_extra
        return tuple(v if n else None for v, n in zip((gx, gb, ga, gzx, gzy), need))


def _route_final_state(
    signal_grad: torch.Tensor, grad_state: Any, n_state: int, n_t: int, *, into_signal: bool
) -> torch.Tensor | None:
    """Add ``grad_state[i]`` (state ``i`` = sample ``T-1-i``) onto ``signal_grad`` in place.

    Entries ``i >= T`` came from the initial state: return them as its gradient.
    ``signal_grad`` must be a fresh tensor (the caller's own); when ``into_signal`` it
    is the gradient entering the recursion, else a finished input gradient.
    """
    if grad_state is None or n_state == 0:
        return None
    m = min(n_state, n_t)
    if m:
        signal_grad[:, n_t - m :] += grad_state[:, :m].flip(1)
    if n_state > n_t:
        return F.pad(grad_state[:, n_t:], (0, n_t))
    return None


def _adjoint_fused(
    g: torch.Tensor,
    x: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    zx: torch.Tensor,
    zy: torch.Tensor,
    y: torch.Tensor,
    need: tuple[bool, ...],
) -> tuple[torch.Tensor, ...]:
    n = x.shape[0]

    def grad_buffer(coef: torch.Tensor, wanted: bool) -> torch.Tensor:
        # Static coefficients sum T products: accumulate those in float64.
        steps = coef.shape[1] if wanted else 0
        dtype = torch.float64 if steps == 1 else coef.dtype
        return torch.empty((n, steps, coef.shape[2]), dtype=dtype, device=coef.device)

    u = torch.empty_like(x)
    gx = torch.empty_like(x)
    gb, ga = grad_buffer(b, need[1]), grad_buffer(a, need[2])
    gzx = torch.empty(zx.shape, dtype=torch.float64, device=x.device)
    gzy = torch.empty(zy.shape, dtype=torch.float64, device=x.device)
    dispatch(
        _ap.allpole_adjoint_cpu,
        _ap.allpole_adjoint_cuda,
        g,
        x,
        b,
        a,
        zx,
        zy,
        y,
        u,
        gx,
        gb,
        ga,
        gzx,
        gzy,
    )
    return gx, gb.to(b.dtype), ga.to(a.dtype), gzx.to(zx.dtype), gzy.to(zy.dtype)


def _adjoint_graph(
    g: torch.Tensor,
    x: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    zx: torch.Tensor,
    zy: torch.Tensor,
    y: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    """The adjoint of the kernel docstring with differentiable ops (for double backward)."""
    n, n_t = x.shape
    n_b, n_a = b.shape[2], a.shape[2]
    static_a, static_b = a.shape[1] == 1, b.shape[1] == 1
    if n_a:
        # a_shift[t, k] = a[t+1+k, k]; past the end u is zero, so static a needs no shift.
        a_shift = (
            a
            if static_a
            else torch.stack(
                [F.pad(a[:, 1 + k :, k], (0, min(1 + k, n_t))) for k in range(n_a)], dim=2
            )
        )
        one = torch.ones((n, 1, 1), dtype=x.dtype, device=x.device)
        u = IIRFunction.apply(g.flip(1), one, a_shift.flip(1), zx[:, :0], torch.zeros_like(zy))[0]
        u = u.flip(1)
    else:
        u = g
    u_pad = F.pad(u, (0, n_b - 1))
    b_pad = b if static_b else F.pad(b, (0, 0, 0, n_b - 1))
    gx = sum(
        (b_pad[:, 0, j : j + 1] if static_b else b_pad[:, j : j + n_t, j]) * u_pad[:, j : j + n_t]
        for j in range(n_b)
    )
    x_ext = torch.cat([zx.flip(1), x], dim=1)  # x_ext[B-1+p] = x[p]
    y_ext = torch.cat([zy.flip(1), y], dim=1)  # y_ext[K+p] = y[p]
    gb = torch.stack([u * x_ext[:, n_b - 1 - j : n_b - 1 - j + n_t] for j in range(n_b)], dim=2)
    ga_cols = [-u * y_ext[:, n_a - 1 - k : n_a - 1 - k + n_t] for k in range(n_a)]
    ga = torch.stack(ga_cols, dim=2) if n_a else a.new_zeros((n, n_t, 0))
    gb = gb.sum(1, keepdim=True) if static_b else gb
    ga = ga.sum(1, keepdim=True) if static_a else ga

    def state_grad(coef: torch.Tensor, n_state: int, offset: int, sign: float) -> torch.Tensor:
        # grad[i] = sign * sum_{k >= i + offset} u[k-i-offset] coef[k-i-offset, k]
        cols = []
        for i in range(n_state):
            terms = [
                u[:, t] * coef[:, t if coef.shape[1] > 1 else 0, t + i + offset]
                for t in range(min(n_t, coef.shape[2] - i - offset))
            ]
            cols.append(sign * torch.stack(terms).sum(0) if terms else u.new_zeros(n))
        return torch.stack(cols, dim=1) if cols else u.new_zeros((n, 0))

    return gx, gb, ga, state_grad(b, n_b - 1, 1, 1.0), state_grad(a, n_a, 0, -1.0)


def iir_op(
    x: torch.Tensor, b: torch.Tensor, a: torch.Tensor, zx: torch.Tensor, zy: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Apply :class:`IIRFunction` to kernel-layout tensors (see its docstring)."""
    return IIRFunction.apply(x, b, a, zx, zy)
