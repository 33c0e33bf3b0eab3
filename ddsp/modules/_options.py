"""Checks for construction options (``stages``, ``n_lines``, ``seed``, ...): one message form.

Options are Python values fixed at construction, so they are always checked: whole
numbers must be ints (``True`` and ``2.5`` are refused, not read as 1 and 2), numbers
finite and in range, flags real booleans. Messages name the processor, the option, the
expected range and the value: ``Phaser: expected stages as a whole number in [1, 12],
got True``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = ["whole_option", "number_option", "flag_option", "choice_option", "seed_option"]


def whole_option(owner: str, name: str, value: Any, low: int, high: int) -> int:
    """``value`` as an int in ``[low, high]``; ValueError naming ``owner.name`` otherwise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not (low <= value <= high)
    ):
        raise ValueError(
            f"{owner}: expected {name} as a whole number in [{low}, {high}], got {value!r}"
        )
    return int(value)


def number_option(
    owner: str, name: str, value: Any, low: float, high: float, *, low_open: bool = False
) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    ok = ok and math.isfinite(value) and (value > low if low_open else value >= low)
    if not (ok and value <= high):
        bracket = "(" if low_open else "["
        raise ValueError(
            f"{owner}: expected {name} as a finite number in {bracket}{low:g}, {high:g}], "
            f"got {value!r}"
        )
    return float(value)


def flag_option(owner: str, name: str, value: Any) -> bool:
    """``value`` as a bool; anything but True or False (``"no"``, 0, 1) is refused."""
    if not isinstance(value, bool):
        raise ValueError(f"{owner}: expected {name} as true or false, got {value!r}")
    return value


def choice_option(owner: str, name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (strings)."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{owner}: expected {name} in {choices}, got {value!r}")
    return value


def seed_option(owner: str, value: Any, *, optional: bool = False) -> int | None:
    """A noise seed: a whole number in [0, 2^31 - 1] (or None where ``optional``)."""
    if value is None and optional:
        return None
    return whole_option(owner, "seed", value, 0, 2**31 - 1)
