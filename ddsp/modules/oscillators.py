"""Source processors: the harmonic oscillator with DDSP's amplitude/distribution split."""

from __future__ import annotations

import torch

from .._checks import check_signal
from ..functional import harmonic
from .base import Processor

__all__ = ["Harmonic"]


class Harmonic(Processor):
    """Harmonic oscillator driven by f0, overall amplitude and a harmonic distribution.

    As in DDSP (Engel et al., 2020, section 3.2): harmonics at or above Nyquist (at each
    frame's f0) are removed, the distribution is renormalised to sum to one, and scaled by
    the overall amplitude; the fused kernel of :func:`ddsp.functional.harmonic` renders it.

    Args:
        sample_rate: Hz.
        n_harmonics: number of harmonics (1..256 is the tested range).

    Shape: ``f0_hz (batch, frames)``, ``amplitude (batch, frames)``,
    ``harmonic_distribution (batch, frames, n_harmonics)`` -> ``(batch, 1, n_samples)``.
    Devices: cpu, cuda. Gradients: all three controls.
    """

    def __init__(self, sample_rate: float, n_harmonics: int = 64) -> None:
        super().__init__(sample_rate)
        if not isinstance(n_harmonics, int) or n_harmonics < 1:
            raise ValueError(f"expected a positive int n_harmonics, got {n_harmonics!r}")
        self.n_harmonics = n_harmonics

    def forward(
        self,
        f0_hz: torch.Tensor,
        amplitude: torch.Tensor,
        harmonic_distribution: torch.Tensor,
        n_samples: int,
    ) -> torch.Tensor:
        amplitude = check_signal(amplitude, "amplitude", min_ndim=2)
        dist = check_signal(harmonic_distribution, "harmonic_distribution", min_ndim=3)
        if dist.shape[-1] != self.n_harmonics:
            raise ValueError(
                f"expected harmonic_distribution with {self.n_harmonics} harmonics, "
                f"got shape {tuple(dist.shape)}"
            )
        if amplitude.shape != dist.shape[:-1] or f0_hz.shape[:1] != dist.shape[:1]:
            raise ValueError(
                f"expected amplitude (batch, frames) matching harmonic_distribution "
                f"{tuple(dist.shape)} and f0_hz of the same batch, got amplitude "
                f"{tuple(amplitude.shape)} and f0_hz {tuple(f0_hz.shape)}"
            )
        # Remove harmonics above Nyquist at each frame's f0 before normalising (DDSP).
        f0_frames = f0_hz
        if f0_frames.shape[-1] != dist.shape[1]:
            f0_frames = torch.nn.functional.interpolate(
                f0_hz[:, None], size=dist.shape[1], mode="linear", align_corners=True
            )[:, 0]
        h = torch.arange(1, self.n_harmonics + 1, dtype=dist.dtype, device=dist.device)
        audible = (h * f0_frames[..., None] < self.sample_rate / 2).to(dist.dtype)
        dist = dist * audible
        dist = dist / dist.sum(-1, keepdim=True).clamp_min(1e-7)
        amps = amplitude[..., None] * dist
        y = harmonic(f0_hz, amps, sample_rate=self.sample_rate, n_samples=n_samples)
        return y[:, None, :]

    def options(self) -> dict[str, int]:
        return {"n_harmonics": self.n_harmonics}
