"""Attack/release smoothing: a one-pole whose coefficient depends on the signal's direction.

    # y[t] = c[t] y[t-1] + (1 - c[t]) g[t],  c[t] = attack[t] if g[t] < y[t-1] else release[t]
    #                                   (N,T),(N,Ta),(N,Tr),(N,1) -> (N,T) mask, (N,1) final y
The kernel only records the branch taken (``mask``: 1 for attack); the caller reruns the
now time-varying *linear* recursion through the differentiable all-pole op, whose exact
adjoint gives gradients for g, both coefficients and the initial state (the branch-mask
trick of torchcomp, with the mask treated as non-differentiable). ``Ta``/``Tr`` are T
(per sample) or 1 (static). "Attack" means the target falls below the current value —
for a gain computer, more gain reduction.
"""

from __future__ import annotations

import numba
import torch
from numba import cuda

__all__ = ["envelope_mask_reference", "envelope_mask_cpu", "envelope_mask_cuda"]


def envelope_mask_reference(
    g: torch.Tensor, attack: torch.Tensor, release: torch.Tensor, y0: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Slow, obvious version: returns ``(y, mask)`` with the smoothed signal and branches."""
    prev = y0.clone()
    ys, masks = [], []
    for t in range(g.shape[1]):
        c_a = attack[:, t if attack.shape[1] > 1 else 0]
        c_r = release[:, t if release.shape[1] > 1 else 0]
        m = g[:, t] < prev
        c = torch.where(m, c_a, c_r)
        prev = c * prev + (1 - c) * g[:, t]
        ys.append(prev)
        masks.append(m)
    if not ys:
        return g.clone(), torch.zeros_like(g, dtype=torch.bool)
    return torch.stack(ys, 1), torch.stack(masks, 1)


def _mask_row(g, attack, release, y0, mask, y_end):
    sa = 1 if attack.shape[0] > 1 else 0
    sr = 1 if release.shape[0] > 1 else 0
    prev = y0[0]
    for t in range(g.shape[0]):
        gt = g[t]
        if gt < prev:
            c = attack[t * sa]
            mask[t] = 1
        else:
            c = release[t * sr]
            mask[t] = 0
        prev = c * prev + (1 - c) * gt
    y_end[0] = prev


_mask_row_cpu = numba.njit(cache=True)(_mask_row)
_mask_row_cuda = cuda.jit(device=True)(_mask_row)


@numba.njit(parallel=True, cache=True)
def envelope_mask_cpu(g, attack, release, y0, mask, y_end):
    """Branch mask of the attack/release one-pole on the CPU, rows in parallel."""
    for i in numba.prange(g.shape[0]):
        _mask_row_cpu(g[i], attack[i], release[i], y0[i], mask[i], y_end[i])


@cuda.jit
def _mask_kernel(g, attack, release, y0, mask, y_end):
    i = cuda.grid(1)
    if i < g.shape[0]:
        _mask_row_cuda(g[i], attack[i], release[i], y0[i], mask[i], y_end[i])


def envelope_mask_cuda(g, attack, release, y0, mask, y_end, stream=0):
    """Branch mask on a CUDA device, one thread per row (CPU twin's arrays)."""
    from ._launch import launch_rows

    launch_rows(_mask_kernel, g.shape[0], stream, g, attack, release, y0, mask, y_end)
