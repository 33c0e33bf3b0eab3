"""The crop objective: target spectra computed once, sliced per crop, equal to computing
them on the crop."""

from __future__ import annotations

import torch

import ddsp
from ddsp.match.objective import SpectralObjective, _magnitude

from ._signals import SR, hits, run

TOL = 1e-5


def test_the_wet_file_scores_zero_on_every_crop():
    dry = hits(1.0, channels=2)
    wet = run(ddsp.Chain([ddsp.Gain(SR, gain_db=-3.0)]), dry)
    obj = SpectralObjective(dry, wet, crop=4096, context=1000)
    starts = obj.spread_starts(3)
    crops = torch.stack([obj.wet[:, s : s + obj.crop] for s in starts])
    assert float(obj.loss_of(crops, starts)) < TOL
    assert float(obj.loss(ddsp.Chain([ddsp.Gain(SR, gain_db=-3.0)]), starts)) < 1e-3


def test_sliced_target_frames_equal_frames_of_the_crop():
    dry = hits(1.0)
    obj = SpectralObjective(dry, dry.flip(-1), crop=4096, context=0)
    s = obj.spread_starts(2)[1]
    for n in obj.fft_sizes:
        mine = _magnitude(obj.wet[:, s : s + obj.crop], n)
        sliced = obj.target[n][0][..., s // (n // 4) : s // (n // 4) + mine.shape[-1]]
        assert (mine - sliced).abs().max() < TOL


def test_the_loss_reaches_every_parameter_through_the_crops():
    dry = hits(1.0)
    wet = run(ddsp.Chain([ddsp.Delay(SR, delay_ms=30.0)]), dry)
    chain = ddsp.Chain([ddsp.Delay(SR, delay_ms=30.0, feedback=0.1, mix=0.2)])
    obj = SpectralObjective(dry, wet, crop=4096, context=2000)
    obj.loss(chain, obj.random_starts(2, torch.Generator().manual_seed(0))).backward()
    grads = {n: p.grad for n, p in chain.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
