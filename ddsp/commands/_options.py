"""Validated argument types for the commands: finite numbers in range, whole numbers.

argparse calls these on the option's text; a bad value becomes ``ddsp CMD: error:
argument --seconds: expected a finite number > 0, got 'nan'`` and exit status 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["number", "whole"]


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return "(any value)"


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    unit: str = "",
) -> Callable[[str], float]:
    """A finite float within the bounds (``low_open``: the bound itself is excluded)."""
    where = _bounds(low, high, low_open, high_open) + (f" {unit}" if unit else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value)
        ok = ok and (low is None or (value > low if low_open else value >= low))
        ok = ok and (high is None or (value < high if high_open else value <= high))
        if not ok:
            raise argparse.ArgumentTypeError(f"expected a finite number {where}, got {text!r}")
        return value

    return parse


def whole(
    low: int | None = None, high: int | None = None, *, unit: str = ""
) -> Callable[[str], int]:
    """A whole number within ``[low, high]`` (``"7.9"`` and ``"true"`` are refused)."""
    where = _bounds(low, high, False, False) + (f" {unit}" if unit else "")

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number {where}, got {text!r}"
            ) from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected a whole number {where}, got {text!r}")
        return value

    return parse
