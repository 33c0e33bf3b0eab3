"""Delay effects on the fractional feedback delay-line kernel: echo, chorus/flanger and
stereo ping-pong. Audio ``(..., time)``; ping-pong takes ``(..., C, time)``."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .._checks import check_mono_or_stereo, check_range, check_sample_rate, check_signal
from ..ops import DelayFunction
from ._controls import as_control, lfo_phase
from .filters import _batch_shape, _rows

__all__ = ["delay", "chorus", "ping_pong_delay", "DelayState", "delay_state"]


class DelayState(NamedTuple):
    """State of a delay line between blocks: its last inputs and where the next goes.

    Attributes:
        ring: ``(..., H)`` the line's last ``H`` inputs ``u`` as a ring buffer.
        head: index in ``ring`` where the next input will be written.
    """

    ring: torch.Tensor
    head: int


def delay_state(x: torch.Tensor, max_delay_samples: float) -> DelayState:
    """An empty (silent) :class:`DelayState` for ``x``'s rows, long enough for delays up to
    ``max_delay_samples``."""
    n_h = int(math.ceil(max_delay_samples)) + 2
    return DelayState(x.new_zeros((*x.shape[:-1], n_h)), 0)


def _delay_line(
    x: torch.Tensor,
    delay_samples: torch.Tensor,
    feedback: torch.Tensor,
    state: DelayState | None = None,
) -> tuple[torch.Tensor, DelayState | None]:
    """Run the feedback-delay kernel on rows; controls already ``(*b, Tc)`` tensors.

    With a ``state``, the line starts from its ring and the new state is returned (the
    ring holds values, not a graph: gradients stop at the block boundary).
    """
    shapes = [delay_samples.shape[:-1], feedback.shape[:-1]]
    if state is not None:
        shapes.append(state.ring.shape[:-1])
    batch = _batch_shape(x, *shapes, names=("delay", "feedback", "state")[: len(shapes)])
    n_t = x.shape[-1]
    rows = math.prod(batch)
    ring = (
        x.new_zeros((rows, 0))
        if state is None
        else _rows(state.ring.detach(), batch, (state.ring.shape[-1],))
    )
    x_rows = _rows(x, batch, (n_t,))
    fb_rows = _rows(feedback, batch, (feedback.shape[-1],))
    y = DelayFunction.apply(
        x_rows,
        _rows(delay_samples, batch, (delay_samples.shape[-1],)),
        fb_rows,
        ring,
        0 if state is None else state.head,
    )
    new_state = None
    if state is not None:
        n_h = ring.shape[1]
        with torch.no_grad():
            u = (x_rows + fb_rows * y)[:, -n_h:]
            k = u.shape[1]
            index = (state.head + n_t - k + torch.arange(k, device=x.device)) % n_h
            ring = ring.clone()
            ring[:, index] = u
        new_state = DelayState(ring.reshape(*batch, n_h), (state.head + n_t) % n_h)
    return y.reshape(*batch, n_t), new_state


def delay(
    x: torch.Tensor,
    delay_ms: float | torch.Tensor,
    *,
    sample_rate: float,
    feedback: float | torch.Tensor = 0.0,
    mix: float | torch.Tensor = 0.5,
    state: DelayState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, DelayState]:
    """Feedback delay (echo) with a fractional, modulatable delay time.

    The wet signal is ``y[t] = u(t - delay)`` with ``u = x + feedback * y``, read with
    linear interpolation between samples, so it is differentiable in the delay time;
    out = ``(1 - mix) x + mix y``. The delay is at least one sample.

    Args:
        x: audio ``(..., T)``.
        sample_rate: Hz.
        delay_ms: ms, ``>= 1000 / sample_rate``; float, per item or time-varying.
        feedback: in ``(-1, 1)``; float, per item or time-varying.
        mix: 0 dry .. 1 wet.
        state: the line's :class:`DelayState` from a previous block (see
            :func:`delay_state`), or None for silence.
        return_state: also return the final state (the next block's ``state``).

    Returns:
        ``(..., T)``, or ``(y, state)``. Gradients: x, delay_ms, feedback, mix.

    >>> y = delay(torch.tensor([1.0, 0, 0, 0, 0, 0]), 2.0, sample_rate=1000, feedback=0.5, mix=1.0)
    >>> y.tolist()
    [0.0, 0.0, 1.0, 0.0, 0.5, 0.0]
    """
    x = check_signal(x)
    check_sample_rate(sample_rate)
    check_range(delay_ms, "delay_ms", 1000.0 / sample_rate, math.inf, low_inclusive=True)
    check_range(feedback, "feedback", -1.0, 1.0)
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    d = as_control(delay_ms, x, "delay_ms") * (sample_rate / 1000.0)
    fb = as_control(feedback, x, "feedback")
    m = as_control(mix, x, "mix")
    if return_state and state is None:
        state = delay_state(x, float(d.detach().max()))
    wet, new = _delay_line(x, d, fb, state)
    y = (1 - m) * x + m * wet
    return (y, new) if return_state else y


def chorus(
    x: torch.Tensor,
    *,
    sample_rate: float,
    rate_hz: float | torch.Tensor = 0.8,
    depth_ms: float | torch.Tensor = 3.0,
    centre_ms: float | torch.Tensor = 15.0,
    feedback: float | torch.Tensor = 0.0,
    mix: float | torch.Tensor = 0.5,
    state: tuple[torch.Tensor, DelayState] | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, DelayState]]:
    """Chorus / flanger: a delay swept by a sine LFO, ``centre_ms + depth_ms sin(2 pi rate t)``.

    Chorus: centre 10-30 ms, little feedback; flanger: centre 1-5 ms with feedback.
    Controls: floats or per item (a per-sample rate is integrated). ``state`` is
    ``(lfo_phase, delay_state)`` of a previous block (``return_state`` gives it).
    Gradients: x and every control.
    """
    x = check_signal(x)
    check_sample_rate(sample_rate)
    check_range(rate_hz, "rate_hz", 0.0, sample_rate / 2, low_inclusive=True)
    check_range(depth_ms, "depth_ms", 0.0, math.inf, low_inclusive=True)
    check_range(centre_ms, "centre_ms", 0.0, math.inf)
    rate = as_control(rate_hz, x, "rate_hz")
    cycles, end = lfo_phase(rate, x.shape[-1], sample_rate, None if state is None else state[0])
    lfo_wave = torch.sin(2 * math.pi * cycles).to(x.dtype)
    delay_ms = (
        as_control(centre_ms, x, "centre_ms") + as_control(depth_ms, x, "depth_ms") * lfo_wave
    )
    delay_ms = delay_ms.reshape((1,) * (x.ndim - delay_ms.ndim) + tuple(delay_ms.shape))
    floor = 1000.0 / sample_rate
    lowest = as_control(centre_ms, x, "centre_ms") - as_control(depth_ms, x, "depth_ms")
    if bool((lowest.detach() < floor).any()):  # the sweep's bottom, whatever the signal length
        raise ValueError(
            f"expected centre_ms - depth_ms >= {floor:g} ms (one sample), "
            f"got {float(lowest.detach().min()):g} ms"
        )
    out = delay(
        x,
        delay_ms,
        sample_rate=sample_rate,
        feedback=feedback,
        mix=mix,
        state=None if state is None else state[1],
        return_state=return_state,
    )
    return (out[0], (end, out[1])) if return_state else out


def ping_pong_delay(
    x: torch.Tensor,
    delay_ms: float | torch.Tensor,
    *,
    sample_rate: float,
    feedback: float | torch.Tensor = 0.5,
    mix: float | torch.Tensor = 0.5,
    state: DelayState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, DelayState]:
    """Stereo ping-pong delay: two delay lines, each feeding back into the other.

    ``uL = xL + feedback yR``, ``uR = xR + feedback yL``, ``y(t) = u(t - delay)``: echoes
    bounce left, right, left... A mono input enters the left line only (the first echo
    is on the left). Run exactly as two single-line delays on the sum (feedback ``+fb``)
    and difference (``-fb``) of the lines, so it shares the fractional delay kernel and is
    differentiable in the delay time.

    Args:
        x: audio ``(..., C, T)``, ``C`` in {1, 2}.
        sample_rate: Hz.
        delay_ms: ms per bounce, ``>= 1000 / sample_rate``; float, per item or time-varying.
        feedback: in ``(-1, 1)``.
        mix: 0 dry .. 1 wet.
        state: the two lines' :class:`DelayState` (``(..., 2, H)``) of a previous block.
        return_state: also return the final state.

    Returns:
        ``(..., 2, T)``, or ``(y, state)``. Gradients: x, delay_ms, feedback, mix.
    """
    x = check_mono_or_stereo(x)
    check_sample_rate(sample_rate)
    check_range(delay_ms, "delay_ms", 1000.0 / sample_rate, math.inf, low_inclusive=True)
    check_range(feedback, "feedback", -1.0, 1.0)
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    left = x[..., 0:1, :]
    right = x[..., 1:2, :] if x.shape[-2] == 2 else torch.zeros_like(left)
    d = as_control(delay_ms, left, "delay_ms") * (sample_rate / 1000.0)
    fb = as_control(feedback, left, "feedback")
    both = torch.cat([left + right, left - right], -2)  # sum and difference lines
    fb2 = torch.cat([fb, -fb], -2) if fb.ndim >= 2 else torch.stack([fb, -fb], -2)
    if return_state and state is None:
        state = delay_state(both, float(d.detach().max()))
    y, new = _delay_line(both, d, fb2, state)
    wet = torch.cat([y[..., 0:1, :] + y[..., 1:2, :], y[..., 0:1, :] - y[..., 1:2, :]], -2) / 2
    dry = left.expand(*left.shape[:-2], 2, left.shape[-1]) if x.shape[-2] == 1 else x
    m = as_control(mix, left, "mix")
    out = (1 - m) * dry + m * wet
    return (out, new) if return_state else out
