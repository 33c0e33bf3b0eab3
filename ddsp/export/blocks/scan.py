"""Whole-block forms of the sequential parts of sources and time-varying filters.

Everything here is scriptable (``torch.jit.script``) and traceable by ``torch.export``
with a dynamic block length ``n``: no Python branch reads ``n``.

* Running phases (:func:`running_phase`): an exclusive cumulative sum of the per-sample
  increments in float64, plus the carried start, wrapped to [0, 1) per sample and at the
  block's end, as the library does (so a phase stays exact to ~1e-12 cycles over hours).
* Linear recursions with per-sample coefficients, ``s[t] = A[t] s[t-1] + b[t]``, as
  inclusive prefix compositions of the affine maps ``(A[t], b[t])`` by doubling
  (Hillis and Steele): after the step of span ``d`` each sample holds the composition of
  the ``2 d`` maps ending at it; ``log2(n)`` steps of a few broadcast products each
  (planar float64 tensors: for 2 x 2 maps this runs ~2.5x faster than batched
  ``matmul`` of tiny matrices).
  :func:`affine_scan` does it for ``S x S`` states (SVF, biquad), :func:`scalar_levels`
  and :func:`scalar_scan` for scalar ones that share their coefficients (phaser stages).

The steps' spans come from :func:`doubling`: ``1, 2, 4, ...`` below ``n`` when the
length is known (eager, TorchScript). An exported program cannot loop on its symbolic
length, so it runs a fixed count (:func:`fixed_doubling`, :func:`export_steps` of them
for a builder's block size) and serves blocks of up to ``2 ** steps`` samples (a shift
past the block's start composes with identities, so the extra steps change nothing);
it checks ``n`` against that bound (``torch._check``), so export with a ``Dim`` whose
``max`` is at most the block's ``max_block``.
"""

import torch
from torch import Tensor

__all__ = [
    "doubling",
    "fixed_doubling",
    "export_steps",
    "running_phase",
    "shifted",
    "affine_scan",
    "apply_scan",
    "scalar_levels",
    "scalar_scan",
]


def doubling(n: int) -> list[int]:
    """Spans of the doubling steps for ``n`` samples: 1, 2, 4, ... below ``n``."""
    out: list[int] = []
    d = 1
    while d < n:
        out.append(d)
        d *= 2
    return out


def fixed_doubling(count: int) -> list[int]:
    """``count`` spans 1, 2, 4, ...: an exported program's steps (blocks up to
    ``2 ** count`` samples)."""
    return [1 << i for i in range(count)]


def export_steps(block_size: int) -> int:
    """Doubling steps of an exported scan built for ``block_size``: blocks up to twice
    that, and at least 4096 samples."""
    return max(12, (max(int(block_size), 1) - 1).bit_length() + 1)


def running_phase(inc: Tensor, p0: Tensor) -> tuple[Tensor, Tensor]:
    """Phase in cycles at each sample of ``(R, n)`` increments from ``p0 (R, 1)`` (both
    float64), wrapped, and the wrapped phase at the next sample ``(R, 1)``."""
    cycles = p0 + torch.cumsum(inc, -1) - inc
    end = torch.remainder(p0 + inc.sum(-1, keepdim=True), 1.0)
    return torch.remainder(cycles, 1.0), end


def shifted(v: Tensor, d: int, fill: float) -> Tensor:
    """``(R, n)`` moved ``d`` samples later, ``fill`` before (no slice reads ``n - d``)."""
    n = v.shape[1]
    return torch.nn.functional.pad(v, [d, 0], value=fill)[:, :n]


def affine_scan(delta: Tensor, steps: list[int]) -> Tensor:
    """Prefix compositions of affine maps ``s -> A[t] s + b[t]`` on ``S`` states.

    The maps come planar and as their difference from the identity, ``delta (S, S + 1,
    R, n)`` = ``[A[t] - I | b[t]]`` (``delta[i, j]`` a ``(R, n)`` plane), so a shift pads
    with zeros (identities) and a composition is a few broadcast products: with
    ``L = I + Dl`` applied after ``E = I + De``, ``L E = I + Dl + De + Dl De`` (the last
    row of an affine map's matrix is ``(0, ..., 0, 1)``, of its difference 0). Small
    differences keep their precision (a filter's map near the identity at low cutoffs).

    Returns the same layout: at ``t`` the map from the state before sample 0 to the
    state after sample ``t`` (see :func:`apply_scan`). ``steps`` from :func:`doubling`.
    """
    s = delta.shape[0]
    n = delta.shape[3]
    for d in steps:
        earlier = torch.nn.functional.pad(delta, [d, 0])[..., :n]
        out = delta + earlier
        for k in range(s):
            out = torch.addcmul(out, delta[:, k : k + 1], earlier[k : k + 1])
        delta = out
    return delta


def apply_scan(delta: Tensor, s0: Tensor) -> Tensor:
    """States after each sample ``(S, R, n)`` from :func:`affine_scan`'s maps and the
    state before the block ``s0 (S, R)``."""
    s = delta.shape[0]
    out = s0[:, :, None] + delta[:, s]
    for k in range(s):
        out = torch.addcmul(out, delta[:, k], s0[k][None, :, None])
    return out


def scalar_levels(a: Tensor, steps: list[int]) -> list[Tensor]:
    """Products of ``a (R, n)`` over the spans of the doubling steps: entry ``i`` holds,
    at ``t``, the product of the ``2^i`` coefficients ending at ``t``."""
    levels: list[Tensor] = []
    for d in steps:
        levels.append(a)
        a = a * shifted(a, d, 1.0)
    return levels


def scalar_scan(levels: list[Tensor], b: Tensor, steps: list[int]) -> Tensor:
    """``y[t] = a[t] y[t-1] + b[t]`` from ``y[-1] = 0`` (fold a start into ``b[0]``), the
    coefficients given by :func:`scalar_levels`."""
    for i in range(len(steps)):
        b = torch.addcmul(b, levels[i], shifted(b, steps[i], 0.0))
    return b
