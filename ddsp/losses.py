"""Spectral losses and the distance used in reports.

Audio in ``(time,)``, ``(batch, time)`` or ``(batch, channels, time)``; prediction and
target of the same shape. Magnitudes are ``sqrt(max(|X|^2, eps^2))`` and logs are taken
of ``magnitude + log_eps``, so silence gives finite values and finite gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._checks import check_signal

__all__ = [
    "DDSP_FFT_SIZES",
    "stft_magnitude",
    "MultiResolutionSTFTLoss",
    "MelSpectralLoss",
    "LoudnessLoss",
    "spectral_distance",
]

DDSP_FFT_SIZES = (2048, 1024, 512, 256, 128, 64)


def _pair(pred: object, target: object) -> tuple[torch.Tensor, torch.Tensor]:
    pred = check_signal(pred, "pred")
    target = check_signal(target, "target")
    if pred.shape != target.shape:
        raise ValueError(
            f"expected pred and target of the same shape, got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    if pred.ndim > 3:
        raise ValueError(f"expected audio with at most 3 dims, got shape {tuple(pred.shape)}")
    return pred.reshape(-1, pred.shape[-1]), target.reshape(-1, target.shape[-1])


def stft_magnitude(
    x: torch.Tensor, n_fft: int, overlap: float = 0.75, eps: float = 1e-7
) -> torch.Tensor:
    """``|STFT|`` with a Hann window, hop ``n_fft * (1 - overlap)``: ``(rows, bins, frames)``."""
    hop = max(1, int(n_fft * (1 - overlap)))
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)
    return torch.view_as_real(spec).square().sum(-1).clamp_min(eps * eps).sqrt()


class MultiResolutionSTFTLoss(nn.Module):
    """DDSP's multi-scale spectral loss: for each FFT size, the mean absolute difference of
    magnitudes (``linear_weight``) plus that of log magnitudes (``log_weight``), summed.

    Defaults follow DDSP: FFT sizes 2048 .. 64, 75% overlap, linear and log terms weighted
    1. Returns a scalar (mean over the batch).
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] = DDSP_FFT_SIZES,
        overlap: float = 0.75,
        linear_weight: float = 1.0,
        log_weight: float = 1.0,
        log_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if not fft_sizes or any(int(n) < 8 for n in fft_sizes):
            raise ValueError(f"expected FFT sizes of at least 8, got {fft_sizes!r}")
        if not 0 <= overlap < 1:
            raise ValueError(f"expected 0 <= overlap < 1, got {overlap}")
        self.fft_sizes = tuple(int(n) for n in fft_sizes)
        self.overlap, self.log_eps = overlap, log_eps
        self.linear_weight, self.log_weight = linear_weight, log_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = _pair(pred, target)
        total = pred.new_zeros(())
        for n in self.fft_sizes:
            p = stft_magnitude(pred, n, self.overlap)
            t = stft_magnitude(target, n, self.overlap)
            if self.linear_weight:
                total = total + self.linear_weight * (p - t).abs().mean()
            if self.log_weight:
                lp, lt = torch.log(p + self.log_eps), torch.log(t + self.log_eps)
                total = total + self.log_weight * (lp - lt).abs().mean()
        return total


class MelSpectralLoss(nn.Module):
    """Mean absolute difference of log mel spectrograms (``n_mels`` bands)."""

    def __init__(
        self,
        sample_rate: float,
        n_fft: int = 2048,
        n_mels: int = 128,
        overlap: float = 0.75,
        log_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        import torchaudio.functional as taf

        fb = taf.melscale_fbanks(n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, int(sample_rate))
        self.register_buffer("filterbank", fb)
        self.n_fft, self.overlap, self.log_eps = n_fft, overlap, log_eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = _pair(pred, target)
        fb = self.filterbank.to(pred.dtype)
        p = torch.einsum("rbt,bm->rmt", stft_magnitude(pred, self.n_fft, self.overlap), fb)
        t = torch.einsum("rbt,bm->rmt", stft_magnitude(target, self.n_fft, self.overlap), fb)
        return (torch.log(p + self.log_eps) - torch.log(t + self.log_eps)).abs().mean()


class LoudnessLoss(nn.Module):
    """Mean absolute difference of A-weighted loudness (dB, :func:`ddsp.features.loudness`)."""

    def __init__(self, sample_rate: float, frame_rate: float = 250.0) -> None:
        super().__init__()
        self.sample_rate, self.frame_rate = sample_rate, frame_rate

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        from .features import loudness

        pred, target = _pair(pred, target)
        lp = loudness(pred, self.sample_rate, self.frame_rate)
        lt = loudness(target, self.sample_rate, self.frame_rate)
        return (lp - lt).abs().mean()


@torch.no_grad()
def spectral_distance(
    pred: torch.Tensor,
    target: torch.Tensor,
    fft_sizes: Sequence[int] = DDSP_FFT_SIZES,
    log_eps: float = 1e-5,
) -> torch.Tensor:
    """Multi-resolution log-magnitude distance per item: the mean over FFT sizes of the mean
    absolute difference of ``log(|STFT| + log_eps)``. ``(rows,)``; 0 for identical audio."""
    pred, target = _pair(pred, target)
    out = []
    for n in fft_sizes:
        lp = torch.log(stft_magnitude(pred, n) + log_eps)
        lt = torch.log(stft_magnitude(target, n) + log_eps)
        out.append((lp - lt).abs().mean((-1, -2)))
    return torch.stack(out).mean(0)
