"""Algorithmic reverbs on the delay-network kernel: the feedback delay network (FDN) and
Freeverb. Audio in ``(..., C, T)`` with ``C`` 1 or 2, stereo out ``(..., 2, T)``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from .._checks import (
    _checking,
    check_finite,
    check_mono_or_stereo,
    check_range,
    check_sample_rate,
)
from ._controls import as_control
from .delays import _delay_line

__all__ = [
    "fdn_reverb",
    "fdn_state",
    "FDNState",
    "freeverb_state",
    "FreeverbState",
    "fdn_delays",
    "orthogonal",
    "absorption",
    "freeverb",
]

_LN_1000 = math.log(1000.0)
_MIN_CORNER_HZ = 20.0  # lowest corner of the absorption filters (see absorption)


def orthogonal(weight: torch.Tensor) -> torch.Tensor:
    """An orthogonal matrix from any square ``weight (..., N, N)``: ``expm(W - W^T)``.

    The exponential of a skew-symmetric matrix is a rotation, so a feedback matrix built
    this way stays exactly orthogonal (lossless) whatever the optimiser does to ``W``.
    """
    check_finite(weight, "weight")
    return torch.linalg.matrix_exp(weight - weight.transpose(-1, -2))


def _primes_up_to(n: int) -> list[int]:
    sieve = bytearray([1]) * (n + 1)
    sieve[:2] = b"\x00\x00"
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return [i for i in range(n + 1) if sieve[i]]


def fdn_delays(
    n_lines: int, *, sample_rate: float, min_ms: float = 20.0, max_ms: float = 50.0
) -> list[int]:
    """``n_lines`` distinct prime delay lengths in samples, spread geometrically between
    ``min_ms`` and ``max_ms`` (primes are mutually coprime, so echoes do not pile up)."""
    if not 1 <= n_lines <= 64:
        raise ValueError(f"expected 1 <= n_lines <= 64, got {n_lines}")
    if not 0 < min_ms <= max_ms:
        raise ValueError(f"expected 0 < min_ms <= max_ms, got {min_ms}, {max_ms}")
    lo, hi = min_ms * sample_rate / 1000, max_ms * sample_rate / 1000
    primes = _primes_up_to(int(hi * 1.5) + 100)
    out: list[int] = []
    for i in range(n_lines):
        target = lo * (hi / lo) ** (i / max(n_lines - 1, 1))
        best = min((p for p in primes if p not in out), key=lambda p: abs(p - target))
        out.append(best)
    return out


def absorption(
    delays: torch.Tensor,
    *,
    sample_rate: float,
    rt60_s: torch.Tensor,
    high_rt60_ratio: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One-pole absorption filters ``H_i(z) = k_i / (1 - p_i z^-1)`` for lines of
    ``delays`` samples, so that every pass through line ``i`` loses exactly what a decay of
    60 dB in ``rt60_s`` (at DC) and in ``rt60_s * high_rt60_ratio`` (at Nyquist) allows.

    ``|H(1)| = g_dc = 1000^(-m / (fs rt60))``, ``|H(-1)| = g_ny`` likewise, solved exactly:
    ``p = (1 - r) / (1 + r)`` with ``r = g_ny / g_dc``, ``k = g_dc (1 - p)``. Any positive
    decay times give ``|p| < 1`` and ``g < 1``: stable for all parameter values.

    The DC gain is always exact. The Nyquist gain is exact while the pole keeps the filter's
    corner at or above 20 Hz (``|p| <= 1 - 2 pi 20 / fs``); a decay at Nyquist much faster
    than at DC (short ``rt60_s``, long lines, small ratio) would need a pole closer to 1,
    where a one-pole passes nothing but DC (and, in float32, the pole rounds to 1: exact
    silence, no gradients). There the corner stays at 20 Hz and Nyquist decays as fast as
    that allows, at least 50 dB per pass faster than DC (at 48 kHz and below).

    Shapes: ``delays (N,)``, ``rt60_s`` and ``high_rt60_ratio`` ``(R, 1)``; returns ``k, p (R, N)``.
    """
    m = delays.to(rt60_s.dtype)
    log_g_dc = -_LN_1000 * m / (sample_rate * rt60_s)
    log_r = log_g_dc / high_rt60_ratio - log_g_dc
    limit = 2 * math.atanh(1 - 2 * math.pi * _MIN_CORNER_HZ / sample_rate)
    # the clamp passes gradients straight through (as the processors' range clip does), so
    # a ratio beyond the limit still learns which way brightens or darkens the tail
    log_r = log_r + (log_r.clamp(-limit, limit) - log_r).detach()
    p = -torch.tanh(log_r / 2)  # (1 - r) / (1 + r), |p| < 1
    return torch.exp(log_g_dc) * (1 - p), p


