"""Fixtures shared by every test (helpers live in :mod:`tests.helpers`)."""

from __future__ import annotations

import os

import pytest
import torch

import ddsp

# The simulator suite runs in its own process (tests/kernels/test_cuda_twins.py starts it),
# since NUMBA_ENABLE_CUDASIM must be set before numba is imported.
collect_ignore = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["kernels/cudasim"]


@pytest.fixture(autouse=True)
def _seed_and_checks():
    """Fixed seed per test; value checks on for every device (the debug setting)."""
    torch.manual_seed(0)
    with ddsp.value_checks(True):
        yield
