"""Fused feed-forward dynamics (peak detector, soft-knee curve, attack/release, make-up).

Per row with static controls ``p = (threshold_db, ratio, knee_db, attack_coef,
release_coef, makeup_amp)``:
    # L[t] = 10 log10(x[t]^2 + floor^2);  o = L - thr (compressor) or thr - L (expander)
    # G[t] = 0 | s (o + W/2)^2 / (2W) | s o   below / inside / above the knee,
    #        s = 1/ratio - 1 (compressor) or 1 - ratio (expander)
    # g[t] = 10^(G/20);  c = attack if g[t] < y[t-1] else release  (mask)
    # y[t] = c y[t-1] + (1 - c) g[t];  out[t] = x[t] y[t] makeup
    #          (N,T),(N,6),(N,1) -> (N,T) out, y, mask, and the static gain g and level o
The adjoint is one reverse pass through the same per-sample chain, with the branch taken
from the mask (piecewise constant): the smoothing's adjoint ``lam[t] = d[t] + c[t+1]
lam[t+1]``, then the curve and the detector by the chain rule. It reads g and o as the
forward left them, so it runs no log or exp (those dominate the forward's cost).
Parameter gradients are summed per row in float64. :func:`dynamics_reference` is the
same chain in plain torch, one sample at a time (differentiable by autograd).
"""

from __future__ import annotations

import math

import numba
import torch
from numba import cuda

__all__ = [
    "dynamics_stream_reference",
    "dynamics_stream_cpu",
    "dynamics_stream_cuda",
    "dynamics_reference",
    "dynamics_cpu",
    "dynamics_cuda",
    "dynamics_adjoint_cpu",
    "dynamics_adjoint_cuda",
]

LOG10_SCALE = 10.0 / math.log(10.0)  # d(10 log10 p)/dp = LOG10_SCALE / p
DB_TO_NEPER = math.log(10.0) / 20.0  # d(10^(G/20))/dG = g * DB_TO_NEPER


def dynamics_reference(
    x: torch.Tensor, p: torch.Tensor, y0: torch.Tensor, floor2: float, compress: bool
) -> torch.Tensor:
    """Slow, obvious version in torch: ``x (N, T)``, ``p (N, 6)``, ``y0 (N, 1)`` -> ``(N, T)``."""
    thr, ratio, knee, c_a, c_r, makeup = p.unbind(-1)
    width = knee.clamp_min(1e-6)
    slope = 1.0 / ratio - 1.0 if compress else 1.0 - ratio
    sign = 1.0 if compress else -1.0
    prev = y0[:, 0]
    out = []
    for t in range(x.shape[1]):
        o = sign * (LOG10_SCALE * torch.log(x[:, t] ** 2 + floor2) - thr)
        curve = torch.where(o >= width / 2, slope * o, slope * (o + width / 2) ** 2 / (2 * width))
        gdb = torch.where(o <= -width / 2, torch.zeros_like(o), curve)
        g = torch.exp(DB_TO_NEPER * gdb)
        c = torch.where(g < prev, c_a, c_r)
        prev = c * prev + (1 - c) * g
        out.append(x[:, t] * prev * makeup)
    return torch.stack(out, 1) if out else x.clone()


def _forward_row(x, p, y0, floor2, compress, out, ys, mask, gs, os):
    thr = p[0]
    ratio = p[1]
    width = max(p[2], 1e-6)
    c_a = p[3]
    c_r = p[4]
    makeup = p[5]
    slope = 1.0 / ratio - 1.0 if compress else 1.0 - ratio
    sign = 1.0 if compress else -1.0
    # Powers where the knee starts: samples on the flat side need no log or exp (g = 1).
    quiet = math.exp((thr - sign * width / 2) / LOG10_SCALE)
    prev = y0[0]
    for t in range(x.shape[0]):
        xt = x[t]
        pw = xt * xt + floor2
        if (pw <= quiet) if compress else (pw >= quiet):
            g = 1.0
            o = -width  # on the flat side of the knee
        else:
            o = sign * (LOG10_SCALE * math.log(pw) - thr)
            if o >= width / 2:
                gdb = slope * o
            else:
                gdb = slope * (o + width / 2) ** 2 / (2 * width)
            g = math.exp(DB_TO_NEPER * gdb)
        if g < prev:
            c = c_a
            mask[t] = 1
        else:
            c = c_r
            mask[t] = 0
        prev = c * prev + (1 - c) * g
        ys[t] = prev
        gs[t] = g
        os[t] = o
        out[t] = xt * prev * makeup