def _row_control(value: float | torch.Tensor, x: torch.Tensor, name: str) -> torch.Tensor:
    """A per-item control as ``(R, 1)`` over the rows ``x.shape[:-2]`` (or ``(1, 1)``)."""
    c = as_control(value, x, name)
    if c.shape[-1] != 1:
        raise ValueError(f"expected {name} as a float or one value per item, not time-varying")
    if c.ndim == 1 or c.numel() == 1:
        return c.reshape(1, 1)
    c = c.expand(*x.shape[:-1], 1)[..., 0, :]  # channels share the reverb's settings
    return c.reshape(-1, 1)


def _network(
    x: torch.Tensor,
    B: torch.Tensor,
    A: torch.Tensor,
    k: torch.Tensor,
    p: torch.Tensor,
    m: torch.Tensor,
    Ca: torch.Tensor,
    Cs: torch.Tensor,
    D: torch.Tensor,
) -> torch.Tensor:
    """Run the delay-network kernel: ``x (R, Ci, T)`` -> ``y (R, Co, T)``."""
    from ..ops import NetworkFunction

    n_r = x.shape[0]
    rows = max(k.shape[0], p.shape[0])
    k, p = k.expand(rows, -1), p.expand(rows, -1)
    taps = max(Ca.shape[0], Cs.shape[0], D.shape[0])
    Ca, Cs, D = Ca.expand(taps, -1, -1), Cs.expand(taps, -1, -1), D.expand(taps, -1, -1)
    for name, t in (("controls", k), ("feedback_matrix", A), ("delays", m), ("mix", Ca)):
        if t.shape[0] not in (1, n_r):
            raise ValueError(f"expected {name} for 1 or {n_r} items, got {t.shape[0]}")
    args = (x, B, A, k, p, m, Ca, Cs, D)
    y, _a, _v = NetworkFunction.apply(*(t.contiguous() for t in args))
    return y


class NetworkState(NamedTuple):
    """State of a delay network between blocks (see :func:`_network_block`).

    Attributes:
        ring: ``(R, N, M)`` the last ``M = max(delays)`` values entering each line.
        head: where the next value goes in ``ring``.
        filters: ``(R, N, 1)`` each line's one-pole filter output of the last sample.
    """

    ring: torch.Tensor
    head: int
    filters: torch.Tensor


def network_state(
    rows: int, n_lines: int, longest: int, *, dtype: torch.dtype, device: Any
) -> NetworkState:
    """The state of a silent delay network."""
    ring = torch.zeros(rows, n_lines, longest, dtype=dtype, device=device)
    return NetworkState(ring, 0, torch.zeros(rows, n_lines, 1, dtype=dtype, device=device))


