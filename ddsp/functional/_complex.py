"""Complex products on spectra stored as real pairs (``torch.view_as_real``).

Compilers (Inductor, AOTInductor) generate no code for complex operators: each runs as a
fallback call of its own. In real arithmetic the same products fuse into one loop; the
result goes back to a complex view only for the inverse FFT.
"""

import torch
from torch import Tensor

__all__ = ["complex_product", "complex_dot"]


def complex_product(a: Tensor, b: Tensor, conjugate: bool = False) -> Tensor:
    """``a * b`` (or ``a * conj(b)``) of real-pair tensors ``(..., 2)``, broadcast, as a
    complex tensor."""
    ar, ai, br, bi = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    if conjugate:
        return torch.view_as_complex(torch.stack([ar * br + ai * bi, ai * br - ar * bi], -1))
    return torch.view_as_complex(torch.stack([ar * br - ai * bi, ar * bi + ai * br], -1))


def complex_dot(a: Tensor, b: Tensor) -> Tensor:
    """``sum_k a[:, k] * b[k]`` of real pairs, ``a (rows, K, F, 2)``, ``b (K, F, 2)`` ->
    complex ``(rows, F)`` (the real and imaginary parts summed before they are joined)."""
    ar, ai, br, bi = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    re = (ar * br - ai * bi).sum(1)
    im = (ar * bi + ai * br).sum(1)
    return torch.view_as_complex(torch.stack([re, im], -1))
