"""Random but stable filter settings shared by the tests."""

from __future__ import annotations

import torch


def stable_poles(
    n: int, n_t: int, order: int, radius: float = 0.9, dtype=torch.float64
) -> torch.Tensor:
    """All-pole coefficients ``(n, n_t, order)`` with real roots in (-radius, radius)."""
    roots = (torch.rand(n, n_t, order, dtype=torch.float64) * 2 - 1) * radius
    poly = torch.ones(n, n_t, 1, dtype=torch.float64)
    for k in range(order):
        r = roots[..., k : k + 1]
        shifted = torch.cat([torch.zeros_like(r), poly], -1)
        poly = torch.cat([poly, torch.zeros_like(r)], -1) - r * shifted
    return poly[..., 1:].to(dtype)


def kernel_inputs(n: int, n_t: int, n_b: int, order: int, tv_b: bool, tv_a: bool):
    """float64 inputs in the kernels' row layout: x, b, a, zx, zy."""
    radius = 0.9 if order <= 2 else 0.5
    x = torch.randn(n, n_t, dtype=torch.float64)
    b = torch.randn(n, n_t if tv_b else 1, n_b, dtype=torch.float64)
    a = stable_poles(n, n_t if tv_a else 1, order, radius)
    zx = torch.randn(n, n_b - 1, dtype=torch.float64)
    zy = torch.randn(n, order, dtype=torch.float64)
    return x, b, a, zx, zy
