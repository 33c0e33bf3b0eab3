"""The CPU workspace reuses a buffer only when nothing else holds its storage."""

from __future__ import annotations

import torch

import ddsp
from ddsp import _workspace as workspace
from ddsp.functional import fdn_reverb, orthogonal

SHAPE = (4, 1 << 17)  # 2 MiB in float32: above the pooling threshold


def test_a_buffer_in_use_is_never_handed_out_again():
    workspace.clear()
    a = workspace.empty(SHAPE, torch.float32, "cpu")
    b = workspace.empty(SHAPE, torch.float32, "cpu")
    assert a.data_ptr() != b.data_ptr()
    ptr = a.data_ptr()
    del a
    c = workspace.empty(SHAPE, torch.float32, "cpu")
    assert c.data_ptr() == ptr  # freed, then reused
    view = c[1:]
    del c
    d = workspace.empty(SHAPE, torch.float32, "cpu")
    assert d.data_ptr() not in (ptr, b.data_ptr())  # a view still holds c's storage
    del view


def test_small_and_cuda_requests_bypass_the_pool():
    workspace.clear()
    small = workspace.empty((10,), torch.float32, "cpu")
    assert small.numel() == 10 and not workspace._buffers


def test_saved_state_survives_later_calls_and_retain_graph():
    """Two graphs alive at once, one backpropagated twice: gradients equal fresh ones."""
    workspace.clear()
    sr, delays = 8000, [101, 211, 307, 401]
    w = torch.randn(4, 4, requires_grad=True)
    x1 = torch.randn(2, 1, 40_000)
    x2 = torch.randn(2, 1, 40_000)

    def run(x):
        return fdn_reverb(x, sample_rate=sr, delays=delays, feedback_matrix=orthogonal(w), mix=1.0)

    y1, y2 = run(x1), run(x2)  # y2's forward must not overwrite y1's saved state
    (g1,) = torch.autograd.grad(y1.square().sum(), w, retain_graph=True)
    (g1_again,) = torch.autograd.grad(y1.square().sum(), w)
    (g2,) = torch.autograd.grad(y2.square().sum(), w)
    with ddsp.value_checks(True):
        workspace.clear()
        (want1,) = torch.autograd.grad(run(x1).square().sum(), w)
        workspace.clear()
        (want2,) = torch.autograd.grad(run(x2).square().sum(), w)
    assert torch.equal(g1, want1) and torch.equal(g1_again, want1) and torch.equal(g2, want2)
