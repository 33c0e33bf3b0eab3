"""Interleaved timing: every implementation of a case runs once per round, in rotating
order, so that machine noise hits them alike; we report medians after warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["interleaved_medians"]


def interleaved_medians(
    fns: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 2
) -> dict[str, float]:
    """Median seconds per call of each function, interleaving the calls round by round."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return {n: statistics.median(v) for n, v in times.items()}
