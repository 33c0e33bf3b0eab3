"""Envelopes and modulators: a gate-driven ADSR in closed form, and LFOs.

Both return control signals ``(batch, n_samples)`` that can drive any op's controls per
sample, e.g. an envelope sweeping an SVF cutoff inside a voice.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from .._checks import check_finite, check_range, check_sample_rate, check_signal
from ._controls import upsample_frames

__all__ = ["adsr", "lfo", "LFO_SHAPES", "ADSRState", "adsr_state"]

LFO_SHAPES = ("sine", "triangle", "saw", "square")


def _per_item(value: float | torch.Tensor, like: torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if value.ndim > 1 or (value.ndim == 1 and value.shape[0] not in (1, like.shape[0])):
            raise ValueError(
                f"expected {name} as a float or (batch,), got shape {tuple(value.shape)}"
            )
        return value.to(like.dtype).reshape(-1, 1)
    return torch.tensor([[float(value)]], dtype=like.dtype, device=like.device)


class ADSRState(NamedTuple):
    """State of :func:`adsr` between blocks (sample indices count from the stream's start).

    Attributes:
        time: ``(batch, 1)`` int64, samples before this block.
        last_on, last_off: ``(batch, 1)`` int64, index of the last rising / falling gate
            edge, -1 before the first.
        gate_on: ``(batch, 1)`` bool, whether the gate was on at the last sample.
    """

    time: torch.Tensor
    last_on: torch.Tensor
    last_off: torch.Tensor
    gate_on: torch.Tensor


def adsr_state(batch: int, device: Any = None) -> ADSRState:
    """The state of an ADSR stream before its first sample: no note yet."""
    zeros = torch.zeros(batch, 1, dtype=torch.int64, device=device)
    return ADSRState(
        zeros, zeros - 1, zeros - 1, torch.zeros(batch, 1, dtype=torch.bool, device=device)
    )


def _samples_since(
    edges: torch.Tensor, t: torch.Tensor, before: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples since the last True in ``edges`` (B, T) (0 on the edge; -1 before any), and
    the index of that edge; ``t`` holds the samples' indices, ``before`` the last edge
    before the block (-1: none)."""
    last = torch.cummax(torch.where(edges, t, torch.full_like(t, -1)), dim=-1).values
    last = torch.maximum(last, before)
    return torch.where(last >= 0, t - last, torch.full_like(t, -1)), last


def adsr(
    gate: torch.Tensor,
    attack_ms: float | torch.Tensor,
    decay_ms: float | torch.Tensor,
    sustain: float | torch.Tensor,
    release_ms: float | torch.Tensor,
    *,
    sample_rate: float,
    state: ADSRState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, ADSRState]:
    """Linear ADSR envelope from a gate, in closed form (differentiable in every time).

    Each rising edge of the gate restarts the attack from 0: a linear rise to 1 over
    ``attack_ms``, a linear fall to ``sustain`` over ``decay_ms``, then ``sustain``
    while the gate stays high; at the falling edge the level reached falls linearly to
    0 over ``release_ms``. Every segment moves on its first sample. Before the first
    note the envelope is 0; a note retriggered during a release restarts from 0.

    Args:
        gate: ``(batch, n_samples)``; a note is on where ``gate > 0.5``.
        attack_ms, decay_ms, release_ms: times in ms, ``> 0``; floats or ``(batch,)``.
        sustain: level in [0, 1]; float or ``(batch,)``.
        sample_rate: Hz.
        state: a previous block's :class:`ADSRState` (see :func:`adsr_state`); a note may
            start in one block and be released many blocks later.
        return_state: also return the state after the block.

    Returns:
        ``(batch, n_samples)`` in [0, 1], or ``(env, state)``. Gradients: the four controls.

    >>> g = torch.tensor([[1.0] * 6 + [0.0] * 4])
    >>> [round(v, 2) for v in adsr(g, 2.0, 2.0, 0.5, 2.0, sample_rate=1000)[0].tolist()]
    [0.5, 1.0, 0.75, 0.5, 0.5, 0.5, 0.25, 0.0, 0.0, 0.0]
    """
    gate = check_signal(gate, "gate", min_ndim=2)
    if gate.ndim != 2:
        raise ValueError(f"expected gate of shape (batch, n_samples), got {tuple(gate.shape)}")
    for name, v in (("attack_ms", attack_ms), ("decay_ms", decay_ms), ("release_ms", release_ms)):
        check_range(v, name, 0.0, math.inf)
    check_range(sustain, "sustain", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    check_sample_rate(sample_rate)
    ms = sample_rate / 1000.0  # samples per ms
    a = _per_item(attack_ms, gate, "attack_ms") * ms
    d = _per_item(decay_ms, gate, "decay_ms") * ms
    r = _per_item(release_ms, gate, "release_ms") * ms
    s = _per_item(sustain, gate, "sustain")
    if state is None:
        state = adsr_state(gate.shape[0], gate.device)
    on = gate > 0.5
    prev = torch.cat([state.gate_on.expand(gate.shape[0], 1), on[:, :-1]], -1)
    t = state.time + torch.arange(gate.shape[-1], device=gate.device)
    since_on, last_on = _samples_since(on & ~prev, t, state.last_on)
    since_off, last_off = _samples_since(~on & prev, t, state.last_off)
    dtype = gate.dtype

    def held(tau: torch.Tensor) -> torch.Tensor:  # level after tau samples of a held note
        rise = (tau + 1) / a  # the onset sample already moves: 1/a after one sample
        fall = 1 - (1 - s) * (tau + 1 - a) / d
        return torch.where(tau + 1 < a, rise, torch.where(tau + 1 < a + d, fall, s.expand_as(tau)))

    level_on = held(since_on.to(dtype))
    note_len = (last_off - last_on).to(dtype) - 1  # samples held before the release began
    released = held(note_len) * torch.clamp(1 - (since_off.to(dtype) + 1) / r, min=0.0)
    released = torch.where(
        (since_off >= 0) & (last_off > last_on), released, torch.zeros_like(released)
    )
    env = torch.where(on & (since_on >= 0), level_on, released)
    if not return_state:
        return env
    n = gate.shape[-1]
    new = ADSRState(
        state.time + n,
        last_on[:, -1:] if n else state.last_on,
        last_off[:, -1:] if n else state.last_off,
        on[:, -1:] if n else state.gate_on,
    )
    return env, new


def lfo(
    n_samples: int,
    rate_hz: float | torch.Tensor,
    *,
    sample_rate: float,
    shape: str = "sine",
    depth: float | torch.Tensor = 1.0,
    phase: float | torch.Tensor = 0.0,
    batch: int = 1,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    state: torch.Tensor | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Low-frequency oscillator, bipolar: ``depth * wave(phase + cumsum(rate / sr))``.

    Args:
        n_samples: output length.
        rate_hz: Hz; float, ``(batch,)`` or ``(batch, frames)`` (interpolated).
        sample_rate: Hz.
        shape: one of :data:`LFO_SHAPES` (saw rises, square starts high).
        depth: peak value; float or ``(batch,)``.
        phase: start phase in cycles; float or ``(batch,)``.
        batch: rows when no control is a tensor.
        state: the running phase ``(batch, 1)`` (cycles) at this block's first sample, from
            a previous block; replaces ``phase``.
        return_state: also return the phase at the next sample.

    Returns:
        ``(batch, n_samples)`` in ``[-depth, depth]``. Gradients: rate_hz, depth, phase
        (square: depth only; its edges have no slope).
    """
    if shape not in LFO_SHAPES:
        raise ValueError(f"expected shape in {LFO_SHAPES}, got {shape!r}")
    check_range(sample_rate, "sample_rate", 0.0, math.inf)
    check_range(rate_hz, "rate_hz", 0.0, sample_rate / 2, low_inclusive=True)
    check_finite(depth, "depth")
    check_finite(phase, "phase")
    like = torch.empty(batch, 0, dtype=dtype, device=device)
    for v in (rate_hz, depth, phase):
        if isinstance(v, torch.Tensor) and v.ndim >= 1:
            like = torch.empty(v.shape[0], 0, dtype=dtype, device=v.device)
    if isinstance(rate_hz, torch.Tensor) and rate_hz.ndim == 2:
        rate = (
            rate_hz.to(dtype)
            if rate_hz.shape[-1] == n_samples
            else upsample_frames(rate_hz.to(dtype), n_samples)
        )
    else:
        rate = _per_item(rate_hz, like, "rate_hz").expand(like.shape[0], n_samples)
    inc = rate.to(torch.float64) / sample_rate
    start = _per_item(phase, like, "phase").to(torch.float64)
    if state is not None:
        start = state.detach().to(torch.float64)
    cycles = start + torch.cumsum(inc, -1) - inc
    end = torch.remainder(start + inc.sum(-1, keepdim=True), 1.0)
    p = torch.remainder(cycles, 1.0).to(dtype)
    if shape == "sine":
        wave = torch.sin(2 * math.pi * p)
    elif shape == "triangle":
        wave = 1 - 4 * torch.abs(p - 0.5)
    elif shape == "saw":
        wave = 2 * p - 1
    else:
        wave = torch.where(p < 0.5, 1.0, -1.0).to(dtype)
    if isinstance(depth, torch.Tensor) and depth.ndim == 2 and depth.shape[-1] == n_samples:
        d = depth.to(dtype)  # per sample (a streamed ramp)
    else:
        d = _per_item(depth, like, "depth")
    out = d * wave
    return (out, end.detach()) if return_state else out
