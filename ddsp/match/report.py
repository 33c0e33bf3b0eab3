"""How well each fitted parameter is determined, and a plain verdict on the fit.

A parameter is determined when moving it raises the loss: from the loss at its value and
at ``u +- delta`` (``u`` its normalized value in [0, 1]), the second difference gives the
curvature ``c``, and ``sqrt(2 tolerance L / c)`` is how far ``u`` can move before the loss
rises by ``tolerance`` (1%) of itself (the Laplace approximation's width, MacKay,
"Information Theory, Inference, and Learning Algorithms", 2003, ch. 27). That width, mapped
back through the parameter's spec, is the reported interval; a width over a fifth of the
range says the audio cannot tell, whatever value the fit happens to hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..modules.chain import Chain
from .initializers import Finding
from .objective import SpectralObjective

__all__ = ["Determination", "determine", "verdict", "DETERMINED", "LOOSE"]

DETERMINED = 0.05  # width (fraction of the normalized range) under which a value is determined
LOOSE = 0.2  # ... under which it is loosely determined; above: undetermined


@dataclass
class Determination:
    """One parameter after the fit: ``value``, the interval ``low .. high`` within which the
    loss rises by less than 1%, ``status`` (``determined``, ``loosely determined``,
    ``undetermined``, ``unused``, ``fixed``) and how the analysis started it."""

    value: float
    low: float
    high: float
    status: str
    start: str = ""
    note: str = ""

    def as_dict(self) -> dict:
        out = {
            "value": _round(self.value),
            "low": _round(self.low),
            "high": _round(self.high),
            "status": self.status,
        }
        if self.start:
            out["start"] = self.start
        if self.note:
            out["note"] = self.note
        return out


def _round(v: float) -> float | None:
    return None if not math.isfinite(v) else float(f"{v:.5g}")


def determine(
    chain: Chain,
    objective: SpectralObjective,
    starts: list[int],
    findings: dict[int, dict[str, Finding]],
    fitted: set[tuple[int, str]],
    *,
    delta: float = 0.02,
    tolerance: float = 0.01,
) -> dict[int, dict[str, Determination]]:
    """:class:`Determination` of every parameter of ``chain`` (see the module docstring);
    ``fitted``: the ``(index, name)`` pairs the gradient phase moved."""

    def loss() -> float:
        with torch.no_grad():
            return float(objective.loss(chain, starts))

    base = loss()
    out: dict[int, dict[str, Determination]] = {}
    for i, proc in enumerate(chain):
        out[i] = {}
        for spec in proc.specs:
            name = spec.name
            value = float(getattr(proc, name).detach())
            found = findings.get(i, {}).get(name)
            start = found.how if found else ""
            note = found.note if found else ""
            if found and found.how in ("unused", "undetermined"):
                out[i][name] = Determination(value, math.nan, math.nan, found.how, start, note)
                continue
            if (i, name) not in fitted and name in proc.nondifferentiable:
                out[i][name] = Determination(value, value, value, "fixed", start, note)
                continue
            raw = getattr(proc, f"raw_{name}")
            saved = raw.detach().clone()
            u = float(spec.to_normalized(torch.tensor(value, dtype=torch.float64)))
            # three points inside [0, 1]: centred, or shifted away from a range end
            centre = min(max(u, delta), 1 - delta)
            losses = []
            for k in (-1, 0, 1):
                setattr(proc, name, float(spec.to_physical(torch.tensor(centre + k * delta))))
                losses.append(base if centre == u and k == 0 else loss())
            with torch.no_grad():
                raw.copy_(saved)
            curvature = (losses[0] + losses[2] - 2 * losses[1]) / delta**2
            slope = (losses[2] - losses[0]) / (2 * delta)
            # width: from the curvature, or from the slope where the loss is still sloping
            # (a value at its range end with the minimum beyond it)
            widths = []
            if curvature > 0:
                widths.append(math.sqrt(2 * tolerance * base / curvature))
            if abs(slope) > 0:
                widths.append(tolerance * base / abs(slope))
            width = min(widths) if widths else math.inf
            lo_u, hi_u = max(0.0, u - width), min(1.0, u + width)
            low = float(spec.to_physical(torch.tensor(lo_u, dtype=torch.float64)))
            high = float(spec.to_physical(torch.tensor(hi_u, dtype=torch.float64)))
            status = (
                "determined"
                if width <= DETERMINED
                else "loosely determined"
                if width <= LOOSE
                else "undetermined"
            )
            out[i][name] = Determination(value, low, high, status, start, note)
    return out


def verdict(coherence: float, reduction: float, after: float, identity: float) -> tuple[str, str]:
    """``("good" | "poor", message)`` from the dry/wet coherence, the distance reduction
    and the final distance against the distance of the dry file itself to the wet one."""
    reasons = []
    if coherence < 0.2:
        reasons.append(
            f"dry and wet are barely related (coherence {coherence:.2f}; a processed version "
            "of the dry file usually gives over 0.5): is the wet file made from this dry one?"
        )
    if reduction < 0.5:
        reasons.append(f"the fit removed only {100 * reduction:.0f}% of the spectral distance")
    if identity > 0 and after > 0.7 * identity:
        reasons.append(
            f"the fitted chain is hardly closer to the wet file than the dry file is "
            f"({after:.3f} against {identity:.3f})"
        )
    if reasons:
        return "poor", "poor fit: " + "; ".join(reasons)
    return "good", f"good fit: {100 * reduction:.0f}% of the spectral distance removed"
