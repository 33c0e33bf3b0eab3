"""Multiply-accumulate of a frequency-domain delay line: the tail of a partitioned convolution.

Per row (R rows, M partitions, F frequency bins), with the window spectra in a ring and
the impulse response's partition spectra stored backwards and twice (see
``ddsp.functional.reverb.ir_partitions``):
    # out[r, f] = sum_k ring[r, k, f] * spectra[start + k, f]     (R,M,F),(2M,F) -> (R,F)
complex64 or complex128. Forward only, for streams without gradients; with gradients
the same sum runs as torch ops (``ddsp.functional.reverb._tail``), differentiable in the
impulse response.
"""

from __future__ import annotations

import numba
import torch
from numba import cuda

__all__ = ["spectral_mac_reference", "spectral_mac_cpu", "spectral_mac_cuda"]


def spectral_mac_reference(ring: torch.Tensor, spectra: torch.Tensor, start: int) -> torch.Tensor:
    """Slow, obvious version in torch."""
    m = ring.shape[1]
    return sum(ring[:, k, :] * spectra[start + k] for k in range(m))


@numba.njit(cache=True)
def spectral_mac_cpu(ring, spectra, start, out):
    """The sum on the CPU, row by row; the inner loop over bins vectorises."""
    n_r, n_m, n_f = ring.shape
    for r in range(n_r):
        for f in range(n_f):
            out[r, f] = 0
        for k in range(n_m):
            h = spectra[start + k]
            w = ring[r, k]
            for f in range(n_f):
                out[r, f] += w[f] * h[f]


@cuda.jit
def _kernel(ring, spectra, start, out):
    r, f = cuda.grid(2)
    if r < ring.shape[0] and f < ring.shape[2]:
        acc = 0j
        for k in range(ring.shape[1]):
            acc += ring[r, k, f] * spectra[start + k, f]
        out[r, f] = acc


def spectral_mac_cuda(ring, spectra, start, out, stream=0):
    """The sum on a CUDA device, one thread per (row, bin)."""
    threads = (1, 128)
    blocks = (ring.shape[0], (ring.shape[2] + 127) // 128)
    _kernel[blocks, threads, stream](ring, spectra, start, out)
