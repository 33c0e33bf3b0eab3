"""Feedback delay line with a fractional (linearly interpolated), time-varying delay.

Per row (N rows, T samples):
    # u[t] = x[t] + fb[t] y[t]                      (what enters the line)
    # y[t] = (1 - f) u[t - n] + f u[t - n - 1],     n = floor(d[t]) >= 1, f = d[t] - n
    #              (N,T),(N,Td),(N,Tf),(N,H),head -> (N,T)
``d`` is the delay in samples (>= 1, so the recursion stays causal), ``Td``/``Tf`` are T
(per sample: chorus, flanger) or 1 (static). Before the block, ``u`` comes from the ring
buffer ``ring (N, H)`` of the line's last ``H`` inputs: ``u[-j] = ring[(head - j) mod H]``
(``head`` is where the next input will be written), and is 0 further back; an offline
call passes ``H = 0``. The kernels only read the ring (the caller writes the block's
``u`` into it), and the adjoint treats its contents as constants (gradients stop at the
block boundary: truncated backpropagation through a stream).

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


def delay_reference(
    x: torch.Tensor,
    d: torch.Tensor,
    fb: torch.Tensor,
    ring: torch.Tensor | None = None,
    head: int = 0,
) -> torch.Tensor:
    """Slow, obvious version in torch (differentiable by autograd, including in ``d``)."""
    n_t = x.shape[1]
    ys = []
    zero = x[:, 0] * 0
    u: list = []
    if ring is not None and ring.shape[1]:  # the line's history, oldest first
        n_h = ring.shape[1]
        hist = ring[:, [(head + j) % n_h for j in range(n_h)]].detach()
        u = list(hist.unbind(1))
    offset = len(u)
    for t in range(n_t):
        dt = d[:, t if d.shape[1] > 1 else 0]
        n = torch.floor(dt.detach()).long()
        f = dt - n
        v0 = torch.stack(
            [
                u[offset + t - int(k)][i] if offset + t - int(k) >= 0 else zero[i]
                for i, k in enumerate(n)
            ]
        )
        v1 = torch.stack(
            [
                u[offset + t - int(k) - 1][i] if offset + t - int(k) - 1 >= 0 else zero[i]
                for i, k in enumerate(n)
            ]
        )
        yt = (1 - f) * v0 + f * v1
        ys.append(yt)
        u.append(x[:, t] + fb[:, t if fb.shape[1] > 1 else 0] * yt)
    return torch.stack(ys, 1) if ys else x.clone()


def _past(ring, head, i):
    # u[i] for i < 0 from the ring (0 beyond its length)
    n_h = ring.shape[0]
    if i < -n_h:
        return 0.0
    k = head + i
    if k < 0:
        k += n_h
    return ring[k]


def _make_rows(jit):
    """The row loops, written once and compiled for a target by ``jit`` (njit or a CUDA
    device function), with the ring read compiled alongside."""
    past = jit(_past)

    def _forward_row(x, d, fb, ring, head, y):
        sd = 1 if d.shape[0] > 1 else 0
        sf = 1 if fb.shape[0] > 1 else 0
        for t in range(x.shape[0]):
            dt = d[t * sd]
            n = int(math.floor(dt))
            f = dt - n
            i0 = t - n
            i1 = i0 - 1
            v0 = x[i0] + fb[i0 * sf] * y[i0] if i0 >= 0 else past(ring, head, i0)
            v1 = x[i1] + fb[i1 * sf] * y[i1] if i1 >= 0 else past(ring, head, i1)
            y[t] = (1 - f) * v0 + f * v1

    def _adjoint_row(gy, x, d, fb, ring, head, y, lu, gx, gd, gfb):
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
            v0 = x[i0] + fb[i0 * sf] * y[i0] if i0 >= 0 else past(ring, head, i0)
            v1 = x[i1] + fb[i1 * sf] * y[i1] if i1 >= 0 else past(ring, head, i1)
            gd[t * sd] += ly * (v1 - v0)
            if i0 >= 0:
                lu[i0] += (1 - f) * ly
            if i1 >= 0:
                lu[i1] += f * ly

    return jit(_forward_row), jit(_adjoint_row)


_forward_row_cpu, _adjoint_row_cpu = _make_rows(numba.njit(cache=True))
_forward_row_cuda, _adjoint_row_cuda = _make_rows(cuda.jit(device=True))


@numba.njit(parallel=True, cache=True)
def delay_cpu(x, d, fb, ring, head, y):
    """Feedback delay forward on the CPU, rows in parallel (module doc)."""
    for i in numba.prange(x.shape[0]):
        _forward_row_cpu(x[i], d[i], fb[i], ring[i], head, y[i])


@numba.njit(parallel=True, cache=True)
def delay_adjoint_cpu(gy, x, d, fb, ring, head, y, lu, gx, gd, gfb):
    """Feedback delay adjoint on the CPU, rows in parallel; ``lu`` (N, T) float64 scratch."""
    for i in numba.prange(x.shape[0]):
        _adjoint_row_cpu(gy[i], x[i], d[i], fb[i], ring[i], head, y[i], lu[i], gx[i], gd[i], gfb[i])


@cuda.jit
def _forward_kernel(x, d, fb, ring, head, y):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _forward_row_cuda(x[i], d[i], fb[i], ring[i], head, y[i])


@cuda.jit
def _adjoint_kernel(gy, x, d, fb, ring, head, y, lu, gx, gd, gfb):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _adjoint_row_cuda(
            gy[i], x[i], d[i], fb[i], ring[i], head, y[i], lu[i], gx[i], gd[i], gfb[i]
        )


def delay_cuda(x, d, fb, ring, head, y, stream=0):
    """Feedback delay forward on a CUDA device, one thread per row."""
    from ._launch import launch_rows

    launch_rows(_forward_kernel, x.shape[0], stream, x, d, fb, ring, head, y)


def delay_adjoint_cuda(gy, x, d, fb, ring, head, y, lu, gx, gd, gfb, stream=0):
    """Feedback delay adjoint on a CUDA device, one thread per row."""
    from ._launch import launch_rows

    launch_rows(_adjoint_kernel, x.shape[0], stream, gy, x, d, fb, ring, head, y, lu, gx, gd, gfb)