def _network_block(
    x: torch.Tensor,
    B: torch.Tensor,
    A: torch.Tensor,
    k: torch.Tensor,
    p: torch.Tensor,
    m: torch.Tensor,
    Ca: torch.Tensor,
    Cs: torch.Tensor,
    D: torch.Tensor,
    state: NetworkState,
) -> tuple[torch.Tensor, NetworkState]:
    """The delay network of :func:`_network` on one block, from ``state``, in torch.

    The same recursion as ``kernels/fdn.py`` (its docstring), run in sub-blocks no longer
    than the shortest line, so a sub-block's line outputs were all written before it:
    gather them from the ring, filter them (one-pole, :func:`~ddsp.functional.allpole`),
    mix them back through the matrix and write them. Differentiable within the block.
    """
    from .filters import allpole

    n_r, _, n_t = x.shape
    ring, head, filt = state.ring, state.head, state.filters
    longest = ring.shape[-1]
    mm = m.to(torch.int64).expand(n_r, -1)  # (R, N)
    shortest = max(1, int(mm.min()))
    coef = -p.expand(n_r, -1)[..., None]  # (R, N, 1): a[t] = k s[t] + p a[t-1]
    gain = k.expand(n_r, -1)[..., None]
    ys, pos = [], 0
    while pos < n_t:
        n = min(shortest, n_t - pos)
        t = torch.arange(n, device=x.device)
        read = (head + t[None, None, :] - mm[..., None]) % longest  # (R, N, n)
        s = ring.gather(-1, read)
        a, last = allpole(gain * s, coef, filt, return_state=True)
        xs = x[..., pos : pos + n]
        v = A @ a + torch.einsum("nc,rct->rnt", B, xs)
        ys.append(Ca @ a + Cs @ s + D @ xs)
        write = (head + t) % longest
        ring = ring.index_copy(-1, write, v)
        head, filt, pos = (head + n) % longest, last, pos + n
    y = torch.cat(ys, -1) if ys else x.new_zeros((n_r, Ca.shape[-2], 0))
    return y, NetworkState(ring.detach(), head, filt.detach())


def _channel_shared(c: torch.Tensor) -> torch.Tensor:
    """A control from :func:`as_control` for ``(..., C, T)`` audio, first channel's value
    kept so it broadcasts over a stereo output whatever ``C`` the input had."""
    return c[..., :1, :] if c.ndim >= 2 else c


def _stereo_dry(x: torch.Tensor) -> torch.Tensor:
    return x.expand(*x.shape[:-2], 2, x.shape[-1]) if x.shape[-2] == 1 else x


