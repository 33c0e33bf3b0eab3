"""Sinusoidal oscillator bank with free frequencies: phase per oscillator, summed in one
pass, with an exact fused backward. Memory O(N x T) plus O(N x F x K) phase anchors.

Per row (N rows, T samples, F frames, K oscillators), frames interpolated linearly with
the shared tables of :mod:`ddsp.kernels.harmonic` (``index``, ``weight``, ``starts``):
    # f[t,k], a[t,k]  = frame values interpolated to sample t
    # p[t,k]          = frac(p0[k] + sum_{m<t} f[m,k] / sample_rate)      (float64)
    # y[t]            = sum_{k: 0 <= f[t,k] < sample_rate/2} a[t,k] sin(2 pi p[t,k])
    #                 (N,F,K),(N,F,K),(N,K) -> (N,T), final phases (N,K), anchors (N,F-1,K)
``anchors[j]`` holds the phases at ``starts[j]``; the backward walks time in reverse,
recovering each phase by subtracting increments and re-anchoring at every frame start,
so rounding cannot drift across frames.

Adjoint (reverse pass, running sums ``S[k] = sum_{n>t} dp[n,k]``):
    # dp[t,k] = 2 pi g[t] a[t,k] cos(2 pi p[t,k])
    # df[t,k] = S[k] / sample_rate;  da[t,k] = g[t] sin(2 pi p[t,k])
    # frame gradients: (1 - w[t]) to frame index[t], w[t] to index[t] + 1
    # gp0[k]  = sum_t dp[t,k]
"""

from __future__ import annotations

import math

import numba
import torch
from numba import cuda

__all__ = [
    "sinusoidal_reference",
    "sinusoidal_cpu",
    "sinusoidal_cuda",
    "sinusoidal_adjoint_cpu",
    "sinusoidal_adjoint_cuda",
]

TWO_PI = 2.0 * math.pi


def sinusoidal_reference(freqs, amps, index, weight, p0, sample_rate):
    """Slow, obvious version in torch (O(N T K) memory; differentiable by autograd)."""
    nxt = torch.clamp(index + 1, max=freqs.shape[1] - 1)
    w = weight[None, :, None]
    f = (1 - w) * freqs.double()[:, index] + w * freqs.double()[:, nxt]  # (N, T, K)
    a = (1 - w.to(amps.dtype)) * amps[:, index] + w.to(amps.dtype) * amps[:, nxt]
    inc = f / sample_rate
    phase = p0.double()[:, None, :] + torch.cumsum(inc, 1) - inc
    audible = (f >= 0) & (f < sample_rate / 2)
    return (a * (torch.sin(TWO_PI * torch.remainder(phase, 1.0)) * audible).to(amps.dtype)).sum(-1)


def _forward_row(freqs, amps, index, weight, starts, p, inv_rate, nyquist, y, anchors):
    n_k = freqs.shape[1]
    n_int = starts.shape[0] - 1
    for j in range(n_int):
        for k in range(n_k):
            anchors[j, k] = p[k]
        for t in range(starts[j], starts[j + 1]):
            w = weight[t]
            acc = 0.0
            for k in range(n_k):
                f = freqs[j, k] + w * (freqs[j + 1, k] - freqs[j, k])
                if f >= 0 and f < nyquist:
                    a = amps[j, k] + w * (amps[j + 1, k] - amps[j, k])
                    acc += a * math.sin(TWO_PI * p[k])
                q = p[k] + f * inv_rate
                p[k] = q - math.floor(q)
            y[t] = acc


def _adjoint_row(
    g, freqs, amps, index, weight, starts, anchors, p_end, inv_rate, nyquist, p, s, gf, ga, gp0
):
    n_k = freqs.shape[1]
    n_int = starts.shape[0] - 1
    for k in range(n_k):
        s[k] = 0.0
        for j in range(freqs.shape[0]):
            gf[j, k] = 0
            ga[j, k] = 0
    for j in range(n_int - 1, -1, -1):
        # phases at the end of the interval: the next anchor (or the final phases)
        for k in range(n_k):
            p[k] = anchors[j + 1, k] if j + 1 < n_int else p_end[k]
        for t in range(starts[j + 1] - 1, starts[j] - 1, -1):
            w = weight[t]
            gt = g[t]
            for k in range(n_k):
                f = freqs[j, k] + w * (freqs[j + 1, k] - freqs[j, k])
                q = p[k] - f * inv_rate  # step back to the phase of sample t
                q = q - math.floor(q)
                if t == starts[j]:
                    q = anchors[j, k]
                p[k] = q
                df = s[k] * inv_rate  # phase of every later sample depends on f[t]
                gf[j, k] += (1 - w) * df
                gf[j + 1, k] += w * df
                if f >= 0 and f < nyquist:
                    a = amps[j, k] + w * (amps[j + 1, k] - amps[j, k])
                    x = TWO_PI * q
                    da = gt * math.sin(x)
                    ga[j, k] += (1 - w) * da
                    ga[j + 1, k] += w * da
                    s[k] += TWO_PI * gt * a * math.cos(x)
    for k in range(n_k):
        gp0[k] = s[k]


