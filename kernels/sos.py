"""Cascade of biquads (second-order sections) with carried state: the streaming fast path.

Per row (R rows, T samples, K sections with static coefficients ``sos[k] = (b0, b1, b2,
a1, a2)``, ``a0 = 1``), direct form I, every section stepping once per sample:
    # u_0[t] = x[t]
    # u_{k+1}[t] = b0 u_k[t] + b1 u_k[t-1] + b2 u_k[t-2] - a1 u_{k+1}[t-1] - a2 u_{k+1}[t-2]
    # y[t] = u_K[t]                   (R,T),(K,5),(R,K,2),(R,K,2) -> (R,T), states in place
``zx[r, k] = (u_k[-1], u_k[-2])`` and ``zy[r, k] = (u_{k+1}[-1], u_{k+1}[-2])`` are the
section's last inputs and outputs, most recent first: the layout of
:class:`ddsp.functional.LFilterState`, so a stream can switch between this kernel and the
differentiable filters from block to block. Each section runs over the whole block in
float64 with its state in registers (the differentiable filters round to the signal's
dtype between sections: results agree to that rounding). States are updated in place.
Forward only: gradients go through the all-pole kernel (``kernels/allpole.py``), which
computes the same recursion one section at a time.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import cuda

__all__ = ["sos_reference", "sos_cpu", "sos_cuda"]


def sos_reference(
    x: torch.Tensor, sos: torch.Tensor, zx: torch.Tensor, zy: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slow, obvious version in torch: returns ``y`` and the final ``zx``, ``zy``."""
    zx, zy = zx.clone(), zy.clone()
    out = []
    for t in range(x.shape[1]):
        u = x[:, t]
        for k in range(sos.shape[0]):
            b0, b1, b2, a1, a2 = sos[k]
            v = b0 * u + b1 * zx[:, k, 0] + b2 * zx[:, k, 1] - a1 * zy[:, k, 0] - a2 * zy[:, k, 1]
            zx[:, k, 1], zx[:, k, 0] = zx[:, k, 0].clone(), u
            zy[:, k, 1], zy[:, k, 0] = zy[:, k, 0].clone(), v
            u = v
        out.append(u)
    y = torch.stack(out, 1) if out else x.clone()
    return y, zx, zy


def _row(x, sos, zx, zy, y, buf):
    # Section by section over the block (float64 in ``buf``): each recursion runs with its
    # coefficients and state in registers. The newest output enters last, so the loop's
    # critical path is one multiply-subtract, not the whole sum.
    n_t = x.shape[0]
    for t in range(n_t):
        buf[t] = x[t]
    for k in range(sos.shape[0]):
        b0, b1, b2, a1, a2 = sos[k, 0], sos[k, 1], sos[k, 2], sos[k, 3], sos[k, 4]
        x1, x2, y1, y2 = zx[k, 0] * 1.0, zx[k, 1] * 1.0, zy[k, 0] * 1.0, zy[k, 1] * 1.0
        for t in range(n_t):
            u = buf[t]
            v = (b0 * u + b1 * x1 + b2 * x2 - a2 * y2) - a1 * y1
            buf[t] = v
            x2, x1, y2, y1 = x1, u, y1, v
        zx[k, 0], zx[k, 1], zy[k, 0], zy[k, 1] = x1, x2, y1, y2
    for t in range(n_t):
        y[t] = buf[t]


_row_cpu = numba.njit(cache=True)(_row)
_row_cuda = cuda.jit(device=True)(_row)


@numba.njit(cache=True)
def sos_cpu(x, sos, zx, zy, y):
    """Biquad cascade on the CPU, row by row (small blocks: no thread start-up)."""
    buf = np.empty(x.shape[1], dtype=np.float64)
    for i in range(x.shape[0]):
        _row_cpu(x[i], sos, zx[i], zy[i], y[i], buf)


@cuda.jit
def _kernel(x, sos, zx, zy, y, buf):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _row_cuda(x[i], sos, zx[i], zy[i], y[i], buf[i])


def sos_cuda(x, sos, zx, zy, y, stream=0):
    """Biquad cascade on a CUDA device, one thread per row (``buf``: float64 scratch)."""
    from numba import cuda as _cuda

    from ._launch import launch_rows

    buf = _cuda.device_array(x.shape, dtype=np.float64, stream=stream)
    launch_rows(_kernel, x.shape[0], stream, x, sos, zx, zy, y, buf)
