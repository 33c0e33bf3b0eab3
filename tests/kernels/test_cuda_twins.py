"""CUDA twins: under numba's simulator everywhere, and on a real GPU when there is one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent


@pytest.mark.slow
def test_cuda_twins_match_cpu_twins_under_the_cuda_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "cudasim")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=HERE.parents[1],
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout.splitlines()[-1]


def _has_cuda() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:
        return False


@pytest.mark.cuda
@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_ops_on_cuda_match_cpu_values_and_gradients(dtype, tol):
    from ddsp.functional import allpole, biquad, svf

    x = torch.randn(4, 2, 3000, dtype=dtype)
    a = torch.tensor([-1.2, 0.5], dtype=dtype)
    fc = torch.linspace(200, 6000, 3000, dtype=dtype).expand(4, 1, 3000).contiguous()

    def run(device):
        xs = x.to(device).requires_grad_()
        fcs = fc.to(device).requires_grad_()
        y = allpole(xs, a.to(device)) + biquad(xs, "peaking", fcs, 1.0, 4.0, sample_rate=16_000)
        y = y + svf(xs, fcs, 0.6, sample_rate=16_000)
        y.square().sum().backward()
        return y.detach().cpu(), xs.grad.cpu(), fcs.grad.cpu()

    for got, want in zip(run("cuda"), run("cpu")):
        scale = max(float(want.abs().max()), 1.0)
        assert float((got - want).abs().max()) / scale < tol
