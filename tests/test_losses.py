"""Spectral losses: zero at equality, finite gradients on silence, sensible orderings."""

from __future__ import annotations

import math

import pytest
import torch

from ddsp.losses import (
    LoudnessLoss,
    MelSpectralLoss,
    MultiResolutionSTFTLoss,
    spectral_distance,
    stft_magnitude,
)

SR = 16_000


def _tone(freq, n=8000, amp=0.5):
    return amp * torch.sin(2 * math.pi * freq * torch.arange(n) / SR)


@pytest.mark.parametrize(
    "loss", [MultiResolutionSTFTLoss(), MelSpectralLoss(SR), LoudnessLoss(SR)], ids=type
)
def test_losses_vanish_at_equality_and_have_finite_gradients_on_silence(loss):
    x = torch.randn(2, 8000)
    assert float(loss(x, x)) == 0.0
    zeros = torch.zeros(2, 8000, requires_grad=True)
    value = loss(zeros, torch.zeros(2, 8000))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(zeros.grad).all()
    # from near-silence (exact zero is a saddle of any magnitude), gradients lead somewhere
    pred = (1e-4 * torch.randn(2, 8000)).requires_grad_()
    loss(pred, x).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_multires_loss_uses_ddsp_scales_and_orders_by_spectral_closeness():
    loss = MultiResolutionSTFTLoss()
    assert loss.fft_sizes == (2048, 1024, 512, 256, 128, 64) and loss.overlap == 0.75
    target = _tone(440.0)
    near, far = _tone(445.0), _tone(1500.0)
    assert loss(near, target) < loss(far, target)
    assert spectral_distance(near, target) < spectral_distance(far, target)
    assert spectral_distance(target, target).item() == 0.0


def test_stft_magnitude_of_a_sine_peaks_at_its_bin():
    mag = stft_magnitude(_tone(1000.0)[None], 512)
    assert int(mag[0, :, 4].argmax()) == round(1000 * 512 / SR)


def test_shape_mismatches_are_rejected_clearly():
    with pytest.raises(ValueError, match="same shape"):
        MultiResolutionSTFTLoss()(torch.zeros(1, 100), torch.zeros(1, 101))
    with pytest.raises(ValueError, match="at least 8"):
        MultiResolutionSTFTLoss(fft_sizes=(4,))
