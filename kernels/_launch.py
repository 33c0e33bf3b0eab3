"""Tensor -> array views, device and stream selection, grid sizes. No maths here.

CPU tensors reach numba through ``Tensor.numpy()`` (zero copy); CUDA tensors through
``numba.cuda.as_cuda_array`` (``__cuda_array_interface__``, zero copy), and kernels are
launched on torch's current stream of the tensor's device so they order correctly with
torch's own work on that stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["dispatch", "launch_rows", "THREADS_PER_BLOCK"]

THREADS_PER_BLOCK = 128


def launch_rows(kernel: Any, n_rows: int, stream: Any, *args: Any) -> None:
    """Launch a one-thread-per-row CUDA kernel over ``n_rows`` rows."""
    if n_rows == 0:
        return
    blocks = (n_rows + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    kernel[blocks, THREADS_PER_BLOCK, stream](*args)


def dispatch(cpu_twin: Callable[..., Any], cuda_twin: Callable[..., Any], *tensors: Any) -> None:
    """Run ``cpu_twin`` or ``cuda_twin`` on array views of ``tensors``.

    Tensors must all live on one device; non-tensor arguments pass through unchanged. The
    CUDA twin receives ``stream=`` torch's current stream of that device.
    """
    first = next(t for t in tensors if isinstance(t, torch.Tensor))
    if first.device.type == "cpu":
        cpu_twin(*(_numpy(t) for t in tensors))
        return
    if first.device.type != "cuda":
        raise ValueError(f"expected a cpu or cuda tensor, got device {first.device}")
    from numba import cuda

    index = first.device.index if first.device.index is not None else torch.cuda.current_device()
    with cuda.gpus[index]:
        stream = cuda.external_stream(torch.cuda.current_stream(first.device).cuda_stream)
        views = (
            cuda.as_cuda_array(t.detach()) if isinstance(t, torch.Tensor) else t for t in tensors
        )
        cuda_twin(*views, stream=stream)


def _numpy(t: Any) -> Any:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t