def fdn_reverb(
    x: torch.Tensor,
    *,
    sample_rate: float,
    delays: Sequence[int] | torch.Tensor,
    feedback_matrix: torch.Tensor,
    rt60_s: float | torch.Tensor = 1.5,
    high_rt60_ratio: float | torch.Tensor = 0.5,
    input_gains: torch.Tensor | None = None,
    output_gains: torch.Tensor | None = None,
    pre_delay_ms: float = 0.0,
    mix: float | torch.Tensor = 0.3,
    state: FDNState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, FDNState]:
    """Feedback delay network reverb, run sample by sample in the delay-network kernel.

    The input (downmixed to mono) enters ``N`` delay lines with ``input_gains``; each
    line's output passes a one-pole absorption filter set from the decay times (see
    :func:`absorption`), is mixed back into the lines by ``feedback_matrix`` and tapped to
    the two outputs by ``output_gains``. With an orthogonal matrix every echo path loses
    60 dB per ``rt60_s`` at DC (``rt60_s * high_rt60_ratio`` at Nyquist): the decay is
    set exactly, independent of the delays.

    Args:
        x: audio ``(..., C, T)``, ``C`` in {1, 2}; leave room at the end for the tail.
        sample_rate: Hz.
        delays: ``N`` line lengths in samples (integers >= 1; see :func:`fdn_delays`).
        feedback_matrix: ``(N, N)`` or per item ``(..., N, N)``; orthogonal for a lossless
            mixing (see :func:`orthogonal`), at least contractive (checked).
        rt60_s: decay time in s, float or per item.
        high_rt60_ratio: decay time at Nyquist relative to ``rt60_s``, float or per item.
        input_gains: ``(N,)``; default ``1/sqrt(N)`` each.
        output_gains: ``(2, N)``; default alternating signs per channel (decorrelated).
        pre_delay_ms: silence before the first echo (whole samples, not differentiable).
        mix: 0 dry .. 1 wet, float, per item or (streamed) per sample.
        state: a previous block's :class:`FDNState` (see :func:`fdn_state`): the block then
            runs in torch from that state (:func:`_network_block`), as a stream.
        return_state: also return the final state (starting from silence if ``state`` is
            None).

    Returns:
        ``(..., 2, T)``, or ``(y, state)``. Gradients: x, feedback_matrix, rt60_s,
        high_rt60_ratio, the gains, mix.
    """
    x = check_mono_or_stereo(x)
    m = torch.as_tensor(delays, device=x.device).reshape(1, -1)
    if m.dtype.is_floating_point or m.numel() == 0 or bool((m < 1).any()):
        raise ValueError(f"expected delays as integers >= 1, got {delays!r}")
    n_l = m.shape[1]
    m = m.to(torch.int64)
    if not isinstance(feedback_matrix, torch.Tensor) or feedback_matrix.shape[-2:] != (n_l, n_l):
        got = getattr(feedback_matrix, "shape", type(feedback_matrix).__name__)
        raise ValueError(f"expected feedback_matrix of shape (..., {n_l}, {n_l}), got {got}")
    check_sample_rate(sample_rate)
    check_finite(feedback_matrix, "feedback_matrix")
    check_finite(input_gains, "input_gains")
    check_finite(output_gains, "output_gains")
    A = feedback_matrix.to(x.dtype)
    if _checking(A):
        norm = float(torch.linalg.matrix_norm(A.detach(), ord=2).max())
        if not norm <= 1 + 1e-4:  # float32 rounding of an orthogonal matrix
            raise ValueError(
                f"expected an orthogonal or contractive feedback_matrix (spectral norm <= 1), "
                f"got norm {norm:.4g}: the reverb would never decay"
            )
    check_range(rt60_s, "rt60_s", 0.0, math.inf)
    check_range(high_rt60_ratio, "high_rt60_ratio", 0.0, math.inf)
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    check_range(pre_delay_ms, "pre_delay_ms", 0.0, math.inf, low_inclusive=True)
    gin = torch.full((n_l,), n_l**-0.5, dtype=x.dtype, device=x.device)
    gin = gin if input_gains is None else input_gains.to(x.dtype)
    if gin.shape != (n_l,):
        raise ValueError(f"expected input_gains of shape ({n_l},), got {tuple(gin.shape)}")
    if output_gains is None:
        sign = torch.tensor([1.0, -1.0], dtype=x.dtype, device=x.device)
        gout = torch.stack([sign.repeat(n_l)[:n_l], sign.repeat(n_l)[1 : n_l + 1]]) * n_l**-0.5
        gout[1, ::4] *= -1  # make the two channels' taps differ by more than a sign
    else:
        gout = output_gains.to(x.dtype)
    if gout.shape != (2, n_l):
        raise ValueError(f"expected output_gains of shape (2, {n_l}), got {tuple(gout.shape)}")

    batch, (n_c, n_t) = x.shape[:-2], x.shape[-2:]
    rows = x.reshape(-1, n_c, n_t)
    if A.ndim > 2:
        A = A.expand(*batch, n_l, n_l).reshape(-1, n_l, n_l)
    else:
        A = A[None]
    rt = _row_control(rt60_s, x, "rt60_s")
    ratio = _row_control(high_rt60_ratio, x, "high_rt60_ratio")
    k, p = absorption(m[0], sample_rate=sample_rate, rt60_s=rt, high_rt60_ratio=ratio)
    # the dry signal (upmixed to stereo) rides the kernel's direct path, scaled by 1 - mix
    dry = torch.ones(2, n_c, dtype=x.dtype, device=x.device) if n_c == 1 else None
    dry = torch.eye(2, dtype=x.dtype, device=x.device) if dry is None else dry
    B = gin[:, None].expand(n_l, n_c) / n_c  # the lines hear the mono downmix
    shift = int(round(pre_delay_ms * sample_rate / 1000.0))
    if state is None and return_state:
        state = fdn_state(rows.shape[0], m[0].tolist(), shift, dtype=x.dtype, device=x.device)
    if state is not None:  # the lines hear the downmix through the pre-delay's FIFO
        mono = rows.mean(-2, keepdim=True)
        joined = torch.cat([state.pre.expand(rows.shape[0], 1, -1), mono], -1)
        late = joined[..., :n_t]
        pre = joined[..., joined.shape[-1] - state.pre.shape[-1] :].detach()
        rows_in = torch.cat([rows, late], -2)
        B2 = torch.cat([torch.zeros_like(B), gin[:, None]], -1)
        zero = torch.zeros(2, n_c, dtype=x.dtype, device=x.device)
        wet, net = _network_block(
            rows_in, B2, A, k, p, m, gout[None], torch.zeros_like(gout)[None],
            torch.cat([zero, zero[:, :1]], -1)[None], state.network,
        )  # fmt: skip
        mx = _channel_shared(as_control(mix, x, "mix"))
        mx = mx.reshape(-1, 1, mx.shape[-1])
        y = (1 - mx) * (dry @ rows) + mx * wet
        y = y.reshape(*batch, 2, n_t)
        return (y, FDNState(net, pre)) if return_state else y
    mx = _row_control(mix, x, "mix")[:, :, None]  # (R or 1, 1, 1)
    if shift:  # the lines hear a delayed copy, fed as an extra input channel
        late = torch.nn.functional.pad(rows.mean(-2, keepdim=True), (shift, 0))[..., :n_t]
        rows = torch.cat([rows, late], -2)
        B = torch.cat([torch.zeros_like(B), gin[:, None]], -1)
        dry = torch.cat([dry, torch.zeros(2, 1, dtype=x.dtype, device=x.device)], -1)
    y = _network(rows, B, A, k, p, m, mx * gout, torch.zeros_like(gout)[None], (1 - mx) * dry)
    return y.reshape(*batch, 2, n_t)


