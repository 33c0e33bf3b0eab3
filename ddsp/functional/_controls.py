"""Control signals: Python floats, per-item tensors, or per-frame / per-sample tensors.

For a signal ``x`` of shape ``(..., T)`` a control is one of:

* a Python number: the same value everywhere;
* a tensor with fewer dimensions than ``x``: one value per item, broadcast against the
  batch dimensions ``x.shape[:-1]`` with torch's (right-aligned) rules — for
  ``x (batch, channels, T)`` a per-item control is ``(batch, 1)``;
* a tensor with as many dimensions as ``x``: time-varying, last axis ``n_frames``. With
  ``n_frames == T`` it is per sample; otherwise the frames are spread evenly from the
  first to the last sample and linearly interpolated (``n_frames >= 2``).

The layout is decided by the number of dimensions only, never guessed from sizes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._checks import check_finite

__all__ = ["as_control", "upsample_frames", "lfo_phase"]


def upsample_frames(frames: torch.Tensor, n_samples: int, method: str = "linear") -> torch.Tensor:
    """Interpolate ``(..., n_frames)`` to ``(..., n_samples)``, ends aligned.

    Frame ``i`` sits at sample ``i * (n_samples - 1) / (n_frames - 1)``. ``"linear"``
    joins frames with straight lines; ``"window"`` with raised-cosine steps, which equals
    overlap-adding a Hann window of two frame spacings per frame (DDSP's
    ``upsample_with_windows``): smooth at every frame, the choice for amplitudes, where
    the kinks of linear interpolation can buzz. Differentiable.

    >>> upsample_frames(torch.tensor([0.0, 1.0]), 5, method="window").tolist()
    [0.0, 0.1464466154575348, 0.5, 0.8535534143447876, 1.0]
    """
    if method not in ("linear", "window"):
        raise ValueError(f"expected method 'linear' or 'window', got {method!r}")
    if frames.shape[-1] == n_samples:
        return frames
    if frames.shape[-1] < 2:
        raise ValueError(
            f"expected at least 2 frames to interpolate to {n_samples} samples, "
            f"got {frames.shape[-1]}"
        )
    n_frames = frames.shape[-1]
    if method == "linear":
        lead = frames.shape[:-1]
        flat = frames.reshape(1, -1, n_frames)
        up = F.interpolate(flat, size=n_samples, mode="linear", align_corners=True)
        return up.reshape(*lead, n_samples)
    pos = torch.arange(n_samples, dtype=torch.float64, device=frames.device)
    pos = pos * ((n_frames - 1) / max(n_samples - 1, 1))
    index = pos.floor().clamp(max=n_frames - 2).long()
    w = (0.5 - 0.5 * torch.cos(math.pi * (pos - index))).to(frames.dtype)
    lo, hi = frames[..., index], frames[..., index + 1]
    return lo + w * (hi - lo)


def as_control(
    value: float | torch.Tensor, x: torch.Tensor, name: str, *, allow_inf: bool = False
) -> torch.Tensor:
    """Return ``value`` as a tensor ``(*b, Tc)`` with ``Tc`` in ``{1, T}`` on x's dtype/device.

    ``b`` broadcasts against ``x.shape[:-1]``. See the module docstring for the forms.
    NaN (and ±inf unless ``allow_inf``) is refused: Python numbers always, tensors when
    value checks are on (:func:`ddsp.set_value_checks`), the one rule for every control.
    """
    check_finite(value, name, allow_inf=allow_inf)
    n_t = x.shape[-1]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.full((1,), float(value), dtype=x.dtype, device=x.device)
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"expected {name} to be a float or a torch.Tensor, got {type(value).__name__}"
        )
    if not value.is_floating_point():
        raise TypeError(f"expected {name} to be a floating-point tensor, got dtype {value.dtype}")
    if value.device != x.device:
        raise ValueError(f"expected {name} on {x.device} like the signal, got {value.device}")
    value = value.to(x.dtype)
    if value.ndim > x.ndim:
        raise ValueError(
            f"expected {name} to have at most {x.ndim} dims for a signal of shape {tuple(x.shape)} "
            f"(per item: fewer dims; time-varying: {x.ndim} dims, last = frames), "
            f"got shape {tuple(value.shape)}"
        )
    if value.ndim < x.ndim:
        out = value.unsqueeze(-1)
    else:
        if value.shape[-1] == 0:
            raise ValueError(
                f"expected {name} to have at least 1 frame, got shape {tuple(value.shape)}"
            )
        out = value if value.shape[-1] == 1 else upsample_frames(value, n_t)
    try:
        torch.broadcast_shapes(out.shape[:-1], x.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"expected {name} with batch dims broadcastable to {tuple(x.shape[:-1])}, "
            f"got shape {tuple(value.shape)}"
        ) from None
    return out


def lfo_phase(
    rate_hz: torch.Tensor,
    n_samples: int,
    sample_rate: float,
    phase: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Running phase in cycles (float64) of an oscillator at ``rate_hz (..., Tc)``.

    ``phase[t] = phase0 + sum_{k<t} rate[k] / sample_rate``: a constant rate gives
    ``phase0 + rate t / sample_rate`` exactly; a per-sample rate (``Tc = n_samples``) is
    integrated, so a changing rate bends the pitch, never the phase. Returns the phase
    ``(..., n_samples)`` and the next block's ``phase0`` (wrapped to [0, 1)).
    """
    rate = rate_hz.to(torch.float64)
    p0 = torch.zeros_like(rate[..., :1]) if phase is None else phase.to(torch.float64)
    if rate.shape[-1] == 1:
        k = torch.arange(n_samples, dtype=torch.float64, device=rate.device)
        out = p0 + rate * (k / sample_rate)
        end = p0 + rate * (n_samples / sample_rate)
    else:
        inc = rate / sample_rate
        out = p0 + torch.cumsum(inc, -1) - inc
        end = p0 + inc.sum(-1, keepdim=True)
    return out, torch.remainder(end, 1.0)