def _adjoint_row(gout, x, p, y0, floor2, compress, ys, mask, gs, os, gx, gp, gy0):
    ratio = p[1]
    width = max(p[2], 1e-6)
    c_a = p[3]
    c_r = p[4]
    makeup = p[5]
    slope = 1.0 / ratio - 1.0 if compress else 1.0 - ratio
    dslope_dratio = -1.0 / (ratio * ratio) if compress else -1.0
    sign = 1.0 if compress else -1.0
    g_thr = 0.0
    g_slope = 0.0
    g_width = 0.0
    g_ca = 0.0
    g_cr = 0.0
    g_mk = 0.0
    carry = 0.0  # c[t+1] * lam[t+1]
    for t in range(x.shape[0] - 1, -1, -1):
        xt = x[t]
        yt = ys[t]
        y_prev = ys[t - 1] if t > 0 else y0[0]
        go = gout[t]
        g_mk += go * xt * yt
        lam = go * xt * makeup + carry
        pw = xt * xt + floor2
        o = os[t]
        g = gs[t]
        d_o = 0.0  # dG/do
        g_slope_t = 0.0
        if o >= width / 2:
            g_slope_t = o
            d_o = slope
        elif o > -width / 2:
            u = o + width / 2
            g_slope_t = u * u / (2 * width)
            d_o = slope * u / width
        c = c_a if mask[t] == 1 else c_r
        dc = lam * (y_prev - g)
        if mask[t] == 1:
            g_ca += dc
        else:
            g_cr += dc
        dgdb = (1 - c) * lam * g * DB_TO_NEPER
        if o > -width / 2:
            g_slope += dgdb * g_slope_t
            if o < width / 2 and p[2] > 1e-6:
                u = o + width / 2
                g_width += dgdb * slope * u * (width / 2 - o) / (2 * width * width)
        d_level = dgdb * d_o * sign
        g_thr -= d_level
        gx[t] = go * yt * makeup + d_level * LOG10_SCALE * 2 * xt / pw
        carry = c * lam
    gp[0] = g_thr
    gp[1] = g_slope * dslope_dratio
    gp[2] = g_width
    gp[3] = g_ca
    gp[4] = g_cr
    gp[5] = g_mk
    gy0[0] = carry


_forward_row_cpu = numba.njit(cache=True)(_forward_row)
_adjoint_row_cpu = numba.njit(cache=True)(_adjoint_row)
_forward_row_cuda = cuda.jit(device=True)(_forward_row)
_adjoint_row_cuda = cuda.jit(device=True)(_adjoint_row)


@numba.njit(parallel=True, cache=True)
def dynamics_cpu(x, p, y0, floor2, compress, out, ys, mask, gs, os):
    """Fused dynamics forward on the CPU, rows in parallel (module doc)."""
    for i in numba.prange(x.shape[0]):
        _forward_row_cpu(x[i], p[i], y0[i], floor2, compress, out[i], ys[i], mask[i], gs[i], os[i])


@numba.njit(parallel=True, cache=True)
def dynamics_adjoint_cpu(gout, x, p, y0, floor2, compress, ys, mask, gs, os, gx, gp, gy0):
    """Fused dynamics adjoint on the CPU, rows in parallel (module doc)."""
    for i in numba.prange(x.shape[0]):
        _adjoint_row_cpu(
            gout[i], x[i], p[i], y0[i], floor2, compress, ys[i], mask[i], gs[i], os[i],
            gx[i], gp[i], gy0[i],
        )  # fmt: skip


@cuda.jit
def _forward_kernel(x, p, y0, floor2, compress, out, ys, mask, gs, os):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _forward_row_cuda(x[i], p[i], y0[i], floor2, compress, out[i], ys[i], mask[i], gs[i], os[i])


@cuda.jit
def _adjoint_kernel(gout, x, p, y0, floor2, compress, ys, mask, gs, os, gx, gp, gy0):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _adjoint_row_cuda(
            gout[i], x[i], p[i], y0[i], floor2, compress, ys[i], mask[i], gs[i], os[i],
            gx[i], gp[i], gy0[i],
        )  # fmt: skip


def dynamics_cuda(*args, stream=0):
    """Fused dynamics forward on a CUDA device, one thread per row (arguments as the CPU twin)."""
    from ._launch import launch_rows

    launch_rows(_forward_kernel, args[0].shape[0], stream, *args)


def dynamics_adjoint_cuda(*args, stream=0):
    """Fused dynamics adjoint on a CUDA device, one thread per row (arguments as the CPU twin)."""
    from ._launch import launch_rows

    launch_rows(_adjoint_kernel, args[1].shape[0], stream, *args)


