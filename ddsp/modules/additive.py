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


def _held(value: Any) -> Any:
    """A control for a whole block or frame: a streamed ramp ``(batch, 1, n)`` takes its
    last value."""
    return value[..., -1] if isinstance(value, torch.Tensor) and value.ndim == 3 else value


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
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"expected a positive int n_samples, got {n_samples!r}")
        amps = self._amplitudes(f0_hz, amplitude, harmonic_distribution, self.controls(**controls))
        y = harmonic(
            f0_hz,
            amps,
            sample_rate=self.sample_rate,
            n_samples=n_samples,
            amplitude_interpolation=self.amplitude_interpolation,
        )
        return y[:, None, :]

    def _amplitudes(
        self,
        f0_hz: torch.Tensor,
        amplitude: torch.Tensor | None,
        harmonic_distribution: torch.Tensor | None,
        c: dict[str, Any],
    ) -> torch.Tensor:
        """Per-harmonic amplitudes ``(batch, frames, n_harmonics)`` from the controls."""
        batch, n_frames = f0_hz.shape[0], f0_hz.shape[-1]
        h = torch.arange(1, self.n_harmonics + 1, dtype=f0_hz.dtype, device=f0_hz.device)
        if harmonic_distribution is None:
            tilt = _held(c["tilt_db_per_octave"])
            tilt = tilt.reshape(-1, 1, 1) if isinstance(tilt, torch.Tensor) else tilt
            dist = (10.0 ** (tilt * torch.log2(h) / 20.0)).expand(batch, n_frames, self.n_harmonics)
        else:
            dist = check_signal(harmonic_distribution, "harmonic_distribution", min_ndim=3)
        if amplitude is None:
            gain = _held(c["gain_db"])
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
        # Remove harmonics above Nyquist at each frame's f0 before normalising (DDSP).
        f0_frames = f0_hz
        if f0_frames.shape[-1] != dist.shape[1]:
            f0_frames = torch.nn.functional.interpolate(
                f0_hz[:, None], size=dist.shape[1], mode="linear", align_corners=True
            )[:, 0]
        audible = (h * f0_frames[..., None] < self.sample_rate / 2).to(dist.dtype)
        dist = dist * audible
        dist = dist / dist.sum(-1, keepdim=True).clamp_min(1e-7)
        return amplitude[..., None] * dist

    # ------------------------------------------------------------------ streaming
    # Inputs per block: f0_hz, and optionally amplitude and harmonic_distribution (else
    # the gain and tilt parameters). Without a frame_size they are per sample (batch, n)
    # or per block (batch, 1): no latency. With frame_size = hop they are frames, one per
    # hop starting in the block (as offline frames spread over (frames - 1) hop + 1
    # samples); a sample between frames needs the next one, so the stream lags by one hop.

    is_source = True
    stream_inputs = ("f0_hz", "amplitude", "harmonic_distribution")
    per_sample_inputs = ("f0_hz", "amplitude", "harmonic_distribution")
    frame_inputs = ("f0_hz", "amplitude", "harmonic_distribution")

    def stream_latency(self, frame_size: int | None = None) -> int:
        return int(frame_size or 0)

    def stream_state(
        self, batch: int, channels: int, *, dtype, device, frame_size=None, **_: Any
    ) -> dict:
        state: dict[str, Any] = {
            "phase": torch.zeros(batch, dtype=torch.float64, device=device),
            "position": 0,
            "frame_size": frame_size,
        }
        if frame_size is not None:  # the last two frames received, to interpolate from
            state["f0"] = torch.zeros(batch, 2, dtype=dtype, device=device)
            state["amps"] = torch.zeros(batch, 2, self.n_harmonics, dtype=dtype, device=device)
        return state

    def stream_step(self, x, state, controls, inputs, n):  # type: ignore[override]
        f0 = inputs.get("f0_hz")
        if not isinstance(f0, torch.Tensor):
            raise ValueError("expected the input f0_hz as a tensor")
        f0 = check_signal(f0[:, None] if f0.ndim == 1 else f0, "f0_hz", min_ndim=2)
        amplitude = inputs.get("amplitude")
        if isinstance(amplitude, torch.Tensor) and amplitude.ndim == 1:
            amplitude = amplitude[:, None]
        dist = inputs.get("harmonic_distribution")
        if isinstance(dist, torch.Tensor) and dist.ndim == 2:
            dist = dist[:, None, :]
        hop = state["frame_size"]
        if hop is None:
            if f0.shape[-1] not in (1, n):
                raise ValueError(f"expected f0_hz of shape (batch, {n}) or (batch,)")
            amps = self._amplitudes(f0, amplitude, dist, controls)
            if n == 0:
                return amps.new_zeros(f0.shape[0], 1, 0), state
            y, phase = harmonic(
                f0,
                amps,
                sample_rate=self.sample_rate,
                n_samples=n,
                initial_phase=state["phase"],
                return_phase=True,
                amplitude_interpolation=self.amplitude_interpolation,
            )
            return y[:, None], {**state, "phase": phase.detach(), "position": state["position"] + n}
        return self._frames_step(f0, amplitude, dist, controls, state, n, hop)

    def _frames_step(self, f0, amplitude, dist, controls, state, n, hop) -> tuple:
        from ..functional.noise import frames_starting

        start = state["position"]
        k = frames_starting(start, n, hop)
        if f0.shape[-1] != k:
            raise ValueError(
                f"expected f0_hz frames for the {k} frame(s) of {hop} samples starting in "
                f"samples [{start}, {start + n}), got {f0.shape[-1]}"
            )
        amps = self._amplitudes(f0, amplitude, dist, controls) if k else state["amps"][:, :0]
        first = -(-start // hop)  # index of the first frame starting in this block
        frames_f0 = torch.cat([state["f0"], f0], -1)  # frames first - 2 .. first + k - 1
        frames_amps = torch.cat([state["amps"], amps], 1)
        # offline samples u = start - hop .. start + n - 1 - hop leave the stream now
        u = torch.arange(start - hop, start + n - hop, device=f0.device)
        valid = u >= 0
        uu = u[valid]
        index = torch.div(uu, hop, rounding_mode="floor")
        frac = (uu - index * hop).to(torch.float64) / hop
        rel = index - (first - 2)  # position in the frames buffer
        f0_u = frames_f0[:, rel] + frac.to(f0.dtype) * (frames_f0[:, rel + 1] - frames_f0[:, rel])
        w = (
            frac
            if self.amplitude_interpolation == "linear"
            else 0.5 - 0.5 * torch.cos(torch.pi * frac)
        )
        w = w.to(amps.dtype)[None, :, None]
        a0, a1 = frames_amps[:, rel], frames_amps[:, rel + 1]
        amps_u = a0 + w * (a1 - a0)
        y = f0.new_zeros(f0.shape[0], n)
        phase = state["phase"]
        if uu.numel():
            out, phase = harmonic(
                f0_u,
                amps_u,
                sample_rate=self.sample_rate,
                n_samples=int(uu.numel()),
                initial_phase=phase,
                return_phase=True,
                amplitude_interpolation="linear",
            )
            y = torch.cat([y[:, : n - uu.numel()], out], -1)
        keep = {"f0": frames_f0[:, -2:].detach(), "amps": frames_amps[:, -2:].detach()}
        new = {**state, **keep, "phase": phase.detach(), "position": start + n}
        return y[:, None], new

    def options(self) -> dict[str, Any]:
        return {
            "n_harmonics": self.n_harmonics,
            "amplitude_interpolation": self.amplitude_interpolation,
        }
