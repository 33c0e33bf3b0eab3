"""Delay network: N delay lines, a one-pole filter on each, mixed back by a feedback matrix.

The core of the feedback delay network (FDN) reverb, and of Freeverb's comb bank (a
diagonal matrix). Per row (R rows, T samples, N lines, Ci inputs, Co outputs), with
integer delays ``m_i >= 1``:
    # s_i[t] = v_i[t - m_i]                          (line output; 0 before the block)
    # a_i[t] = k_i s_i[t] + p_i a_i[t-1]              (one-pole absorption / damping)
    # v_i[t] = sum_j A_ij a_j[t] + sum_c B_ic x_c[t]  (what enters line i)
    # y_o[t] = sum_i Ca_oi a_i[t] + Cs_oi s_i[t] + sum_c D_oc x_c[t]
    #   x (R,Ci,T), B (N,Ci), A (RA,N,N), k, p (Rk,N), m (Rm,N) int64,
    #   Ca, Cs (RC,Co,N), D (RC,Co,Ci)  ->  y (R,Co,T); a and v (R,N,T) kept for the adjoint
``RA``, ``Rk``, ``Rm``, ``RC`` are R or 1 (shared). Everything runs in the kernel: inputs,
lines, filters, matrix, output taps and the direct (dry) path, so no (R, N, T) tensor goes
through torch. Zero weights are skipped (a reverb's unused taps cost nothing).

Blocks: a line's output at t reads v from m_i >= L samples back, so a block of L <= min(m)
samples needs only earlier blocks. Per block the filters run sample by sample (cheap: N
one-pole steps), and the matrix and taps, the bulk of the work, become loops over the
block's samples that the compiler vectorises. The adjoint runs the same blocks backwards.

Adjoint (one reverse pass; ``la = dL/da`` and ``lv = dL/dv`` of the whole recursion):
    # lv_i[t] = k_i la_i[t + m_i] + sum_o Cs_oi gy_o[t + m_i]
    # la_i[t] = sum_o Ca_oi gy_o[t] + p_i la_i[t+1] + sum_j A_ji lv_j[t]
    # gx_c[t] = sum_i B_ic lv_i[t] + sum_o D_oc gy_o[t]
and the parameter gradients are summed per row in the same pass (float64):
    # gA_ij = sum_t lv_i[t] a_j[t]     gB_ic = sum_t lv_i[t] x_c[t]
    # gk_i = sum_t la_i[t] s_i[t]      gp_i = sum_t la_i[t] a_i[t-1]
    # gCa_oi = sum_t gy_o[t] a_i[t]    gCs_oi = sum_t gy_o[t] s_i[t]   gD_oc = sum_t gy_o[t] x_c[t]
A gradient output given with size 0 (e.g. ``gCs`` of shape ``(R, 0, 0)``) is not computed.
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
    x: torch.Tensor,
    B: torch.Tensor,
    A: torch.Tensor,
    k: torch.Tensor,
    p: torch.Tensor,
    m: torch.Tensor,
    Ca: torch.Tensor,
    Cs: torch.Tensor,
    D: torch.Tensor,
) -> torch.Tensor:
    """Slow, obvious version in torch (differentiable by autograd): returns ``y (R, Co, T)``."""
    x = x.transpose(1, 2)
    n_r, n_t, _ = x.shape
    n_l = B.shape[0]
    A = A.expand(n_r, n_l, n_l)
    k, p, m = k.expand(n_r, n_l), p.expand(n_r, n_l), m.expand(n_r, n_l)
    Ca, Cs, D = Ca.expand(n_r, -1, -1), Cs.expand(n_r, -1, -1), D.expand(n_r, -1, -1)
    a_prev = x.new_zeros(n_r, n_l)
    v_list: list[torch.Tensor] = []
    ys = []
    for t in range(n_t):
        s = torch.stack(
            [
                torch.stack(
                    [
                        v_list[t - int(m[r, i])][r, i] if t >= int(m[r, i]) else x.new_zeros(())
                        for i in range(n_l)
                    ]
                )
                for r in range(n_r)
            ]
        )
        a_t = k * s + p * a_prev
        v_list.append((A @ a_t[..., None])[..., 0] + x[:, t] @ B.T)
        y_t = Ca @ a_t[..., None] + Cs @ s[..., None] + D @ x[:, t, :, None]
        ys.append(y_t[..., 0])
        a_prev = a_t
    if not ys:
        return x.new_zeros(n_r, Ca.shape[1], 0)
    return torch.stack(ys, 2)


# Loops below run over ``range(n)`` on sliced views: numba then knows every index is
# non-negative, drops its negative-index wraparound check and the loops vectorise.


def _forward_row(x, B, A, k, p, m, Ca, Cs, D, y, a, v, block):
    n_in, n_t = x.shape
    n_l = B.shape[0]
    n_out = Ca.shape[0]
    for b0 in range(0, n_t, block):
        b1 = min(b0 + block, n_t)
        n = b1 - b0
        # each line's output through its filter; reads v from earlier blocks only
        for i in range(n_l):
            mi, ki, pi = m[i], k[i], p[i]
            ai = a[i, b0:b1]
            prev = a[i, b0 - 1] if b0 > 0 else 0.0
            lo = min(max(mi - b0, 0), n)  # samples before the line's first output
            for t in range(lo):
                prev = pi * prev
                ai[t] = prev
            si = v[i, b0 + lo - mi : b1 - mi]
            for t in range(n - lo):
                prev = ki * si[t] + pi * prev
                ai[lo + t] = prev
        # output taps, direct path and mixing matrix: loops over the block (vectorised)
        for o in range(n_out):
            yo = y[o, b0:b1]
            for t in range(n):
                yo[t] = 0.0
            for c in range(n_in):
                w = D[o, c]
                if w != 0.0:
                    xc = x[c, b0:b1]
                    for t in range(n):
                        yo[t] += w * xc[t]
            for i in range(n_l):
                w = Ca[o, i]
                if w != 0.0:
                    ai = a[i, b0:b1]
                    for t in range(n):
                        yo[t] += w * ai[t]
                w = Cs[o, i]
                if w != 0.0:
                    lo = min(max(m[i] - b0, 0), n)
                    si = v[i, b0 + lo - m[i] : b1 - m[i]]
                    ys = y[o, b0 + lo : b1]
                    for t in range(n - lo):
                        ys[t] += w * si[t]
        for i in range(n_l):
            vi = v[i, b0:b1]
            for t in range(n):
                vi[t] = 0.0
            for c in range(n_in):
                w = B[i, c]
                if w != 0.0:
                    xc = x[c, b0:b1]
                    for t in range(n):
                        vi[t] += w * xc[t]
            for j in range(n_l):
                w = A[i, j]
                if w != 0.0:
                    aj = a[j, b0:b1]
                    for t in range(n):
                        vi[t] += w * aj[t]


def _adjoint_row(gy, x, B, A, k, p, m, Ca, Cs, D, a, v, la, lv, gx, gB, gA, gk, gp, gCa, gCs, gD):
    n_in, n_t = x.shape
    n_l = B.shape[0]
    n_out = Ca.shape[0]
    block = lv.shape[1]
    for i in range(gB.shape[0]):
        for c in range(gB.shape[1]):
            gB[i, c] = 0.0
    for i in range(gA.shape[0]):
        for j in range(gA.shape[1]):
            gA[i, j] = 0.0
    for i in range(gk.shape[0]):
        gk[i] = 0.0
    for i in range(gp.shape[0]):
        gp[i] = 0.0
    for o in range(gCa.shape[0]):
        for i in range(gCa.shape[1]):
            gCa[o, i] = 0.0
    for o in range(gCs.shape[0]):
        for i in range(gCs.shape[1]):
            gCs[o, i] = 0.0
    for o in range(gD.shape[0]):
        for c in range(gD.shape[1]):
            gD[o, c] = 0.0
    n_blocks = (n_t + block - 1) // block
    for nb in range(n_blocks - 1, -1, -1):
        b0 = nb * block
        b1 = min(b0 + block, n_t)
        n = b1 - b0
        # lv over the block (lv[i, t - b0]): reads la and gy from later blocks only
        for i in range(n_l):
            ki, mi = k[i], m[i]
            lvi = lv[i]
            hi = min(max(n_t - mi - b0, 0), n)  # samples whose line output is in range
            lai = la[i, b0 + mi : b0 + mi + hi]
            for t in range(hi):
                lvi[t] = ki * lai[t]
            for t in range(hi, n):
                lvi[t] = 0.0
            for o in range(n_out):
                w = Cs[o, i]
                if w != 0.0:
                    gyo = gy[o, b0 + mi : b0 + mi + hi]
                    for t in range(hi):
                        lvi[t] += w * gyo[t]
        # la's drive (taps and matrix), then each line's recursion backwards in time
        for i in range(n_l):
            lai = la[i, b0:b1]
            for t in range(n):
                lai[t] = 0.0
            for o in range(n_out):
                w = Ca[o, i]
                if w != 0.0:
                    gyo = gy[o, b0:b1]
                    for t in range(n):
                        lai[t] += w * gyo[t]
            for j in range(n_l):
                w = A[j, i]
                if w != 0.0:
                    lvj = lv[j]
                    for t in range(n):
                        lai[t] += w * lvj[t]
            pi = p[i]
            nxt = la[i, b1] if b1 < n_t else 0.0
            for t in range(n - 1, -1, -1):
                nxt = lai[t] + pi * nxt
                lai[t] = nxt
        # input gradient and the parameter gradients asked for, as dot products
        if gx.shape[1] > 0:
            for c in range(n_in):
                gxc = gx[c, b0:b1]
                for t in range(n):
                    gxc[t] = 0.0
                for i in range(n_l):
                    w = B[i, c]
                    if w != 0.0:
                        lvi = lv[i]
                        for t in range(n):
                            gxc[t] += w * lvi[t]
                for o in range(n_out):
                    w = D[o, c]
                    if w != 0.0:
                        gyo = gy[o, b0:b1]
                        for t in range(n):
                            gxc[t] += w * gyo[t]
        for c in range(gB.shape[1]):
            xc = x[c, b0:b1]
            for i in range(n_l):
                lvi = lv[i]
                acc = 0.0
                for t in range(n):
                    acc += lvi[t] * xc[t]
                gB[i, c] += acc
        for i in range(gA.shape[0]):
            lvi = lv[i]
            for j in range(n_l):
                aj = a[j, b0:b1]
                acc = 0.0
                for t in range(n):
                    acc += lvi[t] * aj[t]
                gA[i, j] += acc
        for i in range(gk.shape[0]):
            lo = min(max(m[i] - b0, 0), n)
            si = v[i, b0 + lo - m[i] : b1 - m[i]]
            las = la[i, b0 + lo : b1]
            acc = 0.0
            for t in range(n - lo):
                acc += las[t] * si[t]
            gk[i] += acc
        for i in range(gp.shape[0]):
            lo = 1 if b0 == 0 else 0
            aprev = a[i, b0 + lo - 1 : b1 - 1]
            lap = la[i, b0 + lo : b1]
            acc = 0.0
            for t in range(n - lo):
                acc += lap[t] * aprev[t]
            gp[i] += acc
        for o in range(gCa.shape[0]):
            gyo = gy[o, b0:b1]
            for i in range(n_l):
                ai = a[i, b0:b1]
                acc = 0.0
                for t in range(n):
                    acc += gyo[t] * ai[t]
                gCa[o, i] += acc
        for o in range(gCs.shape[0]):
            for i in range(n_l):
                lo = min(max(m[i] - b0, 0), n)
                si = v[i, b0 + lo - m[i] : b1 - m[i]]
                gys = gy[o, b0 + lo : b1]
                acc = 0.0
                for t in range(n - lo):
                    acc += gys[t] * si[t]
                gCs[o, i] += acc
        for o in range(gD.shape[0]):
            gyo = gy[o, b0:b1]
            for c in range(n_in):
                xc = x[c, b0:b1]
                acc = 0.0
                for t in range(n):
                    acc += gyo[t] * xc[t]
                gD[o, c] += acc


_forward_row_cpu = numba.njit(cache=True, fastmath={"contract"})(_forward_row)
_adjoint_row_cpu = numba.njit(cache=True, fastmath={"contract", "reassoc"})(_adjoint_row)
_forward_row_cuda = cuda.jit(device=True)(_forward_row)
_adjoint_row_cuda = cuda.jit(device=True)(_adjoint_row)


@numba.njit(parallel=True, cache=True)
def network_cpu(x, B, A, k, p, m, Ca, Cs, D, y, a, v, block):
    """Delay network forward on the CPU, rows in parallel (module doc)."""
    for row in numba.prange(x.shape[0]):
        r = numba.int64(row)
        ra, rk, rm = min(r, A.shape[0] - 1), min(r, k.shape[0] - 1), min(r, m.shape[0] - 1)
        rc = min(r, Ca.shape[0] - 1)
        _forward_row_cpu(
            x[r], B, A[ra], k[rk], p[rk], m[rm], Ca[rc], Cs[rc], D[rc], y[r], a[r], v[r], block
        )


@numba.njit(parallel=True, cache=True)
def network_adjoint_cpu(
    gy, x, B, A, k, p, m, Ca, Cs, D, a, v, la, lv, gx, gB, gA, gk, gp, gCa, gCs, gD
):
    """Delay network adjoint on the CPU, rows in parallel; per-row parameter gradients."""
    for row in numba.prange(x.shape[0]):
        r = numba.int64(row)
        ra, rk, rm = min(r, A.shape[0] - 1), min(r, k.shape[0] - 1), min(r, m.shape[0] - 1)
        rc = min(r, Ca.shape[0] - 1)
        _adjoint_row_cpu(
            gy[r], x[r], B, A[ra], k[rk], p[rk], m[rm], Ca[rc], Cs[rc], D[rc], a[r], v[r],
            la[r], lv[r], gx[r], gB[r], gA[r], gk[r], gp[r], gCa[r], gCs[r], gD[r],
        )  # fmt: skip


@cuda.jit
def _forward_kernel(x, B, A, k, p, m, Ca, Cs, D, y, a, v, block):
    r = cuda.grid(1)
    if r < x.shape[0]:
        ra, rk, rm = min(r, A.shape[0] - 1), min(r, k.shape[0] - 1), min(r, m.shape[0] - 1)
        rc = min(r, Ca.shape[0] - 1)
        _forward_row_cuda(
            x[r], B, A[ra], k[rk], p[rk], m[rm], Ca[rc], Cs[rc], D[rc], y[r], a[r], v[r], block
        )


@cuda.jit
def _adjoint_kernel(
    gy, x, B, A, k, p, m, Ca, Cs, D, a, v, la, lv, gx, gB, gA, gk, gp, gCa, gCs, gD
):
    r = cuda.grid(1)
    if r < x.shape[0]:
        ra, rk, rm = min(r, A.shape[0] - 1), min(r, k.shape[0] - 1), min(r, m.shape[0] - 1)
        rc = min(r, Ca.shape[0] - 1)
        _adjoint_row_cuda(
            gy[r], x[r], B, A[ra], k[rk], p[rk], m[rm], Ca[rc], Cs[rc], D[rc], a[r], v[r],
            la[r], lv[r], gx[r], gB[r], gA[r], gk[r], gp[r], gCa[r], gCs[r], gD[r],
        )  # fmt: skip


def network_cuda(*args, stream=0):
    """Delay network forward on a CUDA device, one thread per row (arguments as the CPU twin)."""
    from ._launch import launch_rows

    launch_rows(_forward_kernel, args[0].shape[0], stream, *args)


def network_adjoint_cuda(*args, stream=0):
    """Delay network adjoint on a CUDA device, one thread per row (arguments as the CPU twin)."""
    from ._launch import launch_rows

    launch_rows(_adjoint_kernel, args[1].shape[0], stream, *args)
