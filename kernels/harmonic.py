"""Fused harmonic oscillator bank: phase accumulation, control upsampling and the sum of
harmonics in one pass, with an exact fused backward. Memory O(N x T), never O(N x T x H).

Per row (N rows, T samples, F control frames, H harmonics):
    # p[t]  = frac(p0 + sum_{m<t} f0[m] / sample_rate)          phase in cycles, float64
    # A[t,h] = (1 - w[t]) amps[i[t], h] + w[t] amps[i[t]+1, h]  linear frame interpolation
    # y[t]  = sum_{h: (h+1) f0[t] < sample_rate/2} A[t,h] sin(2 pi (h+1) p[t])
    #                         (N,T),(N,F,H),(T,),(T,),(N,) -> (N,T), phases (N,T) float64
Harmonics at or above Nyquist contribute nothing (sample by sample). The phase is
accumulated and wrapped in float64, so it stays exact to ~1e-9 cycles over hours; the
harmonics of one phase follow from the Chebyshev recurrence
``sin((h+1)x) = 2 cos(x) sin(hx) - sin((h-1)x)`` (a multiply-add each, in float64).

``i[t]`` (int64, non-decreasing) and ``w[t]`` are the frame index and weight of sample t,
shared by all rows; ``starts[j]`` is the first sample with ``i[t] == j`` (``starts[F-1]``
= T). Work is split by (row, frame interval), so the backward can accumulate amplitude
gradients without races: the part for frame j lands in ``gl[j]``, the part for frame
j+1 in ``gr[j]``, and the caller adds ``gl[j] + gr[j-1]``.

Adjoint:
    # dp[t]      = 2 pi g[t] sum_h (h+1) A[t,h] cos(2 pi (h+1) p[t])   (d y / d phase)
    # gl[j,h]   += (1 - w[t]) g[t] sin(2 pi (h+1) p[t]),   gr[j,h] += w[t] g[t] sin(...)
The caller turns dp into f0 gradients with a reverse cumulative sum (p[t] depends on
f0[m] for every m < t) and into the initial-phase gradient with a sum.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba import cuda

__all__ = [
    "harmonic_reference",
    "harmonic_phase_cpu",
    "harmonic_phase_cuda",
    "harmonic_cpu",
    "harmonic_cuda",
    "harmonic_adjoint_cpu",
    "harmonic_adjoint_cuda",
]

TWO_PI = 2.0 * math.pi


def harmonic_reference(
    f0: torch.Tensor,
    amps: torch.Tensor,
    index: torch.Tensor,
    weight: torch.Tensor,
    p0: torch.Tensor,
    sample_rate: float,
) -> torch.Tensor:
    """Slow, obvious version in torch (O(N T H) memory; differentiable by autograd).

    Args:
        f0: per-sample frequency in Hz ``(N, T)``. amps: frame amplitudes ``(N, F, H)``.
        index, weight: per-sample frame index (int64) and weight ``(T,)``.
        p0: initial phase in cycles ``(N,)``. sample_rate: Hz.
    """
    n_h = amps.shape[-1]
    inc = f0.double() / sample_rate
    phase = p0.double()[:, None] + torch.cumsum(inc, dim=1) - inc  # exclusive cumsum
    nxt = torch.clamp(index + 1, max=amps.shape[1] - 1)
    w = weight.to(amps.dtype)[None, :, None]
    a_t = (1 - w) * amps[:, index] + w * amps[:, nxt]  # (N, T, H)
    h = torch.arange(1, n_h + 1, dtype=torch.float64)
    sines = torch.sin(TWO_PI * h * torch.remainder(phase, 1.0)[..., None])
    audible = (h * f0.double()[..., None]) < sample_rate / 2
    return (a_t * (sines * audible).to(amps.dtype)).sum(-1)


# --------------------------------------------------------------------------- loops


def _n_audible(f0, n_h, nyquist):
    # Count of h in 1..n_h with h * f0 < nyquist.
    if f0 <= 0:
        return n_h
    n = int(nyquist / f0)
    if n * f0 >= nyquist:
        n -= 1
    return min(n_h, max(n, 0))


def _phase_row(f0, p0, inv_rate, phases):
    p = p0 - math.floor(p0)
    for t in range(f0.shape[0]):
        phases[t] = p
        p += f0[t] * inv_rate
        p -= math.floor(p)
    return p


def _make_loops(jit):
    n_audible = jit(_n_audible)

    def synth_interval(f0, amps, index, weight, phases, j, t0, t1, nyquist, y):
        n_h = amps.shape[1]
        nxt = min(j + 1, amps.shape[0] - 1)
        for t in range(t0, t1):
            w = weight[t]
            x = TWO_PI * phases[t]
            s1 = math.sin(x)
            c2 = 2.0 * math.cos(x)
            s_prev = 0.0
            s_cur = s1
            acc = 0.0
            for h in range(n_audible(f0[t], n_h, nyquist)):
                a_lo = amps[j, h]
                acc += (a_lo + w * (amps[nxt, h] - a_lo)) * s_cur
                s_next = c2 * s_cur - s_prev
                s_prev = s_cur
                s_cur = s_next
            y[t] = acc

    def adjoint_interval(g, f0, amps, index, weight, phases, j, t0, t1, nyquist, dp, gl, gr):
        n_h = amps.shape[1]
        nxt = min(j + 1, amps.shape[0] - 1)
        for h in range(n_h):
            gl[j, h] = 0
            gr[j, h] = 0
        for t in range(t0, t1):
            w = weight[t]
            gt = g[t]
            x = TWO_PI * phases[t]
            s1 = math.sin(x)
            c1 = math.cos(x)
            c2 = 2.0 * c1
            s_prev = 0.0
            s_cur = s1
            c_prev = 1.0
            c_cur = c1
            dphase = 0.0
            for h in range(n_audible(f0[t], n_h, nyquist)):
                a_lo = amps[j, h]
                a_t = a_lo + w * (amps[nxt, h] - a_lo)
                gs = gt * s_cur
                gl[j, h] += (1 - w) * gs
                gr[j, h] += w * gs
                dphase += (h + 1) * a_t * c_cur
                s_next = c2 * s_cur - s_prev
                s_prev = s_cur
                s_cur = s_next
                c_next = c2 * c_cur - c_prev
                c_prev = c_cur
                c_cur = c_next
            dp[t] = TWO_PI * gt * dphase

    return jit(synth_interval), jit(adjoint_interval)


def _synth_interval_lanes(f0, amps, index, weight, phases, j, t0, t1, nyquist, y):
    # CPU layout of synth_interval: harmonics outer, the interval's samples inner, so the
    # inner loop is data-parallel and vectorises (the per-sample recurrences run side by
    # side in SIMD lanes instead of one latency-bound chain per sample).
    n_h = amps.shape[1]
    nxt = min(j + 1, amps.shape[0] - 1)
    m = t1 - t0
    s_prev = np.zeros(m)
    s_cur = np.empty(m)
    c2 = np.empty(m)
    acc = np.zeros(m)
    w = np.empty(m)
    n_aud = np.empty(m, np.int64)
    h_max = 0
    for k in range(m):
        x = TWO_PI * phases[t0 + k]
        s_cur[k] = math.sin(x)
        c2[k] = 2.0 * math.cos(x)
        w[k] = weight[t0 + k]
        n_aud[k] = _n_audible_cpu(f0[t0 + k], n_h, nyquist)
        h_max = max(h_max, n_aud[k])
    for h in range(h_max):
        a_lo = float(amps[j, h])
        a_d = float(amps[nxt, h]) - a_lo
        for k in range(m):
            gate = 1.0 if h < n_aud[k] else 0.0
            acc[k] += gate * (a_lo + w[k] * a_d) * s_cur[k]
            s_next = c2[k] * s_cur[k] - s_prev[k]
            s_prev[k] = s_cur[k]
            s_cur[k] = s_next
    for k in range(m):
        y[t0 + k] = acc[k]


def _adjoint_interval_lanes(g, f0, amps, index, weight, phases, j, t0, t1, nyquist, dp, gl, gr):
    # CPU layout of adjoint_interval (see _synth_interval_lanes).
    n_h = amps.shape[1]
    nxt = min(j + 1, amps.shape[0] - 1)
    m = t1 - t0
    s_prev = np.zeros(m)
    s_cur = np.empty(m)
    c_prev = np.ones(m)
    c_cur = np.empty(m)
    c2 = np.empty(m)
    dphase = np.zeros(m)
    gw = np.empty(m)  # g * w
    gv = np.empty(m)  # g * (1 - w)
    w = np.empty(m)
    n_aud = np.empty(m, np.int64)
    h_max = 0
    for k in range(m):
        x = TWO_PI * phases[t0 + k]
        s_cur[k] = math.sin(x)
        c_cur[k] = math.cos(x)
        c2[k] = 2.0 * c_cur[k]
        w[k] = weight[t0 + k]
        gw[k] = g[t0 + k] * w[k]
        gv[k] = g[t0 + k] - gw[k]
        n_aud[k] = _n_audible_cpu(f0[t0 + k], n_h, nyquist)
        h_max = max(h_max, n_aud[k])
    for h in range(n_h):
        gl[j, h] = 0
        gr[j, h] = 0
    for h in range(h_max):
        a_lo = float(amps[j, h])
        a_d = float(amps[nxt, h]) - a_lo
        left = 0.0
        right = 0.0
        for k in range(m):
            gate = 1.0 if h < n_aud[k] else 0.0
            gs = gate * s_cur[k]
            left += gv[k] * gs
            right += gw[k] * gs
            dphase[k] += gate * (h + 1) * (a_lo + w[k] * a_d) * c_cur[k]
            s_next = c2[k] * s_cur[k] - s_prev[k]
            s_prev[k] = s_cur[k]
            s_cur[k] = s_next
            c_next = c2[k] * c_cur[k] - c_prev[k]
            c_prev[k] = c_cur[k]
            c_cur[k] = c_next
        gl[j, h] = left
        gr[j, h] = right
    for k in range(m):
        dp[t0 + k] = TWO_PI * g[t0 + k] * dphase[k]


_n_audible_cpu = numba.njit(cache=True)(_n_audible)
# The per-harmonic sums over an interval are reassociated so they vectorise: they change
# only at float64 rounding level.
_synth_cpu = numba.njit(cache=True)(_synth_interval_lanes)
_adjoint_cpu = numba.njit(cache=True, fastmath={"reassoc", "contract"})(_adjoint_interval_lanes)
# On the GPU one thread walks the harmonics of its samples (no per-thread scratch arrays).
_synth_cuda, _adjoint_cuda = _make_loops(cuda.jit(device=True))
_phase_row_cpu = numba.njit(cache=True)(_phase_row)
_phase_row_cuda = cuda.jit(device=True)(_phase_row)


# --------------------------------------------------------------------------- CPU twins


@numba.njit(parallel=True, cache=True)
def harmonic_phase_cpu(f0, p0, inv_rate, phases, p_end):
    """Phase accumulation per row (sequential in time, parallel over rows)."""
    for i in numba.prange(f0.shape[0]):
        p_end[i] = _phase_row_cpu(f0[i], p0[i], inv_rate, phases[i])


@numba.njit(parallel=True, cache=True)
def harmonic_cpu(f0, amps, index, weight, starts, phases, nyquist, y):
    """Sum of harmonics, parallel over (row, frame interval). See module doc."""
    n_int = starts.shape[0] - 1
    for task in numba.prange(f0.shape[0] * n_int):
        i = task // n_int
        j = task % n_int
        _synth_cpu(
            f0[i], amps[i], index, weight, phases[i], j, starts[j], starts[j + 1], nyquist, y[i]
        )


@numba.njit(parallel=True, cache=True)
def harmonic_adjoint_cpu(g, f0, amps, index, weight, starts, phases, nyquist, dp, gl, gr):
    """Fused adjoint, parallel over (row, frame interval). See module doc."""
    n_int = starts.shape[0] - 1
    for task in numba.prange(f0.shape[0] * n_int):
        i = task // n_int
        j = task % n_int
        _adjoint_cpu(
            g[i],
            f0[i],
            amps[i],
            index,
            weight,
            phases[i],
            j,
            starts[j],
            starts[j + 1],
            nyquist,
            dp[i],
            gl[i],
            gr[i],
        )


# --------------------------------------------------------------------------- CUDA twins


@cuda.jit
def _phase_kernel(f0, p0, inv_rate, phases, p_end):
    i = cuda.grid(1)
    if i < f0.shape[0]:
        p_end[i] = _phase_row_cuda(f0[i], p0[i], inv_rate, phases[i])


@cuda.jit
def _synth_kernel(f0, amps, index, weight, starts, phases, nyquist, y):
    task = cuda.grid(1)
    n_int = starts.shape[0] - 1
    if task < f0.shape[0] * n_int:
        i = task // n_int
        j = task % n_int
        _synth_cuda(
            f0[i], amps[i], index, weight, phases[i], j, starts[j], starts[j + 1], nyquist, y[i]
        )


@cuda.jit
def _adjoint_kernel(g, f0, amps, index, weight, starts, phases, nyquist, dp, gl, gr):
    task = cuda.grid(1)
    n_int = starts.shape[0] - 1
    if task < f0.shape[0] * n_int:
        i = task // n_int
        j = task % n_int
        _adjoint_cuda(
            g[i],
            f0[i],
            amps[i],
            index,
            weight,
            phases[i],
            j,
            starts[j],
            starts[j + 1],
            nyquist,
            dp[i],
            gl[i],
            gr[i],
        )


def harmonic_phase_cuda(f0, p0, inv_rate, phases, p_end, stream=0):
    """Phase accumulation on a CUDA device, one thread per row."""
    from ._launch import launch_rows

    launch_rows(_phase_kernel, f0.shape[0], stream, f0, p0, inv_rate, phases, p_end)


def harmonic_cuda(f0, amps, index, weight, starts, phases, nyquist, y, stream=0):
    """Sum of harmonics on a CUDA device, one thread per (row, frame interval)."""
    from ._launch import launch_rows

    n_tasks = f0.shape[0] * (starts.shape[0] - 1)
    launch_rows(_synth_kernel, n_tasks, stream, f0, amps, index, weight, starts, phases, nyquist, y)


def harmonic_adjoint_cuda(
    g, f0, amps, index, weight, starts, phases, nyquist, dp, gl, gr, stream=0
):
    """Fused adjoint on a CUDA device, one thread per (row, frame interval)."""
    from ._launch import launch_rows

    n_tasks = f0.shape[0] * (starts.shape[0] - 1)
    launch_rows(
        _adjoint_kernel,
        n_tasks,
        stream,
        g,
        f0,
        amps,
        index,
        weight,
        starts,
        phases,
        nyquist,
        dp,
        gl,
        gr,
    )
