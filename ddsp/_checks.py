"""Input validation shared by the functional ops.

Shape, dtype and device checks are free and always on. Checks on tensor *values*
(NaN/Inf audio, controls outside their range) cost one pass over the data and, on CUDA,
a device sync; by default they run on CPU tensors only. Switch them with
:func:`set_value_checks` or, for a block, :func:`value_checks`.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator

import torch

__all__ = [
    "set_value_checks",
    "value_checks",
    "check_signal",
    "check_range",
    "check_nonzero",
    "check_finite",
    "check_sample_rate",
    "check_mono_or_stereo",
]

_VALUE_CHECKS: bool | None = None  # None: CPU tensors only


def set_value_checks(enabled: bool | None) -> None:
    """Turn value checks on (True), off (False) or back to the default (None: CPU only)."""
    global _VALUE_CHECKS
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(f"expected True, False or None, got {enabled!r}")
    _VALUE_CHECKS = enabled


@contextlib.contextmanager
def value_checks(enabled: bool | None) -> Iterator[None]:
    """Context manager form of :func:`set_value_checks`; restores the previous setting."""
    previous = _VALUE_CHECKS
    set_value_checks(enabled)
    try:
        yield
    finally:
        set_value_checks(previous)


def _checking(t: torch.Tensor) -> bool:
    if _VALUE_CHECKS is None:
        return t.device.type == "cpu"
    return _VALUE_CHECKS


def check_signal(x: object, name: str = "x", *, min_ndim: int = 1) -> torch.Tensor:
    """Check that ``x`` is a float32/float64 tensor with a time axis (and finite, if checking)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"expected {name} to have dtype float32 or float64, got {x.dtype}")
    if x.ndim < min_ndim:
        raise ValueError(
            f"expected {name} to have at least {min_ndim} dimension(s) (..., time), "
            f"got shape {tuple(x.shape)}"
        )
    # A sum is NaN/Inf whenever an element is (and, rarely, when it overflows): one cheap
    # reduction first, the exact elementwise test only to confirm.
    if _checking(x) and x.numel() and not bool(torch.isfinite(x.sum())):
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            raise ValueError(f"expected finite values in {name}, got {bad} NaN/Inf sample(s)")
    return x


def check_range(
    value: float | torch.Tensor,
    name: str,
    low: float,
    high: float,
    *,
    low_inclusive: bool = False,
    high_inclusive: bool = False,
) -> None:
    """Check ``low < value < high`` (inclusivity per flag) for scalars, and tensors if checking."""
    lo = "[" if low_inclusive else "("
    hi = "]" if high_inclusive else ")"
    if isinstance(value, torch.Tensor):
        if not _checking(value) or value.numel() == 0:
            return
        v = value.detach()
        ok_lo = v >= low if low_inclusive else v > low
        ok_hi = v <= high if high_inclusive else v < high
        ok = ok_lo & ok_hi
        if not bool(ok.all()):
            bad = v[~ok]
            raise ValueError(
                f"expected {name} in {lo}{low:g}, {high:g}{hi}, got {bad.numel()} value(s) outside "
                f"it (e.g. {float(bad.flatten()[0]):g})"
            )
        return
    v = float(value)
    ok = (v >= low if low_inclusive else v > low) and (v <= high if high_inclusive else v < high)
    if not ok or math.isnan(v):
        raise ValueError(f"expected {name} in {lo}{low:g}, {high:g}{hi}, got {v:g}")


def check_finite(value: object, name: str, *, allow_inf: bool = False) -> None:
    """Check that a control or coefficient holds no NaN (nor ±inf unless ``allow_inf``).

    One rule for every op: Python numbers are always checked, tensors when value checks
    are on (:func:`set_value_checks`). Other types pass (their own checks name them).
    """
    if isinstance(value, torch.Tensor):
        if not (_checking(value) and value.numel() and value.is_floating_point()):
            return
        v = value.detach()
        ok = ~torch.isnan(v) if allow_inf else torch.isfinite(v)
        if not bool(ok.all()):
            bad = v[~ok]
            raise ValueError(
                f"expected {'no NaN' if allow_inf else 'finite values'} in {name}, got "
                f"{bad.numel()} NaN/Inf value(s) (e.g. {float(bad.flatten()[0]):g})"
            )
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
        if math.isnan(v) or (math.isinf(v) and not allow_inf):
            raise ValueError(f"expected a finite number for {name}, got {v:g}")


def check_sample_rate(sample_rate: object) -> None:
    """Check ``sample_rate``: a finite positive number of Hz (always, it is a Python scalar)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise TypeError(f"expected sample_rate as a number of Hz, got {sample_rate!r}")
    if not (math.isfinite(sample_rate) and sample_rate > 0):
        raise ValueError(f"expected a finite sample_rate > 0 Hz, got {sample_rate!r}")


def check_nonzero(value: torch.Tensor, name: str) -> None:
    """Check that no element of ``value`` is zero (when value checks are on)."""
    if _checking(value) and value.numel() and bool((value == 0).any()):
        raise ValueError(f"expected {name} != 0, got {int((value == 0).sum())} zero value(s)")


def check_mono_or_stereo(x: object, name: str = "x") -> torch.Tensor:
    """:func:`check_signal`, then ``(..., C, T)`` with ``C`` 1 or 2 channels."""
    x = check_signal(x, name, min_ndim=2)
    if x.shape[-2] not in (1, 2):
        raise ValueError(
            f"expected mono or stereo {name} (1 or 2 channels on dim -2 of (..., C, T)), "
            f"got {x.shape[-2]} channels (shape {tuple(x.shape)})"
        )
    return x