class FDNState(NamedTuple):
    """State of :func:`fdn_reverb` between blocks: the network and the pre-delay's FIFO."""

    network: NetworkState
    pre: torch.Tensor  # (R, 1, shift) the downmix's last ``shift`` samples


def fdn_state(
    rows: int, delays: Sequence[int], pre_delay: int, *, dtype: torch.dtype, device: Any
) -> FDNState:
    """The state of a silent FDN stream: ``rows`` items, line ``delays`` and a pre-delay in
    samples."""
    net = network_state(rows, len(delays), max(delays), dtype=dtype, device=device)
    return FDNState(net, torch.zeros(rows, 1, pre_delay, dtype=dtype, device=device))


# Freeverb's tuning at 44.1 kHz (Jezar at Dreampoint, public domain)
_COMBS = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)
_ALLPASSES = (556, 441, 341, 225)
_SPREAD = 23
_FIXED_GAIN = 0.015
_WET_SCALE = 3.0


def freeverb(
    x: torch.Tensor,
    *,
    sample_rate: float,
    room_size: float | torch.Tensor = 0.5,
    damping: float | torch.Tensor = 0.5,
    width: float | torch.Tensor = 1.0,
    mix: float | torch.Tensor = 0.33,
    state: FreeverbState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, FreeverbState]:
    """Freeverb: 8 parallel lowpass-feedback combs into 4 series allpasses, per channel.

    The classic Schroeder-Moorer design with Freeverb's tuning (line lengths scaled from
    44.1 kHz by integer division, as Freeverb and JUCE do; the right channel's lines are
    23 samples longer at 44.1 kHz). Comb feedback is
    ``0.7 + 0.28 room_size``, the in-loop lowpass coefficient ``0.4 damping``.

    Args:
        x: audio ``(..., C, T)``, ``C`` in {1, 2} (the tank is fed the mono sum).
        room_size, damping: in [0, 1], float or per item.
        width: stereo width of the wet signal in [0, 1].
        mix: 0 dry .. 1 wet.
        state: a previous block's :class:`FreeverbState` (see :func:`freeverb_state`).
        return_state: also return the final state.

    Returns:
        ``(..., 2, T)``, or ``(y, state)``. Gradients: x, room_size, damping, width, mix.
    """
    x = check_mono_or_stereo(x)
    check_sample_rate(sample_rate)
    for name, value in (("room_size", room_size), ("damping", damping), ("width", width)):
        check_range(value, name, 0.0, 1.0, low_inclusive=True, high_inclusive=True)
    check_range(mix, "mix", 0.0, 1.0, low_inclusive=True, high_inclusive=True)

    lengths = torch.tensor(_freeverb_lengths(sample_rate, _COMBS), device=x.device)
    batch, n_t = x.shape[:-2], x.shape[-1]
    n_items = math.prod(batch)
    mono = x.sum(-2).reshape(-1, 1, n_t)
    rows = mono.expand(n_items, 2, n_t).reshape(-1, 1, n_t)  # (item, channel) rows
    fb = 0.7 + 0.28 * _row_control(room_size, x, "room_size")  # (R or 1, 1)
    damp = 0.4 * _row_control(damping, x, "damping")
    fb2 = fb.repeat_interleave(2, 0) if fb.shape[0] > 1 else fb
    damp2 = damp.repeat_interleave(2, 0) if damp.shape[0] > 1 else damp
    n_c = len(_COMBS)
    A = fb2[:, :, None] * torch.eye(n_c, dtype=x.dtype, device=x.device)
    k = (1 - damp2).expand(-1, n_c)
    p = damp2.expand(-1, n_c)
    m = lengths.repeat(n_items, 1) if n_items > 1 else lengths
    B = torch.full((n_c, 1), _FIXED_GAIN, dtype=x.dtype, device=x.device)
    taps = torch.ones(1, 1, n_c, dtype=x.dtype, device=x.device)
    direct = torch.zeros(1, 1, 1, dtype=x.dtype, device=x.device)
    if state is None and return_state:
        state = freeverb_state(n_items, sample_rate, dtype=x.dtype, device=x.device)
    args = (rows, B, A, k, p, m, torch.zeros_like(taps), taps, direct)
    if state is None:
        y = _network(*args)[:, 0]  # combs' sum
    else:
        y, net = _network_block(*args, state.network)
        y = y[:, 0]
    passes = []
    for i, (left, right) in enumerate(_freeverb_lengths(sample_rate, _ALLPASSES, columns=True)):
        d = torch.tensor([[left], [right]], dtype=x.dtype, device=x.device).repeat(n_items, 1)
        fbk = torch.full((1, 1), 0.5, dtype=x.dtype, device=x.device).expand(y.shape[0], 1)
        out, line = _delay_line(y, d, fbk, None if state is None else state.allpasses[i])
        y = out - y
        passes.append(line)
    wet = y.reshape(*batch, 2, n_t) * _WET_SCALE
    w = _channel_shared(as_control(width, x, "width"))
    left, right = wet[..., 0:1, :], wet[..., 1:2, :]
    wet1, wet2 = (1 + w) / 2, (1 - w) / 2
    wet = torch.cat([wet1 * left + wet2 * right, wet1 * right + wet2 * left], -2)
    mx = _channel_shared(as_control(mix, x, "mix"))
    y = (1 - mx) * _stereo_dry(x) + mx * wet
    return (y, FreeverbState(net, passes)) if state is not None and return_state else y


