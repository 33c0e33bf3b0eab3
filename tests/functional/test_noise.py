"""White and filtered noise: seeded, shaped by its magnitudes, differentiable."""

from __future__ import annotations

import torch

from ddsp.functional import (
    filtered_noise,
    white_noise,
)

D = torch.float64


def test_white_noise_is_seeded_uniform_and_zero_mean():
    a = white_noise((2, 48_000), seed=7)
    assert torch.equal(a, white_noise((2, 48_000), seed=7))
    assert not torch.equal(a, white_noise((2, 48_000), seed=8))
    assert float(a.min()) >= -1 and float(a.max()) < 1 and abs(float(a.mean())) < 0.01


def test_filtered_noise_gradients_reach_the_magnitudes():
    mags = torch.rand(2, 8, 33, dtype=D, requires_grad=True)
    filtered_noise(mags, 2000, seed=1).square().sum().backward()
    assert torch.isfinite(mags.grad).all() and mags.grad.abs().sum() > 0
