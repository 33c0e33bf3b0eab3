"""Blocked resampling equals one-pass resampling."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize("orig,new", [(48_000, 16_000), (44_100, 16_000), (22_050, 16_000)])
def test_blocked_resampling_equals_one_pass(orig, new):
    import torchaudio.functional as taf

    from ddsp.features._frames import resample

    x = torch.randn(2, 200_003)
    assert torch.equal(resample(x, orig, new, block=1 << 14), taf.resample(x, orig, new))
