"""Feedback delay line with a fractional (linearly interpolated), time-varying delay.

Per row (N rows, T samples):
    # u[t] = x[t] + fb[t] y[t]                      (what enters the line)
    # y[t] = (1 - f) u[t - n] + f u[t - n - 1],     n = floor(d[t]) >= 1, f = d[t] - n
    #                       (N,T),(N,Td),(N,Tf) -> (N,T)      (u is 0 before the block)
``d`` is the delay in samples (>= 1, so the recursion stays causal), ``Td``/``Tf`` are T
(per sample: chorus, flanger) or 1 (static).

Adjoint (one reverse pass; ``lu`` is dL/du, filled from later samples before it is read):
    # ly[t]  = gy[t] + fb[t] lu[t]       gx[t] = lu[t]      gfb[t] = lu[t] y[t]
    # gd[t]  = ly[t] (u[t-n-1] - u[t-n])
    # lu[t-n] += (1 - f) ly[t],  lu[t-n-1] += f ly[t]
Static delays and feedbacks sum their gradients over time (float64 buffers).
"""

from __future__ import annotations

import math

import numba
import torch
from numba import cuda

__all__ = ["delay_reference", "delay_cpu", "delay_cuda", "delay_adjoint_cpu", "delay_adjoint_cuda"]


def delay_reference(x: torch.Tensor, d: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
    """Slow, obvious version in torch (differentiable by autograd, including in ``d``)."""
    n_t = x.shape[1]
    u: list = []
    ys = []
    zero = x[:, 0] * 0
    for t in range(n_t):
        dt = d[:, t if d.shape[1] > 1 else 0]
        n = torch.floor(dt.detach()).long()
        f = dt - n
        v0 = torch.stack(
            [u[t - int(k)][i] if t - int(k) >= 0 else zero[i] for i, k in enumerate(n)]
        )
        v1 = torch.stack(
            [u[t - int(k) - 1][i] if t - int(k) - 1 >= 0 else zero[i] for i, k in enumerate(n)]
        )
        yt = (1 - f) * v0 + f * v1
        ys.append(yt)
        u.append(x[:, t] + fb[:, t if fb.shape[1] > 1 else 0] * yt)
    return torch.stack(ys, 1) if ys else x.clone()


def _forward_row(x, d, fb, y):
    sd = 1 if d.shape[0] > 1 else 0
    sf = 1 if fb.shape[0] > 1 else 0
    for t in range(x.shape[0]):
        dt = d[t * sd]
        n = int(math.floor(dt))
        f = dt - n
        i0 = t - n
        i1 = i0 - 1
        v0 = x[i0] + fb[i0 * sf] * y[i0] if i0 >= 0 else 0.0
        v1 = x[i1] + fb[i1 * sf] * y[i1] if i1 >= 0 else 0.0
        y[t] = (1 - f) * v0 + f * v1


def _adjoint_row(gy, x, d, fb, y, lu, gx, gd, gfb):
    sd = 1 if d.shape[0] > 1 else 0
    sf = 1 if fb.shape[0] > 1 else 0
    n_t = x.shape[0]
    for t in range(n_t):
        lu[t] = 0.0
    for k in range(gd.shape[0]):
        gd[k] = 0
    for k in range(gfb.shape[0]):
        gfb[k] = 0
    for t in range(n_t - 1, -1, -1):
        lu_t = lu[t]
        fbt = fb[t * sf]
        ly = gy[t] + fbt * lu_t
        gx[t] = lu_t
        gfb[t * sf] += lu_t * y[t]
        dt = d[t * sd]
        n = int(math.floor(dt))
        f = dt - n
        i0 = t - n
        i1 = i0 - 1
        v0 = x[i0] + fb[i0 * sf] * y[i0] if i0 >= 0 else 0.0
        v1 = x[i1] + fb[i1 * sf] * y[i1] if i1 >= 0 else 0.0
        gd[t * sd] += ly * (v1 - v0)
        if i0 >= 0:
            lu[i0] += (1 - f) * ly
        if i1 >= 0:
            lu[i1] += f * ly


_forward_row_cpu = numba.njit(cache=True)(_forward_row)
_adjoint_row_cpu = numba.njit(cache=True)(_adjoint_row)
_forward_row_cuda = cuda.jit(device=True)(_forward_row)
_adjoint_row_cuda = cuda.jit(device=True)(_adjoint_row)


@numba.njit(parallel=True, cache=True)
def delay_cpu(x, d, fb, y):
    """Feedback delay forward on the CPU, rows in parallel (module doc)."""
    for i in numba.prange(x.shape[0]):
        _forward_row_cpu(x[i], d[i], fb[i], y[i])


@numba.njit(parallel=True, cache=True)
def delay_adjoint_cpu(gy, x, d, fb, y, lu, gx, gd, gfb):
    """Feedback delay adjoint on the CPU, rows in parallel; ``lu`` (N, T) float64 scratch."""
    for i in numba.prange(x.shape[0]):
        _adjoint_row_cpu(gy[i], x[i], d[i], fb[i], y[i], lu[i], gx[i], gd[i], gfb[i])


@cuda.jit
def _forward_kernel(x, d, fb, y):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _forward_row_cuda(x[i], d[i], fb[i], y[i])


@cuda.jit
def _adjoint_kernel(gy, x, d, fb, y, lu, gx, gd, gfb):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _adjoint_row_cuda(gy[i], x[i], d[i], fb[i], y[i], lu[i], gx[i], gd[i], gfb[i])


def delay_cuda(x, d, fb, y, stream=0):
    """Feedback delay forward on a CUDA device, one thread per row."""
    from ._launch import launch_rows

    launch_rows(_forward_kernel, x.shape[0], stream, x, d, fb, y)


def delay_adjoint_cuda(gy, x, d, fb, y, lu, gx, gd, gfb, stream=0):
    """Feedback delay adjoint on a CUDA device, one thread per row."""
    from ._launch import launch_rows

    launch_rows(_adjoint_kernel, x.shape[0], stream, gy, x, d, fb, y, lu, gx, gd, gfb)
