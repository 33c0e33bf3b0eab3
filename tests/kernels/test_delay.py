"""The delay-line kernel against its reference, with and without a ring of history."""

from __future__ import annotations

import torch

D = torch.float64


def test_delay_kernel_matches_the_reference_values_and_gradients():
    from ddsp.kernels.delay import delay_reference

    from ddsp.ops import DelayFunction

    for tv, n_h, head in ((False, 0, 0), (True, 0, 0), (False, 15, 4), (True, 12, 11)):
        x = torch.randn(2, 60, dtype=D)
        d = torch.rand(2, 60 if tv else 1, dtype=D) * 9 + 1.0
        fb = torch.rand(2, 60 if tv else 1, dtype=D) * 1.6 - 0.8
        ring = torch.randn(2, n_h, dtype=D)  # the line's history (a stream's state)
        leaves = [t.clone().requires_grad_() for t in (x, d, fb)]
        y = DelayFunction.apply(*leaves, ring, head)
        ref = [t.clone().requires_grad_() for t in (x, d, fb)]
        y_ref = delay_reference(*ref, ring, head)
        torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-12)
        g = torch.randn_like(y)
        y.backward(g)
        y_ref.backward(g)
        for a, b in zip(leaves, ref):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-10)