# --------------------------------------------------------------------------- streaming
# The streaming fast path: peak or RMS detection, channels linked or not, state carried,
# forward only (the differentiable path composes the all-pole and envelope kernels).
# Per item (B items, C channels, T samples), with ``p`` as above and state in place:
#     # P_c[t] = r P_c[t-1] + (1 - r) x_c[t]^2  (RMS; peak: x_c[t]^2)    power (B,C)
#     # L[t] = 10 log10(max_c P_c[t] + floor^2)  (linked; else per channel)
#     # g = 10^(G(L)/20);  y[t] = c y[t-1] + (1 - c) g,  c = attack if g < y[t-1]
#     # out_c[t] = x_c[t] y[t] makeup      (B,C,T),(B,6),(B,C),(B,G) -> (B,C,T), G in {1, C}


def dynamics_stream_reference(
    x: torch.Tensor,
    p: torch.Tensor,
    rms_coef: float,
    power: torch.Tensor,
    gain: torch.Tensor,
    floor2: float,
    compress: bool,
    rms: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slow, obvious version in torch: returns the output and the final power and gain."""
    thr, ratio, knee, c_a, c_r, makeup = (p[:, i : i + 1] for i in range(6))
    width = knee.clamp_min(1e-6)
    slope = 1.0 / ratio - 1.0 if compress else 1.0 - ratio
    sign = 1.0 if compress else -1.0
    power, gain = power.clone(), gain.clone()
    out = []
    for t in range(x.shape[-1]):
        sq = x[..., t] ** 2
        power = rms_coef * power + (1 - rms_coef) * sq if rms else sq
        level = power.amax(-1, keepdim=True) if gain.shape[-1] == 1 else power
        o = sign * (LOG10_SCALE * torch.log(level + floor2) - thr)
        curve = torch.where(o >= width / 2, slope * o, slope * (o + width / 2) ** 2 / (2 * width))
        g = torch.exp(DB_TO_NEPER * torch.where(o <= -width / 2, torch.zeros_like(o), curve))
        c = torch.where(g < gain, c_a, c_r)
        gain = c * gain + (1 - c) * g
        out.append(x[..., t] * gain * makeup)
    y = torch.stack(out, -1) if out else x.clone()
    return y, power, gain


def _stream_item(x, p, rms_coef, power, gain, floor2, compress, rms, y):
    thr = p[0]
    ratio = p[1]
    width = max(p[2], 1e-6)
    c_a = p[3]
    c_r = p[4]
    makeup = p[5]
    slope = 1.0 / ratio - 1.0 if compress else 1.0 - ratio
    sign = 1.0 if compress else -1.0
    n_c = x.shape[0]
    linked = gain.shape[0] == 1
    for t in range(x.shape[1]):
        top = 0.0
        for c in range(n_c):
            sq = x[c, t] * 1.0
            sq = sq * sq
            if rms:
                power[c] = rms_coef * power[c] + (1 - rms_coef) * sq
                sq = power[c]
            else:
                power[c] = sq
            if sq > top:
                top = sq
        for r in range(gain.shape[0]):
            level = top if linked else power[r]
            o = sign * (LOG10_SCALE * math.log(level + floor2) - thr)
            if o <= -width / 2:
                g = 1.0
            elif o >= width / 2:
                g = math.exp(DB_TO_NEPER * slope * o)
            else:
                g = math.exp(DB_TO_NEPER * slope * (o + width / 2) ** 2 / (2 * width))
            prev = gain[r]
            coef = c_a if g < prev else c_r
            gain[r] = coef * prev + (1 - coef) * g
        for c in range(n_c):
            y[c, t] = x[c, t] * gain[0 if linked else c] * makeup


_stream_item_cpu = numba.njit(cache=True)(_stream_item)
_stream_item_cuda = cuda.jit(device=True)(_stream_item)


@numba.njit(cache=True)
def dynamics_stream_cpu(x, p, rms_coef, power, gain, floor2, compress, rms, y):
    """Streaming dynamics on the CPU, item by item (small blocks: no thread start-up)."""
    for b in range(x.shape[0]):
        _stream_item_cpu(x[b], p[b], rms_coef, power[b], gain[b], floor2, compress, rms, y[b])


@cuda.jit
def _stream_kernel(x, p, rms_coef, power, gain, floor2, compress, rms, y):
    b = cuda.grid(1)
    if b < x.shape[0]:
        _stream_item_cuda(x[b], p[b], rms_coef, power[b], gain[b], floor2, compress, rms, y[b])


def dynamics_stream_cuda(x, p, rms_coef, power, gain, floor2, compress, rms, y, stream=0):
    """Streaming dynamics on a CUDA device, one thread per item."""
    from ._launch import launch_rows

    args = (x, p, rms_coef, power, gain, floor2, compress, rms, y)
    launch_rows(_stream_kernel, x.shape[0], stream, *args)