_forward_row_cpu = numba.njit(cache=True)(_forward_row)
_adjoint_row_cpu = numba.njit(cache=True)(_adjoint_row)
_forward_row_cuda = cuda.jit(device=True)(_forward_row)
_adjoint_row_cuda = cuda.jit(device=True)(_adjoint_row)


@numba.njit(parallel=True, cache=True)
def sinusoidal_cpu(freqs, amps, index, weight, starts, p, inv_rate, nyquist, y, anchors):
    """Forward on the CPU, rows in parallel; ``p`` (N, K) holds p0 in, final phases out."""
    for i in numba.prange(freqs.shape[0]):
        _forward_row_cpu(
            freqs[i], amps[i], index, weight, starts, p[i], inv_rate, nyquist, y[i], anchors[i]
        )


@numba.njit(parallel=True, cache=True)
def sinusoidal_adjoint_cpu(
    g, freqs, amps, index, weight, starts, anchors, p_end, inv_rate, nyquist, p, s, gf, ga, gp0
):
    """Adjoint on the CPU, rows in parallel; ``p``, ``s`` (N, K) float64 scratch."""
    for i in numba.prange(freqs.shape[0]):
        _adjoint_row_cpu(
            g[i],
            freqs[i],
            amps[i],
            index,
            weight,
            starts,
            anchors[i],
            p_end[i],
            inv_rate,
            nyquist,
            p[i],
            s[i],
            gf[i],
            ga[i],
            gp0[i],
        )


@cuda.jit
def _forward_kernel(freqs, amps, index, weight, starts, p, inv_rate, nyquist, y, anchors):
    i = cuda.grid(1)
    if i < freqs.shape[0]:
        _forward_row_cuda(
            freqs[i], amps[i], index, weight, starts, p[i], inv_rate, nyquist, y[i], anchors[i]
        )


@cuda.jit
def _adjoint_kernel(
    g, freqs, amps, index, weight, starts, anchors, p_end, inv_rate, nyquist, p, s, gf, ga, gp0
):
    i = cuda.grid(1)
    if i < freqs.shape[0]:
        _adjoint_row_cuda(
            g[i],
            freqs[i],
            amps[i],
            index,
            weight,
            starts,
            anchors[i],
            p_end[i],
            inv_rate,
            nyquist,
            p[i],
            s[i],
            gf[i],
            ga[i],
            gp0[i],
        )


def sinusoidal_cuda(freqs, amps, index, weight, starts, p, inv_rate, nyquist, y, anchors, stream=0):
    """Forward on a CUDA device, one thread per row (CPU twin's arrays)."""
    from ._launch import launch_rows

    launch_rows(
        _forward_kernel,
        freqs.shape[0],
        stream,
        freqs,
        amps,
        index,
        weight,
        starts,
        p,
        inv_rate,
        nyquist,
        y,
        anchors,
    )


def sinusoidal_adjoint_cuda(
    g,
    freqs,
    amps,
    index,
    weight,
    starts,
    anchors,
    p_end,
    inv_rate,
    nyquist,
    p,
    s,
    gf,
    ga,
    gp0,
    stream=0,
):
    """Adjoint on a CUDA device, one thread per row (CPU twin's arrays)."""
    from ._launch import launch_rows

    launch_rows(
        _adjoint_kernel,
        freqs.shape[0],
        stream,
        g,
        freqs,
        amps,
        index,
        weight,
        starts,
        anchors,
        p_end,
        inv_rate,
        nyquist,
        p,
        s,
        gf,
        ga,
        gp0,
    )
