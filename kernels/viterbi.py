"""Viterbi decoding of a pitch track over per-frame candidates.

Per row (R rows, F frames, K candidates): candidate ``k`` of frame ``f`` has a pitch
``q[f, k]`` (octaves, log2 Hz) and an observation log-probability ``obs[f, k]`` (-inf:
absent). A move between frames costs ``|q[f, j] - q[f-1, i]| / scale`` (a Laplacian prior
on pitch jumps, in octaves), so the decoded path prefers continuity over isolated
octave jumps:
    # delta[f, j] = obs[f, j] + max_i (delta[f-1, i] - |q[f, j] - q[f-1, i]| / scale)
    #             (R,F,K),(R,F,K),scale -> path (R,F) int64 (the chosen candidate)
A frame without any candidate (all -inf) scores 0 everywhere and takes the previous
frame's pitches, so the track passes through it unchanged. Scratch ``delta (R, 2, K)``
and backpointers ``back (R, F, K)``. No gradient: decoding is discrete.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import cuda

__all__ = ["viterbi_reference", "viterbi_cpu", "viterbi_cuda"]


def viterbi_reference(obs: np.ndarray, q: np.ndarray, scale: float) -> np.ndarray:
    """Slow, obvious version in numpy: the best path per row, ``(R, F)`` int64.

    ``q`` is updated in place like the kernels do (pass-through frames).
    """
    n_r, n_f, n_k = obs.shape
    path = np.zeros((n_r, n_f), dtype=np.int64)
    for r in range(n_r):
        back = np.zeros((n_f, n_k), dtype=np.int64)
        delta = np.zeros(n_k)
        for f in range(n_f):
            o = obs[r, f]
            if not np.isfinite(o).any():
                o = np.zeros(n_k)
                if f > 0:
                    q[r, f] = q[r, f - 1]
            if f == 0:
                delta, back[0] = o.copy(), np.arange(n_k)
                continue
            trans = delta[None, :] - np.abs(q[r, f][:, None] - q[r, f - 1][None, :]) / scale
            back[f] = np.argmax(trans, axis=1)
            delta = o + trans[np.arange(n_k), back[f]]
        if n_f:
            k = int(np.argmax(delta))
            for f in range(n_f - 1, -1, -1):
                path[r, f] = k
                k = back[f, k]
    return path


def _row(obs, q, scale, delta, back, path):
    n_f, n_k = obs.shape
    cur = 0
    for f in range(n_f):
        any_obs = False
        for k in range(n_k):
            if obs[f, k] > -math.inf:
                any_obs = True
        if not any_obs and f > 0:  # pass through: the previous frame's pitches
            for k in range(n_k):
                q[f, k] = q[f - 1, k]
        if f == 0:
            for k in range(n_k):
                delta[cur, k] = obs[0, k] if any_obs else 0.0
                back[0, k] = k
            continue
        nxt = 1 - cur
        for j in range(n_k):
            best = -math.inf
            arg = 0
            for i in range(n_k):
                v = delta[cur, i] - abs(q[f, j] - q[f - 1, i]) / scale
                if v > best:
                    best = v
                    arg = i
            delta[nxt, j] = (obs[f, j] if any_obs else 0.0) + best
            back[f, j] = arg
        cur = nxt
    if n_f == 0:
        return
    k_best = 0
    for k in range(1, n_k):
        if delta[cur, k] > delta[cur, k_best]:
            k_best = k
    for f in range(n_f - 1, -1, -1):
        path[f] = k_best
        k_best = back[f, k_best]


_row_cpu = numba.njit(cache=True)(_row)
_row_cuda = cuda.jit(device=True)(_row)


@numba.njit(parallel=True, cache=True)
def viterbi_cpu(obs, q, scale, delta, back, path):
    """Viterbi on the CPU, rows in parallel (module doc). ``q`` is updated in place."""
    for r in numba.prange(obs.shape[0]):
        _row_cpu(obs[r], q[r], scale, delta[r], back[r], path[r])


@cuda.jit
def _kernel(obs, q, scale, delta, back, path):
    r = cuda.grid(1)
    if r < obs.shape[0]:
        _row_cuda(obs[r], q[r], scale, delta[r], back[r], path[r])


def viterbi_cuda(obs, q, scale, delta, back, path, stream=0):
    """Viterbi on a CUDA device, one thread per row."""
    from ._launch import launch_rows

    launch_rows(_kernel, obs.shape[0], stream, obs, q, scale, delta, back, path)
