"""Trapezoidal (topology-preserving transform) state-variable filter and its adjoint.

Per sample, with ``g = tan(pi * cutoff / sample_rate)`` and damping ``k = 1/Q``
(Zavalishin, "The Art of VA Filter Design", ch. 4; Simper's "linear trap" form):

    # a1 = 1/(1 + g(g+k)), a2 = g a1, a3 = g a2
    # v3 = x - s2; v1 = a1 s1 + a2 v3; v2 = s2 + a2 s1 + a3 v3
    # y  = m_lp v2 + m_bp v1 + m_hp (x - k v1 - v2)
    # s1 <- 2 v1 - s1;  s2 <- 2 v2 - s2
    #                     (N,T),(N,Tg),(N,Tk),(3,),(N,2) -> (N,T),(N,Ts,2),(N,2)

``Tg``/``Tk`` are T (per-sample) or 1 (static). ``mix = (m_lp, m_bp, m_hp)`` picks the
response. For g > 0 and k > 0 the poles lie strictly inside the unit circle whatever the
modulation, which is why this is the filter to use under fast cutoff sweeps.

``states`` (``Ts`` in {0, T}) stores the state before each sample for the backward pass.
The adjoint runs the transposed state recursion backwards in time and accumulates
gradients for x, g, k and the initial state in one pass; g and k gradients are summed
into a single slot when those controls are static.
"""

from __future__ import annotations

import numba
import torch
from numba import cuda

__all__ = [
    "svf_reference",
    "svf_cpu",
    "svf_cuda",
    "svf_adjoint_cpu",
    "svf_adjoint_cuda",
]


