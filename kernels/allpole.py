"""All-pole recursion with a fused FIR numerator (direct form I), and its adjoint.

Forward (row-wise: N rows of T samples; numerator taps B, poles K):
    # y[t] = sum_j b[t,j] x[t-j] - sum_k a[t,k] y[t-1-k]
    #        (N,T),(N,Tb,B),(N,Ta,K),(N,B-1),(N,K) -> (N,T),(N,B-1),(N,K)
The initial state holds past inputs ``zx[i] = x[-1-i]`` and past outputs
``zy[i] = y[-1-i]`` (most recent first); the final state is the same for the block's
end. ``Tb``/``Ta`` is T for per-sample coefficients or 1 for static ones (no broadcast
copy). The pure all-pole filter is ``b = [[1]]``; the FIR numerator is fused into the
same pass because a separate convolution costs more than the recursion itself.

Adjoint (exact reverse-mode derivative; one reverse pass):
    # u[t]     = g[t] - sum_k a[t+1+k,k] u[t+1+k]   (all-pole, backwards, shifted coefs)
    # gx[t]    = sum_j b[t+j,j] u[t+j]              (transposed FIR)
    # gb[t,j]  = u[t] x[t-j],   ga[t,k] = -u[t] y[t-1-k]
    # gzx[i]   = sum_{j>i} u[j-1-i] b[j-1-i,j],   gzy[i] = -sum_{k>=i} u[k-i] a[k-i,k]
``u`` is a scratch row (the gradient of the numerator's output). A gradient buffer of
length 0 along time is skipped, of length T is per sample, and of length 1 is summed
over time (static coefficients) in a second pass over ``u``: vectorised dot products
over blocks of 1024 samples, block totals in float64.

Each loop has three twins with one signature: ``*_reference`` (torch, slow, the oracle),
``*_cpu`` (numba.njit, parallel over rows) and ``*_cuda`` (numba.cuda.jit, one thread per
row; the row API leaves room for a parallel-in-time scan later).
"""

from __future__ import annotations

import numba
import torch
from numba import cuda

__all__ = [
    "allpole_reference",
    "allpole_cpu",
    "allpole_cuda",
    "allpole_adjoint_reference",
    "allpole_adjoint_cpu",
    "allpole_adjoint_cuda",
]


# --------------------------------------------------------------------------- references


def _at(c: torch.Tensor, t: int) -> torch.Tensor:
    return c[:, t if c.shape[1] > 1 else 0]


