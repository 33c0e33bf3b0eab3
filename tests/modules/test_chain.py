"""Chain: list-like, one sample rate."""

from __future__ import annotations

import pytest
import torch

import ddsp
from ddsp import Biquad, Chain

SR = 16_000


def test_chain_is_list_like_and_rejects_mixed_sample_rates():
    c = Chain([Biquad(SR), ddsp.SVF(SR)])
    assert len(c) == 2 and isinstance(c[1], ddsp.SVF) and [type(p) for p in c] == [Biquad, ddsp.SVF]
    x = torch.randn(1, 2, 300)
    torch.testing.assert_close(c(x), c[1](c[0](x)))
    with pytest.raises(ValueError, match="sample_rate 16000"):
        c.append(Biquad(48_000))
    with pytest.raises(TypeError, match="Processor"):
        c.append(torch.nn.Identity())
