"""Delay network: N delay lines, a one-pole filter on each, mixed back by a feedback matrix.

The core of the feedback delay network (FDN) reverb, and of Freeverb's comb bank (a
diagonal matrix). Per row (R rows, T samples, N lines), with integer delays ``m_i >= 1``:
    # s_i[t] = v_i[t - m_i]                        (line output; 0 before the block)
    # a_i[t] = k_i s_i[t] + p_i a_i[t-1]            (one-pole absorption / damping)
    # v_i[t] = sum_j A_ij a_j[t] + u_i[t]           (what enters line i)
    #   u (R,T,N), A (RA,N,N), k, p (Rk,N), m (Rm,N) int64  ->  a, v (R,T,N)
``RA``, ``Rk``, ``Rm`` are R or 1 (shared). Outputs (taps of ``a`` or ``s``) and inputs
(``u = x b^T``) are matrix products, done by torch outside the kernel.

Adjoint (one reverse pass; ``la = dL/da`` and ``lv = dL/dv`` of the whole recursion):
    # lv_i[t] = gv_i[t] + k_i la_i[t + m_i]
    # la_i[t] = ga_i[t] + p_i la_i[t+1] + sum_j A_ji lv_j[t]
then, outside the kernel, ``gu = lv``, ``gA = sum_t lv[t] a[t]^T``,
``gk_i = sum_t la_i[t] s_i[t]`` and ``gp_i = sum_t la_i[t] a_i[t-1]``.
"""

from __future__ import annotations

import numba
import torch
from numba import cuda

__all__ = [
    "network_reference",
    "network_cpu",
    "network_cuda",
    "network_adjoint_cpu",
    "network_adjoint_cuda",
]


def network_reference(
    u: torch.Tensor, A: torch.Tensor, k: torch.Tensor, p: torch.Tensor, m: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Slow, obvious version in torch (differentiable by autograd): returns ``(a, v)``."""
    n_r, n_t, n_l = u.shape
    A = A.expand(n_r, n_l, n_l)
    k, p = k.expand(n_r, n_l), p.expand(n_r, n_l)
    m = m.expand(n_r, n_l)
    a_prev = u[:, 0] * 0
    a_list: list[torch.Tensor] = []
    v_list: list[torch.Tensor] = []
    for t in range(n_t):
        s = torch.stack(
            [
                torch.stack(
                    [
                        v_list[t - int(m[r, i])][r, i] if t >= int(m[r, i]) else a_prev[r, i] * 0
                        for i in range(n_l)
                    ]
                )
                for r in range(n_r)
            ]
        )
        a_t = k * s + p * a_prev
        v_t = (A @ a_t[..., None])[..., 0] + u[:, t]
        a_list.append(a_t)
        v_list.append(v_t)
        a_prev = a_t
    if not a_list:
        return u.clone(), u.clone()
    return torch.stack(a_list, 1), torch.stack(v_list, 1)


def _forward_row(u, A, k, p, m, a, v):
    n_t, n_l = u.shape
    for t in range(n_t):
        for i in range(n_l):
            src = t - m[i]
            s = v[src, i] if src >= 0 else 0.0
            prev = a[t - 1, i] if t > 0 else 0.0
            a[t, i] = k[i] * s + p[i] * prev
        for i in range(n_l):
            acc = u[t, i]
            for j in range(n_l):
                acc += A[i, j] * a[t, j]
            v[t, i] = acc


def _adjoint_row(ga, gv, A, k, p, m, la, lv):
    n_t, n_l = ga.shape
    for t in range(n_t - 1, -1, -1):
        for i in range(n_l):
            dst = t + m[i]
            lv[t, i] = gv[t, i] + (k[i] * la[dst, i] if dst < n_t else 0.0)
        for i in range(n_l):
            acc = ga[t, i] + (p[i] * la[t + 1, i] if t + 1 < n_t else 0.0)
            for j in range(n_l):
                acc += A[j, i] * lv[t, j]
            la[t, i] = acc


_forward_row_cpu = numba.njit(cache=True)(_forward_row)
_adjoint_row_cpu = numba.njit(cache=True)(_adjoint_row)
_forward_row_cuda = cuda.jit(device=True)(_forward_row)
_adjoint_row_cuda = cuda.jit(device=True)(_adjoint_row)


@numba.njit(parallel=True, cache=True)
def network_cpu(u, A, k, p, m, a, v):
    """Delay network forward on the CPU, rows in parallel (module doc)."""
    for row in numba.prange(u.shape[0]):
        r = numba.int64(row)
        ra = min(r, A.shape[0] - 1)
        rk = min(r, k.shape[0] - 1)
        rm = min(r, m.shape[0] - 1)
        _forward_row_cpu(u[r], A[ra], k[rk], p[rk], m[rm], a[r], v[r])


@numba.njit(parallel=True, cache=True)
def network_adjoint_cpu(ga, gv, A, k, p, m, la, lv):
    """Delay network adjoint on the CPU, rows in parallel: fills ``la`` and ``lv``."""
    for row in numba.prange(ga.shape[0]):
        r = numba.int64(row)
        ra = min(r, A.shape[0] - 1)
        rk = min(r, k.shape[0] - 1)
        rm = min(r, m.shape[0] - 1)
        _adjoint_row_cpu(ga[r], gv[r], A[ra], k[rk], p[rk], m[rm], la[r], lv[r])


@cuda.jit
def _forward_kernel(u, A, k, p, m, a, v):
    r = cuda.grid(1)
    if r < u.shape[0]:
        ra = min(r, A.shape[0] - 1)
        rk = min(r, k.shape[0] - 1)
        rm = min(r, m.shape[0] - 1)
        _forward_row_cuda(u[r], A[ra], k[rk], p[rk], m[rm], a[r], v[r])


@cuda.jit
def _adjoint_kernel(ga, gv, A, k, p, m, la, lv):
    r = cuda.grid(1)
    if r < ga.shape[0]:
        ra = min(r, A.shape[0] - 1)
        rk = min(r, k.shape[0] - 1)
        rm = min(r, m.shape[0] - 1)
        _adjoint_row_cuda(ga[r], gv[r], A[ra], k[rk], p[rk], m[rm], la[r], lv[r])


def network_cuda(u, A, k, p, m, a, v, stream=0):
    """Delay network forward on a CUDA device, one thread per row."""
    from ._launch import launch_rows

    launch_rows(_forward_kernel, u.shape[0], stream, u, A, k, p, m, a, v)


def network_adjoint_cuda(ga, gv, A, k, p, m, la, lv, stream=0):
    """Delay network adjoint on a CUDA device, one thread per row."""
    from ._launch import launch_rows

    launch_rows(_adjoint_kernel, ga.shape[0], stream, ga, gv, A, k, p, m, la, lv)