def allpole_reference(
    x: torch.Tensor, b: torch.Tensor, a: torch.Tensor, zx: torch.Tensor, zy: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slow, obvious direct-form-I filter in torch (differentiable by autograd).

    Args:
        x: input ``(N, T)``. b: numerator ``(N, Tb, B)``. a: poles without the leading 1,
        ``(N, Ta, K)``. zx: past inputs ``(N, B-1)``. zy: past outputs ``(N, K)``.

    Returns:
        ``(y, zfx, zfy)`` with shapes ``(N, T)``, ``(N, B-1)``, ``(N, K)``.
    """
    n_b, n_a = b.shape[-1], a.shape[-1]
    xh = [zx[:, i] for i in range(n_b - 1)]  # xh[i] = x[t-1-i]
    yh = [zy[:, i] for i in range(n_a)]  # yh[i] = y[t-1-i]
    ys = []
    for t in range(x.shape[1]):
        bt, at = _at(b, t), _at(a, t)
        xs = [x[:, t]] + xh
        yt = bt[:, 0] * xs[0]
        for j in range(1, n_b):
            yt = yt + bt[:, j] * xs[j]
        for k in range(n_a):
            yt = yt - at[:, k] * yh[k]
        xh = xs[:-1]
        yh = ([yt] + yh)[:n_a]
        ys.append(yt)
    y = torch.stack(ys, dim=1) if ys else x.clone()
    zfx = torch.stack(xh, dim=1) if n_b > 1 else zx.clone()
    zfy = torch.stack(yh, dim=1) if n_a else zy.clone()
    return y, zfx, zfy


def allpole_adjoint_reference(
    g: torch.Tensor,
    x: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    zx: torch.Tensor,
    zy: torch.Tensor,
    y: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    """The adjoint sums of the module docstring, written out slowly in torch.

    Returns:
        ``(gx, gb, ga, gzx, gzy)`` shaped like ``x, b, a, zx, zy``.
    """
    n_t, n_b, n_a = g.shape[1], b.shape[-1], a.shape[-1]
    u: list = [None] * n_t
    for t in range(n_t - 1, -1, -1):
        acc = g[:, t]
        for k in range(n_a):
            if t + 1 + k < n_t:
                acc = acc - _at(a, t + 1 + k)[:, k] * u[t + 1 + k]
        u[t] = acc
    gx = torch.zeros_like(x)
    for t in range(n_t):
        for j in range(n_b):
            if t + j < n_t:
                gx[:, t] += _at(b, t + j)[:, j] * u[t + j]
    x_ext = torch.cat([zx.flip(1), x], 1)  # x_ext[B-1+p] = x[p]
    y_ext = torch.cat([zy.flip(1), y], 1)  # y_ext[K+p] = y[p]
    ut = torch.stack(u, 1) if n_t else g.clone()
    gb = torch.stack([ut * x_ext[:, n_b - 1 - j : n_b - 1 - j + n_t] for j in range(n_b)], 2)
    ga_cols = [-ut * y_ext[:, n_a - 1 - k : n_a - 1 - k + n_t] for k in range(n_a)]
    ga = torch.stack(ga_cols, 2) if n_a else g.new_zeros((g.shape[0], n_t, 0))
    gb = gb if b.shape[1] > 1 else gb.sum(1, keepdim=True)
    ga = ga if a.shape[1] > 1 else ga.sum(1, keepdim=True)
    gzx = torch.zeros_like(zx)
    for i in range(n_b - 1):
        for j in range(i + 1, n_b):
            if j - 1 - i < n_t:
                gzx[:, i] += ut[:, j - 1 - i] * _at(b, j - 1 - i)[:, j]
    gzy = torch.zeros_like(zy)
    for i in range(n_a):
        for k in range(i, n_a):
            if k - i < n_t:
                gzy[:, i] -= ut[:, k - i] * _at(a, k - i)[:, k]
    return gx, gb, ga, gzx, gzy


# --------------------------------------------------------------------------- row loops
# Written once in plain Python and compiled twice (njit and cuda device functions), so
# the CPU and CUDA twins cannot drift apart. Each loop has an edge step (history taken
# from the initial state, or taps past the end) and a bulk step without bounds tests.


def _forward_row(x, b, a, zx, zy, y, zfx, zfy):
    n_t = x.shape[0]
    n_b = b.shape[1]
    n_a = a.shape[1]
    sb = 1 if b.shape[0] > 1 else 0
    sa = 1 if a.shape[0] > 1 else 0
    lo = min(n_t, max(n_a, n_b - 1))
    for t in range(lo):
        acc = b[t * sb, 0] * x[t]
        for j in range(1, n_b):
            p = t - j
            acc += b[t * sb, j] * (x[p] if p >= 0 else zx[j - t - 1])
        for k in range(n_a):
            p = t - 1 - k
            acc -= a[t * sa, k] * (y[p] if p >= 0 else zy[k - t])
        y[t] = acc
    # Bulk: the newest output stays in a register and enters last, so the loop-carried
    # dependency is one multiply-add, not a store-to-load round trip per tap.
    prev = y[lo - 1] if lo > 0 else x[0] * 0
    for t in range(lo, n_t):
        tb = t * sb
        ta = t * sa
        acc = b[tb, 0] * x[t]
        for j in range(1, n_b):
            acc += b[tb, j] * x[t - j]
        for k in range(n_a - 1, 0, -1):
            acc -= a[ta, k] * y[t - 1 - k]
        if n_a > 0:
            acc -= a[ta, 0] * prev
        y[t] = acc
        prev = acc
    for i in range(n_b - 1):
        p = n_t - 1 - i
        zfx[i] = x[p] if p >= 0 else zx[i - n_t]
    for i in range(n_a):
        p = n_t - 1 - i
        zfy[i] = y[p] if p >= 0 else zy[i - n_t]


def _adjoint_row(g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy):
    # Per-sample coefficient gradients are written here; static ones and the initial-state
    # gradients are summed afterwards from ``u`` (lagged_dots, _initial_state_grads).
    n_t = g.shape[0]
    n_b = b.shape[1]
    n_a = a.shape[1]
    sb = 1 if b.shape[0] > 1 else 0
    sa = 1 if a.shape[0] > 1 else 0
    tvb = gb.shape[0] > 1
    tva = ga.shape[0] > 1
    lo = max(n_a, n_b - 1)  # from here on, history lies inside the block
    hi = min(n_t - 1 - n_a, n_t - n_b)  # up to here, taps ahead lie inside the block
    nxt = g[0] * 0  # u[t+1], kept in a register
    for t in range(n_t - 1, -1, -1):
        acc = g[t]
        if t >= lo and t <= hi:
            for k in range(n_a - 1, 0, -1):
                acc -= a[(t + 1 + k) * sa, k] * u[t + 1 + k]
            if n_a > 0:
                acc -= a[(t + 1) * sa, 0] * nxt
            u[t] = acc
            nxt = acc
            gsum = b[t * sb, 0] * acc
            for j in range(1, n_b):
                gsum += b[(t + j) * sb, j] * u[t + j]
            gx[t] = gsum
            if tvb:
                for j in range(n_b):
                    gb[t, j] = acc * x[t - j]
            if tva:
                for k in range(n_a):
                    ga[t, k] = -acc * y[t - 1 - k]
        else:
            for k in range(n_a):
                s = t + 1 + k
                if s < n_t:
                    acc -= a[s * sa, k] * u[s]
            u[t] = acc
            nxt = acc
            gsum = b[t * sb, 0] * acc
            for j in range(1, n_b):
                s = t + j
                if s < n_t:
                    gsum += b[s * sb, j] * u[s]
            gx[t] = gsum
            if tvb:
                for j in range(n_b):
                    p = t - j
                    gb[t, j] = acc * (x[p] if p >= 0 else zx[j - t - 1])
            if tva:
                for k in range(n_a):
                    p = t - 1 - k
                    ga[t, k] = -acc * (y[p] if p >= 0 else zy[k - t])


def _initial_state_grads(u, b, a, gzx, gzy):
    # gzx[i] = sum_{j>i} u[j-1-i] b[j-1-i, j];  gzy[i] = -sum_{k>=i} u[k-i] a[k-i, k]
    n_t = u.shape[0]
    sb = 1 if b.shape[0] > 1 else 0
    sa = 1 if a.shape[0] > 1 else 0
    for i in range(b.shape[1] - 1):
        gzx[i] = 0
        for j in range(i + 1, b.shape[1]):
            t = j - 1 - i
            if t < n_t:
                gzx[i] += u[t] * b[t * sb, j]
    for i in range(a.shape[1]):
        gzy[i] = 0
        for k in range(i, a.shape[1]):
            t = k - i
            if t < n_t:
                gzy[i] -= u[t] * a[t * sa, k]


def _block_dot(p, q):
    # Compiled with reassociation on the CPU so LLVM vectorises it: the result then
    # differs from the sequential sum only at the rounding level of the dtype.
    acc = p[0] * 0
    for i in range(p.shape[0]):
        acc += p[i] * q[i]
    return acc


def _make_lagged_dots(dot):
    def lagged_dots(u, s, zs, offset, sign, out):
        """out[j] = sign * sum_t u[t] s[t-j-offset], with s[p] = zs[-1-p] for p < 0.

        The gradient of a static coefficient: dot products over blocks of 1024 samples
        in the signal's dtype, block totals accumulated in float64.
        """
        n_t = u.shape[0]
        for j in range(out.shape[0]):
            lag = j + offset
            total = 0.0
            for t in range(min(lag, n_t)):
                total += u[t] * zs[lag - t - 1]
            start = lag
            while start < n_t:
                end = min(start + 1024, n_t)
                total += dot(u[start:end], s[start - lag : end - lag])
                start = end
            out[j] = sign * total

    return lagged_dots


# Second-order fast path (B <= 3, K <= 2: one-poles, biquads, order-1/2 all-poles, the
# bulk of audio filtering). All history lives in registers, the loop has no inner loops
# and no bounds tests, and the adjoint needs no scratch row: u[t+1], u[t+2] are registers.
MAX_FAST_TAPS_B = 3
MAX_FAST_TAPS_A = 2


def _forward_row2(x, b, a, zx, zy, y, zfx, zfy):
    n_t = x.shape[0]
    n_b = b.shape[1]
    n_a = a.shape[1]
    zero = x[0] * 0 if n_t > 0 else zy[0] * 0 if n_a > 0 else b[0, 0] * 0
    x1 = zx[0] if n_b > 1 else zero
    x2 = zx[1] if n_b > 2 else zero
    y1 = zy[0] if n_a > 0 else zero
    y2 = zy[1] if n_a > 1 else zero
    tvb = b.shape[0] > 1
    tva = a.shape[0] > 1
    b0 = b[0, 0]
    b1 = b[0, 1] if n_b > 1 else zero
    b2 = b[0, 2] if n_b > 2 else zero
    a1 = a[0, 0] if n_a > 0 else zero
    a2 = a[0, 1] if n_a > 1 else zero
    for t in range(n_t):
        if tvb:
            b0 = b[t, 0]
            if n_b > 1:
                b1 = b[t, 1]
            if n_b > 2:
                b2 = b[t, 2]
        if tva:
            if n_a > 0:
                a1 = a[t, 0]
            if n_a > 1:
                a2 = a[t, 1]
        xt = x[t]
        v = b0 * xt + b1 * x1 + b2 * x2 - a2 * y2 - a1 * y1
        x2 = x1
        x1 = xt
        y2 = y1
        y1 = v
        y[t] = v
    if n_b > 1:
        zfx[0] = x1
    if n_b > 2:
        zfx[1] = x2
    if n_a > 0:
        zfy[0] = y1
    if n_a > 1:
        zfy[1] = y2


def _adjoint_row2(g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy):
    n_t = g.shape[0]
    n_b = b.shape[1]
    n_a = a.shape[1]
    tvb = b.shape[0] > 1
    tva = a.shape[0] > 1
    wb = gb.shape[0] > 1
    wa = ga.shape[0] > 1
    zero = b[0, 0] * 0
    # Coefficients in registers: static ones loaded once, per-sample ones each step.
    # Step t needs b[t,0], b[t+1,1], b[t+2,2], a[t+1,0], a[t+2,1]; taps past the end
    # meet u = 0, so a clamped (valid) index serves there.
    b0 = b[0, 0]
    b1 = b[0, 1] if n_b > 1 else zero
    b2 = b[0, 2] if n_b > 2 else zero
    a0 = a[0, 0] if n_a > 0 else zero
    a1 = a[0, 1] if n_a > 1 else zero
    u1 = zero  # u[t+1]
    u2 = zero  # u[t+2]
    last = n_t - 1
    for t in range(n_t - 1, -1, -1):
        if tvb or tva:
            t1 = min(t + 1, last)
            t2 = min(t + 2, last)
            if tvb:
                b0 = b[t, 0]
                if n_b > 1:
                    b1 = b[t1, 1]
                if n_b > 2:
                    b2 = b[t2, 2]
            if tva:
                if n_a > 0:
                    a0 = a[t1, 0]
                if n_a > 1:
                    a1 = a[t2, 1]
        acc = g[t] - a1 * u2 - a0 * u1
        u[t] = acc
        gx[t] = b0 * acc + b1 * u1 + b2 * u2
        if wb:
            gb[t, 0] = acc * x[t]
            if n_b > 1:
                gb[t, 1] = acc * (x[t - 1] if t >= 1 else zx[0])
            if n_b > 2:
                gb[t, 2] = acc * (x[t - 2] if t >= 2 else zx[1 - t])
        if wa:
            if n_a > 0:
                ga[t, 0] = -acc * (y[t - 1] if t >= 1 else zy[0])
            if n_a > 1:
                ga[t, 1] = -acc * (y[t - 2] if t >= 2 else zy[1 - t])
        u2 = u1
        u1 = acc


def _make_dispatching_rows(jit, jit_dot):
    """Compile the row loops with ``jit``; pick the fast or general path per row."""
    fwd_fast, adj_fast = jit(_forward_row2), jit(_adjoint_row2)
    fwd_gen, adj_gen = jit(_forward_row), jit(_adjoint_row)
    lagged_dots = jit(_make_lagged_dots(jit_dot(_block_dot)))
    state_grads = jit(_initial_state_grads)

    def forward(x, b, a, zx, zy, y, zfx, zfy):
        if b.shape[1] <= MAX_FAST_TAPS_B and a.shape[1] <= MAX_FAST_TAPS_A:
            fwd_fast(x, b, a, zx, zy, y, zfx, zfy)
        else:
            fwd_gen(x, b, a, zx, zy, y, zfx, zfy)

    def adjoint(g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy):
        if b.shape[1] <= MAX_FAST_TAPS_B and a.shape[1] <= MAX_FAST_TAPS_A:
            adj_fast(g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy)
        else:
            adj_gen(g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy)
        state_grads(u, b, a, gzx, gzy)
        if gb.shape[0] == 1:
            lagged_dots(u, x, zx, 0, 1.0, gb[0])
        if ga.shape[0] == 1:
            lagged_dots(u, y, zy, 1, -1.0, ga[0])

    return jit(forward), jit(adjoint)


_forward_row_cpu, _adjoint_row_cpu = _make_dispatching_rows(
    numba.njit(cache=True), numba.njit(cache=True, fastmath={"reassoc", "contract"})
)
_forward_row_cuda, _adjoint_row_cuda = _make_dispatching_rows(
    cuda.jit(device=True), cuda.jit(device=True)
)


# --------------------------------------------------------------------------- CPU twins


@numba.njit(parallel=True, cache=True)
def allpole_cpu(x, b, a, zx, zy, y, zfx, zfy):
    """Direct-form-I forward on the CPU: rows in parallel, time sequential (module doc)."""
    for i in numba.prange(x.shape[0]):
        _forward_row_cpu(x[i], b[i], a[i], zx[i], zy[i], y[i], zfx[i], zfy[i])


@numba.njit(parallel=True, cache=True)
def allpole_adjoint_cpu(g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy):
    """Direct-form-I adjoint on the CPU: rows in parallel, one reverse pass (module doc)."""
    for i in numba.prange(g.shape[0]):
        _adjoint_row_cpu(
            g[i], x[i], b[i], a[i], zx[i], zy[i], y[i], u[i], gx[i], gb[i], ga[i], gzx[i], gzy[i]
        )


# --------------------------------------------------------------------------- CUDA twins


@cuda.jit
def _forward_kernel(x, b, a, zx, zy, y, zfx, zfy):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _forward_row_cuda(x[i], b[i], a[i], zx[i], zy[i], y[i], zfx[i], zfy[i])


@cuda.jit
def _adjoint_kernel(g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy):
    i = cuda.grid(1)
    if i < g.shape[0]:
        _adjoint_row_cuda(
            g[i], x[i], b[i], a[i], zx[i], zy[i], y[i], u[i], gx[i], gb[i], ga[i], gzx[i], gzy[i]
        )


def allpole_cuda(x, b, a, zx, zy, y, zfx, zfy, stream=0):
    """Direct-form-I forward on a CUDA device, one thread per row (CPU twin's arrays)."""
    from ._launch import launch_rows

    launch_rows(_forward_kernel, x.shape[0], stream, x, b, a, zx, zy, y, zfx, zfy)


def allpole_adjoint_cuda(g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy, stream=0):
    """Direct-form-I adjoint on a CUDA device, one thread per row (CPU twin's arrays)."""
    from ._launch import launch_rows

    launch_rows(_adjoint_kernel, g.shape[0], stream, g, x, b, a, zx, zy, y, u, gx, gb, ga, gzx, gzy)
