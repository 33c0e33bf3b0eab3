"""Shared fixtures and tolerances. Tolerances are named so a test states what it allows."""

from __future__ import annotations

import os

import pytest
import torch

import ddsp

# The simulator suite runs in its own process (tests/test_cuda_twins.py starts it), since
# NUMBA_ENABLE_CUDASIM must be set before numba is imported.
collect_ignore = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["cudasim"]

F64_TOL = 1e-10  # twins vs reference in float64
F32_TOL = 1e-4  # twins vs reference in float32, relative to the signal's scale


@pytest.fixture(autouse=True)
def _seed_and_checks():
    """Fixed seed per test; value checks on for every device (the debug setting)."""
    torch.manual_seed(0)
    with ddsp.value_checks(True):
        yield


def max_rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest absolute error relative to the largest magnitude of ``want`` (or 1)."""
    if want.numel() == 0:
        return 0.0
    scale = max(float(want.abs().max()), 1.0)
    return float((got.double() - want.double()).abs().max()) / scale
