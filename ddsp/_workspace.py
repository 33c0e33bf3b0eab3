"""Reusable CPU buffers for the kernels' large per-call state.

A fresh CPU tensor of tens of MB is mapped page by page on first touch; on this kind of
machine that costs more than the kernel that fills it (measured: an FDN forward with its
8 x 6 x 192 000 state took 14 ms in reused buffers, 96 ms in fresh ones). glibc hands
such sizes straight back to the OS on free, so every call pays again. The workspace keeps
large buffers and hands out *aliases* of them; a buffer is reused only when no tensor but
the workspace's own references its storage (autograd's saved tensors included), so reuse
can never overwrite live data. CUDA tensors go to torch's caching allocator as usual.
"""

from __future__ import annotations

import threading

import torch

__all__ = ["empty", "clear"]

MIN_BYTES = 1 << 20  # smaller buffers come from malloc's heap cheaply
MAX_BYTES = 512 << 20  # most memory the workspace keeps

_lock = threading.Lock()
_buffers: list[torch.Tensor] = []
_use_count = getattr(torch._C, "_storage_Use_Count", None)


def _free(buf: torch.Tensor) -> bool:
    # the count includes ``buf`` itself and the temporary storage object made to ask
    return _use_count is not None and _use_count(buf.untyped_storage()._cdata) <= 2


def empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialised tensor, from a kept buffer when a free one of this size exists."""
    device = torch.device(device)
    n = 1
    for s in shape:
        n *= s
    nbytes = n * torch.empty((), dtype=dtype).element_size()
    if device.type != "cpu" or nbytes < MIN_BYTES or _use_count is None:
        return torch.empty(shape, dtype=dtype, device=device)
    with _lock:
        for buf in _buffers:
            if buf.dtype == dtype and buf.numel() == n and _free(buf):
                return buf.view(shape)
        kept = sum(b.numel() * b.element_size() for b in _buffers)
        for buf in [b for b in _buffers if _free(b)]:  # make room: drop unused buffers
            if kept + nbytes <= MAX_BYTES:
                break
            _buffers.remove(buf)
            kept -= buf.numel() * buf.element_size()
        if kept + nbytes > MAX_BYTES:
            return torch.empty(shape, dtype=dtype, device=device)
        buf = torch.empty(n, dtype=dtype)
        _buffers.append(buf)
        return buf.view(shape)


def clear() -> None:
    """Drop every kept buffer (those still in use live on with their users)."""
    with _lock:
        _buffers.clear()
