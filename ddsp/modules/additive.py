"""Source processors: the harmonic oscillator with DDSP's amplitude/distribution split."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from .._checks import check_signal
from ..functional import harmonic
from ..params import ParamSpec
from ._options import whole_option
from .base import Processor

__all__ = ["Harmonic"]


class Harmonic(Processor):
    """Harmonic oscillator driven by f0, overall amplitude and a harmonic distribution.

    As in DDSP (Engel et al., 2020, section 3.2): harmonics at or above Nyquist (at each
    frame's f0) are removed, the distribution is renormalised to sum to one, and scaled by
    the overall amplitude; the fused kernel of :func:`ddsp.functional.harmonic` renders it.
    Without a distribution, a spectral tilt (``tilt_db_per_octave``) sets it; without an
    amplitude, ``gain_db`` does (a playable voice with no network attached).

    Args:
        sample_rate: Hz.
        n_harmonics: number of harmonics (1..256 is the tested range).
        amplitude_interpolation: frame-to-sample upsampling of the amplitudes,
            ``"window"`` (smooth, default, as DDSP) or ``"linear"``.

    Shape: ``f0_hz (batch, frames)``, ``amplitude (batch, frames)``,
    ``harmonic_distribution (batch, frames, n_harmonics)`` -> ``(batch, 1, n_samples)``.
    Devices: cpu, cuda. Gradients: the controls given, else tilt and gain.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("gain_db", "dB", -60.0, 12.0, -6.0, description="amplitude without a control"),
        ParamSpec(
            "tilt_db_per_octave",
            "dB",
            -24.0,
            6.0,
            -6.0,
            description="spectral slope without a distribution",
        ),
    )

    def __init__(
        self,
        sample_rate: float,
        n_harmonics: int = 64,
        amplitude_interpolation: str = "window",
        **values: float,
    ) -> None:
        super().__init__(sample_rate, **values)
        n_harmonics = whole_option("Harmonic", "n_harmonics", n_harmonics, 1, 4096)
        if amplitude_interpolation not in ("linear", "window"):
            raise ValueError(
                "expected amplitude_interpolation 'linear' or 'window', "
                f"got {amplitude_interpolation!r}"
            )
        self.n_harmonics = n_harmonics
        self.amplitude_interpolation = amplitude_interpolation

    def forward(
        self,
        f0_hz: torch.Tensor,
        amplitude: torch.Tensor | None = None,
        harmonic_distribution: torch.Tensor | None = None,
        n_samples: int = 0,
        **controls: Any,
    ) -> torch.Tensor:
        f0_hz = check_signal(f0_hz, "f0_hz", min_ndim=2)
        c = self.controls(**controls)
        batch, n_frames = f0_hz.shape[0], f0_hz.shape[-1]
        h = torch.arange(1, self.n_harmonics + 1, dtype=f0_hz.dtype, device=f0_hz.device)
        if harmonic_distribution is None:
            tilt = c["tilt_db_per_octave"]
            tilt = tilt.reshape(-1, 1, 1) if isinstance(tilt, torch.Tensor) else tilt
            dist = (10.0 ** (tilt * torch.log2(h) / 20.0)).expand(batch, n_frames, self.n_harmonics)
        else:
            dist = check_signal(harmonic_distribution, "harmonic_distribution", min_ndim=3)
        if amplitude is None:
            gain = c["gain_db"]
            gain = gain.reshape(-1, 1) if isinstance(gain, torch.Tensor) else gain
            amplitude = 10.0 ** (gain / 20.0) * torch.ones_like(dist[..., 0])
        amplitude = check_signal(amplitude, "amplitude", min_ndim=2)
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
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"expected a positive int n_samples, got {n_samples!r}")
        # Remove harmonics above Nyquist at each frame's f0 before normalising (DDSP).
        f0_frames = f0_hz
        if f0_frames.shape[-1] != dist.shape[1]:
            f0_frames = torch.nn.functional.interpolate(
                f0_hz[:, None], size=dist.shape[1], mode="linear", align_corners=True
            )[:, 0]
        audible = (h * f0_frames[..., None] < self.sample_rate / 2).to(dist.dtype)
        dist = dist * audible
        dist = dist / dist.sum(-1, keepdim=True).clamp_min(1e-7)
        amps = amplitude[..., None] * dist
        y = harmonic(
            f0_hz,
            amps,
            sample_rate=self.sample_rate,
            n_samples=n_samples,
            amplitude_interpolation=self.amplitude_interpolation,
        )
        return y[:, None, :]

    def options(self) -> dict[str, Any]:
        return {
            "n_harmonics": self.n_harmonics,
            "amplitude_interpolation": self.amplitude_interpolation,
        }
