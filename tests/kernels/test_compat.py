"""The numpy 2.5 / numba-cuda 0.30 compatibility step."""

from __future__ import annotations

import numpy as np
from ddsp.kernels import ensure_numpy_compat


def test_row_stack_alias_is_restored_when_numpy_dropped_it(monkeypatch):
    if hasattr(np, "row_stack"):
        monkeypatch.delattr(np, "row_stack")
    assert ensure_numpy_compat() is True
    assert getattr(np, "row_stack") is np.vstack  # noqa: B009
    assert ensure_numpy_compat() is False  # already there: left alone