def svf_reference(
    x: torch.Tensor, g: torch.Tensor, k: torch.Tensor, mix: torch.Tensor, s0: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Slow, obvious TPT SVF in torch (differentiable by autograd; the oracle).

    Args:
        x: input ``(N, T)``. g: prewarped cutoff ``(N, Tg)``. k: damping ``(N, Tk)``.
        mix: output weights ``(3,)`` for lowpass, bandpass, highpass. s0: state ``(N, 2)``.

    Returns:
        ``(y, sf)``: output ``(N, T)`` and final state ``(N, 2)``.
    """
    s1, s2 = s0[:, 0], s0[:, 1]
    ys = []
    for t in range(x.shape[1]):
        gt = g[:, t if g.shape[1] > 1 else 0]
        kt = k[:, t if k.shape[1] > 1 else 0]
        a1 = 1.0 / (1.0 + gt * (gt + kt))
        a2 = gt * a1
        a3 = gt * a2
        v3 = x[:, t] - s2
        v1 = a1 * s1 + a2 * v3
        v2 = s2 + a2 * s1 + a3 * v3
        ys.append(mix[0] * v2 + mix[1] * v1 + mix[2] * (x[:, t] - kt * v1 - v2))
        s1, s2 = 2.0 * v1 - s1, 2.0 * v2 - s2
    y = torch.stack(ys, dim=1) if ys else x.clone()
    return y, torch.stack([s1, s2], dim=1)


def _forward_row(x, g, k, mix, s0, y, states, sf):
    n_t = x.shape[0]
    sg = 1 if g.shape[0] > 1 else 0
    sk = 1 if k.shape[0] > 1 else 0
    store = states.shape[0] > 0
    m_lp = mix[0]
    m_bp = mix[1]
    m_hp = mix[2]
    s1 = s0[0]
    s2 = s0[1]
    for t in range(n_t):
        if store:
            states[t, 0] = s1
            states[t, 1] = s2
        gt = g[t * sg]
        kt = k[t * sk]
        a1 = 1 / (1 + gt * (gt + kt))
        a2 = gt * a1
        a3 = gt * a2
        xt = x[t]
        v3 = xt - s2
        v1 = a1 * s1 + a2 * v3
        v2 = s2 + a2 * s1 + a3 * v3
        y[t] = m_lp * v2 + m_bp * v1 + m_hp * (xt - kt * v1 - v2)
        s1 = 2 * v1 - s1
        s2 = 2 * v2 - s2
    sf[0] = s1
    sf[1] = s2


def _adjoint_row(gy, x, g, k, mix, states, gsf, gx, gg, gk, gs0):
    n_t = x.shape[0]
    sg = 1 if g.shape[0] > 1 else 0
    sk = 1 if k.shape[0] > 1 else 0
    m_lp = mix[0]
    m_bp = mix[1]
    m_hp = mix[2]
    for t in range(gg.shape[0]):
        gg[t] = 0
    for t in range(gk.shape[0]):
        gk[t] = 0
    l1 = gsf[0]  # adjoint of the state after sample t
    l2 = gsf[1]
    for t in range(n_t - 1, -1, -1):
        s1 = states[t, 0]
        s2 = states[t, 1]
        gt = g[t * sg]
        kt = k[t * sk]
        a1 = 1 / (1 + gt * (gt + kt))
        a2 = gt * a1
        a3 = gt * a2
        v3 = x[t] - s2
        v1 = a1 * s1 + a2 * v3
        gyt = gy[t]
        dv1 = 2 * l1 + (m_bp - m_hp * kt) * gyt
        dv2 = 2 * l2 + (m_lp - m_hp) * gyt
        dv3 = a2 * dv1 + a3 * dv2
        gx[t] = dv3 + m_hp * gyt
        # Coefficient adjoints, then chain through a1(g, k), a2 = g a1, a3 = g a2.
        da1 = dv1 * s1
        da2 = dv1 * v3 + dv2 * s1
        da3 = dv2 * v3
        a1_g = -(2 * gt + kt) * a1 * a1
        a1_k = -gt * a1 * a1
        a2_g = a1 + gt * a1_g
        a2_k = gt * a1_k
        a3_g = a2 + gt * a2_g
        a3_k = gt * a2_k
        gg[t * sg] += da1 * a1_g + da2 * a2_g + da3 * a3_g
        gk[t * sk] += da1 * a1_k + da2 * a2_k + da3 * a3_k - m_hp * v1 * gyt
        # Transposed state update.
        l1, l2 = -l1 + a1 * dv1 + a2 * dv2, -l2 + dv2 - dv3
    gs0[0] = l1
    gs0[1] = l2


_forward_row_cpu = numba.njit(cache=True)(_forward_row)
_adjoint_row_cpu = numba.njit(cache=True)(_adjoint_row)
_forward_row_cuda = cuda.jit(device=True)(_forward_row)
_adjoint_row_cuda = cuda.jit(device=True)(_adjoint_row)


@numba.njit(parallel=True, cache=True)
def svf_cpu(x, g, k, mix, s0, out, states, sf):
    """SVF forward on the CPU: rows in parallel, time sequential. See module doc."""
    for i in numba.prange(x.shape[0]):
        _forward_row_cpu(x[i], g[i], k[i], mix, s0[i], out[i], states[i], sf[i])


@numba.njit(parallel=True, cache=True)
def svf_adjoint_cpu(gy, x, g, k, mix, states, gsf, gx, gg, gk, gs0):
    """SVF adjoint on the CPU: rows in parallel, one reverse pass. See module doc."""
    for i in numba.prange(x.shape[0]):
        _adjoint_row_cpu(
            gy[i], x[i], g[i], k[i], mix, states[i], gsf[i], gx[i], gg[i], gk[i], gs0[i]
        )


@cuda.jit
def _svf_kernel(x, g, k, mix, s0, out, states, sf):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _forward_row_cuda(x[i], g[i], k[i], mix, s0[i], out[i], states[i], sf[i])


@cuda.jit
def _svf_adjoint_kernel(gy, x, g, k, mix, states, gsf, gx, gg, gk, gs0):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _adjoint_row_cuda(
            gy[i], x[i], g[i], k[i], mix, states[i], gsf[i], gx[i], gg[i], gk[i], gs0[i]
        )


def svf_cuda(x, g, k, mix, s0, out, states, sf, stream=0):
    """SVF forward on a CUDA device, one thread per row. Same arrays as the CPU twin."""
    from ._launch import launch_rows

    launch_rows(_svf_kernel, x.shape[0], stream, x, g, k, mix, s0, out, states, sf)


def svf_adjoint_cuda(gy, x, g, k, mix, states, gsf, gx, gg, gk, gs0, stream=0):
    """SVF adjoint on a CUDA device, one thread per row. Same arrays as the CPU twin."""
    from ._launch import launch_rows

    launch_rows(
        _svf_adjoint_kernel, x.shape[0], stream, gy, x, g, k, mix, states, gsf, gx, gg, gk, gs0
    )