def _freeverb_lengths(
    sample_rate: float, tunings: Sequence[int], columns: bool = False
) -> list[list[int]]:
    """Line lengths at ``sample_rate``: left and right (23 samples longer at 44.1 kHz),
    scaled by integer division as Freeverb and JUCE do. Rows ``[left, right]`` of all the
    tunings, or with ``columns`` one ``[left, right]`` per tuning."""

    def scale(n: int) -> int:
        return max(1, int(sample_rate) * n // 44100)

    rows = [[scale(c) for c in tunings], [scale(c + _SPREAD) for c in tunings]]
    return [list(pair) for pair in zip(*rows)] if columns else rows


class FreeverbState(NamedTuple):
    """State of :func:`freeverb` between blocks: the comb network and the allpass lines."""

    network: NetworkState
    allpasses: list


def freeverb_state(
    items: int, sample_rate: float, *, dtype: torch.dtype, device: Any
) -> FreeverbState:
    """The state of a silent Freeverb stream of ``items`` signals (two rows each)."""
    from .delays import DelayState

    longest = max(max(row) for row in _freeverb_lengths(sample_rate, _COMBS))
    net = network_state(2 * items, len(_COMBS), longest, dtype=dtype, device=device)
    passes = []
    for pair in _freeverb_lengths(sample_rate, _ALLPASSES, columns=True):
        ring = torch.zeros(2 * items, max(pair) + 2, dtype=dtype, device=device)
        passes.append(DelayState(ring, 0))
    return FreeverbState(net, passes)
