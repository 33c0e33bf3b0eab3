"""Parameter specs: physical ranges with a scale, and the maps to and from [0, 1].

A :class:`ParamSpec` is data: a unit-suffixed name, a unit, a range, a default, a scale and
a one-line description. ``to_physical`` maps a normalized value ``u`` in [0, 1] into the
range and ``to_normalized`` maps back; both work elementwise on floats and tensors and
are differentiable. Scales (as in torchsynth's parameter ranges, with units in names):

* ``"linear"``: ``v = lo + (hi - lo) u``;
* ``"log"``: ``v = lo (hi / lo)^u`` (``lo > 0``; even steps in octaves or decibels);
* ``"power"``: ``v = lo + (hi - lo) u^curve``; with ``symmetric=True`` the curve is
  mirrored about the centre of the range, for ± quantities.

:func:`exp_sigmoid` is the DDSP mapping from raw network outputs to positive amplitudes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["ParamSpec", "exp_sigmoid", "SCALES"]

SCALES = ("linear", "log", "power")
_EPS = 1e-30  # keeps power-curve gradients finite at the ends of the range
_SLOPE_FLOOR = 0.01  # below this u, a power curve's gradient is its slope at u = 0.01


def _is_tensor(v: object) -> bool:
    return isinstance(v, torch.Tensor)


@dataclass(frozen=True)
class ParamSpec:
    """A physical parameter: name with unit suffix, range, default, scale, description.

    >>> CUTOFF = ParamSpec("cutoff_hz", "Hz", 20.0, 20_000.0, 1_000.0, scale="log")
    >>> round(CUTOFF.to_physical(0.5), 3)
    632.456
    >>> round(CUTOFF.to_normalized(632.456), 4)
    0.5
    """

    name: str
    unit: str
    minimum: float
    maximum: float
    default: float
    scale: str = "linear"
    curve: float = 1.0
    symmetric: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"expected a Python identifier as spec name, got {self.name!r}")
        if self.scale not in SCALES:
            raise ValueError(f"expected scale in {SCALES}, got {self.scale!r} for {self.name}")
        if not (math.isfinite(self.minimum) and math.isfinite(self.maximum)):
            raise ValueError(
                f"expected a finite range for {self.name}, got [{self.minimum}, {self.maximum}]"
            )
        if not self.minimum < self.maximum:
            raise ValueError(
                f"expected minimum < maximum for {self.name}, got {self.minimum} >= {self.maximum}"
            )
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError(
                f"expected the default of {self.name} in [{self.minimum}, {self.maximum}], "
                f"got {self.default}"
            )
        if self.scale == "log" and self.minimum <= 0:
            raise ValueError(
                f"expected minimum > 0 for the log scale of {self.name}, got {self.minimum}"
            )
        if self.scale == "power" and not self.curve > 0:
            raise ValueError(f"expected curve > 0 for {self.name}, got {self.curve}")
        if self.symmetric and self.scale != "power":
            raise ValueError(f"symmetric applies to the power scale only ({self.name})")

    # ------------------------------------------------------------------ maps

    def to_physical(self, u: float | torch.Tensor) -> float | torch.Tensor:
        """Map normalized ``u`` in [0, 1] to the physical range (elementwise)."""
        lo, hi = self.minimum, self.maximum
        if self.scale == "linear":
            return lo + (hi - lo) * u
        if self.scale == "log":
            return lo * (hi / lo) ** u if not _is_tensor(u) else lo * torch.pow(hi / lo, u)
        if not self.symmetric:
            return lo + (hi - lo) * _pow(u, self.curve)
        s = 2 * u - 1  # in [-1, 1]
        return (lo + hi) / 2 + (hi - lo) / 2 * _signed_pow(s, self.curve)

    def to_normalized(self, value: float | torch.Tensor) -> float | torch.Tensor:
        """Map a physical value to [0, 1]; the inverse of :meth:`to_physical`."""
        lo, hi = self.minimum, self.maximum
        if self.scale == "linear":
            return (value - lo) / (hi - lo)
        if self.scale == "log":
            if _is_tensor(value):
                return torch.log(value / lo) / math.log(hi / lo)
            return math.log(value / lo) / math.log(hi / lo)
        if not self.symmetric:
            return _pow((value - lo) / (hi - lo), 1.0 / self.curve)
        s = (value - (lo + hi) / 2) / ((hi - lo) / 2)
        return (_signed_pow(s, 1.0 / self.curve) + 1) / 2

    def check(self, value: float | torch.Tensor) -> None:
        """Raise ``ValueError`` if ``value`` lies outside [minimum, maximum] (value checks)."""
        from ._checks import check_range

        check_range(
            value, self.name, self.minimum, self.maximum, low_inclusive=True, high_inclusive=True
        )

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"{self.name}: {self.minimum:g}..{self.maximum:g}{unit} "
            f"({self.scale}, default {self.default:g})"
        )


def _pow(base: float | torch.Tensor, exponent: float) -> float | torch.Tensor:
    if _is_tensor(base):
        # Exact zero at the bottom of the range, with a finite gradient there.
        exact = torch.where(base > 0, torch.pow(base.clamp_min(_EPS), exponent), 0.0)
        if exponent <= 1:
            return exact
        # The slope u^(e-1) vanishes at 0: a parameter that reached the bottom of its range
        # would never learn its way back. Below _SLOPE_FLOOR the gradient is the slope at
        # _SLOPE_FLOOR instead (values unchanged, straight through).
        floor_slope = exponent * _SLOPE_FLOOR ** (exponent - 1)
        near_zero = exact.detach() + floor_slope * (base - base.detach())
        return torch.where(base >= _SLOPE_FLOOR, exact, near_zero)
    return max(base, 0.0) ** exponent


def _signed_pow(s: float | torch.Tensor, exponent: float) -> float | torch.Tensor:
    if _is_tensor(s):
        return torch.sign(s) * _pow(s.abs(), exponent)
    return math.copysign(abs(s) ** exponent, s)


def exp_sigmoid(
    x: torch.Tensor, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7
) -> torch.Tensor:
    """DDSP's map from raw network outputs to positive amplitudes.

    ``max_value * sigmoid(x) ** log(exponent) + threshold`` (Engel et al., DDSP, 2020):
    positive, bounded, with a log-like response near zero so quiet harmonics stay
    learnable. Smooth everywhere; its gradient vanishes only as ``x -> -inf``.
    """
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold
