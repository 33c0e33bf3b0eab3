"""Framing shared by the feature extractors: frame ``i`` is centred on time
``i / frame_rate`` (the signal zero-padded around), ``ceil(T frame_rate / sample_rate)``
frames in all, produced in chunks so that hours of audio take bounded memory."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from .._checks import check_signal
from ..functional.resample import resample  # noqa: F401  (re-exported for the trackers)

__all__ = ["as_mono_batch", "n_frames", "frame_chunks", "resample"]

CHUNK_SAMPLES = 1 << 21  # framed samples per chunk per row (8 MB in float32)


def as_mono_batch(x: object, name: str = "x") -> torch.Tensor:
    """``(T,)``, ``(batch, T)`` or ``(batch, channels, T)`` -> ``(batch, T)``.

    Channels are averaged (a downmix): features describe the source, not its placement.
    """
    x = check_signal(x, name)
    if x.ndim == 1:
        return x[None]
    if x.ndim == 2:
        return x
    if x.ndim == 3:
        return x.mean(1)
    raise ValueError(
        f"expected {name} of shape (time,), (batch, time) or (batch, channels, time), "
        f"got shape {tuple(x.shape)}"
    )


def n_frames(n_samples: int, sample_rate: float, frame_rate: float) -> int:
    """Frames covering ``n_samples``: ``ceil(n_samples * frame_rate / sample_rate)``, >= 1."""
    return max(1, math.ceil(n_samples * frame_rate / sample_rate - 1e-9))


def frame_chunks(
    x: torch.Tensor,
    sample_rate: float,
    frame_rate: float,
    length: int,
    total: int,
    lead: int | None = None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(first_frame, frames (batch, chunk, length))`` for ``total`` frames of
    ``length`` samples; frame ``i`` starts ``lead`` samples (default ``length // 2``: the
    frame is centred) before sample ``round(i * sample_rate / frame_rate)``."""
    half = length // 2 if lead is None else lead
    hop = sample_rate / frame_rate
    padded = torch.nn.functional.pad(x, (half, length))  # zeros around the signal
    offsets = torch.arange(length, device=x.device)
    chunk = max(16, CHUNK_SAMPLES // length)
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        centres = torch.round(torch.arange(start, stop, dtype=torch.float64) * hop).long()
        index = centres.to(x.device)[:, None] + offsets  # (chunk, length) in padded coords
        yield start, padded[:, index]
