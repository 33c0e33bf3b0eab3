"""Dynamics: compressor, limiter, expander/gate (feed-forward, peak or RMS detection).

Signal flow (Giannoulis, Massberg & Reiss, "Digital dynamic range compressor design",
JAES 2012): detector level in dB -> static gain curve with a soft knee -> attack/release
smoothing of the linear gain -> make-up gain. The smoothing is a one-pole whose branch
(attack or release) depends on the signal: a kernel records the branch taken, then the
resulting time-varying linear recursion runs through the all-pole op, whose exact
adjoint gives gradients for every control (the branch itself is piecewise constant).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .._checks import check_finite, check_range, check_signal
from ..ops import DynamicsFunction, envelope_mask
from ..units import ms_to_coef
from ._controls import as_control
from .filters import _batch_shape, _rows, allpole

__all__ = [
    "compressor",
    "limiter",
    "expander",
    "smooth_gain",
    "gain_curve_db",
    "DETECTORS",
    "KINDS",
    "DynamicsState",
]

DETECTORS = ("peak", "rms", "envelope")
KINDS = ("compressor", "expander")
_FLOOR = 1e-10  # level floor (-200 dB): silence stays finite in dB and in gradients


def gain_curve_db(
    level_db: torch.Tensor,
    threshold_db: float | torch.Tensor,
    ratio: float | torch.Tensor,
    knee_db: float | torch.Tensor,
    *,
    kind: str = "compressor",
) -> torch.Tensor:
    """Static gain (dB, <= 0) of a soft-knee ``"compressor"`` or (downward) ``"expander"``.

    Compressor: ``(1/ratio - 1) * over`` above the knee, ``(1/ratio - 1)(over + W/2)^2/(2W)``
    inside it (``over = level - threshold``, ``W = knee_db``), 0 below. The expander
    mirrors it below the threshold with slope ``ratio - 1``. ``ratio = inf`` is a limiter.
    """
    if kind not in KINDS:
        raise ValueError(f"expected kind in {KINDS}, got {kind!r}")
    level_db = check_signal(level_db, "level_db")
    check_finite(threshold_db, "threshold_db")
    check_finite(ratio, "ratio", allow_inf=True)  # inf: a limiter
    check_finite(knee_db, "knee_db")
    width = knee_db.clamp_min(1e-6) if isinstance(knee_db, torch.Tensor) else max(knee_db, 1e-6)
    if kind == "compressor":
        slope = 1.0 / ratio - 1.0
        over = level_db - threshold_db
    else:
        slope = -(ratio - 1.0)
        over = threshold_db - level_db
    knee = slope * (over + width / 2) ** 2 / (2 * width)
    return torch.where(
        over <= -width / 2,
        torch.zeros_like(over),
        torch.where(over >= width / 2, slope * over, knee),
    )


def smooth_gain(
    gain: torch.Tensor,
    attack_coef: float | torch.Tensor,
    release_coef: float | torch.Tensor,
    *,
    initial: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """Attack/release one-pole on a gain ``(..., T)``: attack where the gain falls.

    ``y[t] = c y[t-1] + (1 - c) gain[t]`` with ``c`` the attack coefficient where
    ``gain[t] < y[t-1]``, else the release one. Coefficients: floats, per item or per
    sample (as controls). Gradients: gain, both coefficients, initial.
    """
    gain = check_signal(gain, "gain")
    c_a = as_control(attack_coef, gain, "attack_coef")
    c_r = as_control(release_coef, gain, "release_coef")
    y0 = as_control(initial, gain, "initial")[..., 0]
    if y0.ndim == 0 or y0.shape == (1,):
        y0 = y0.reshape(()).expand(gain.shape[:-1])
    batch = _batch_shape(
        gain, c_a.shape[:-1], c_r.shape[:-1], y0.shape, names=("attack", "release", "initial")
    )
    n_t = gain.shape[-1]
    g_rows = _rows(gain, batch, (n_t,))
    a_rows = _rows(c_a, batch, (c_a.shape[-1],))
    r_rows = _rows(c_r, batch, (c_r.shape[-1],))
    y0_rows = _rows(y0, batch, ())
    mask = envelope_mask(g_rows, a_rows, r_rows, y0_rows)
    c = torch.where(mask, a_rows.expand(-1, n_t), r_rows.expand(-1, n_t))
    y = allpole((1 - c) * g_rows, -c[..., None], y0_rows[:, None])
    return y.reshape(*batch, n_t)


class DynamicsState(NamedTuple):
    """State of a compressor, limiter or expander between blocks.

    Attributes:
        gain: the smoothed linear gain of the last sample, ``(..., 1)`` per detector row
            (channels linked: one row per item).
        power: the RMS detector's mean square per channel ``(..., channels)``, or None
            for the peak detector.
    """

    gain: torch.Tensor
    power: torch.Tensor | None


def _level_db(
    x: torch.Tensor,
    detector: str,
    rms_ms: float,
    sample_rate: float,
    link_channels: bool,
    power_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Detector level in dB, and the RMS detector's final mean square (None for peak)."""
    if detector not in DETECTORS:
        raise ValueError(f"expected detector in {DETECTORS}, got {detector!r}")
    final = None
    if detector == "peak":
        power = x.square()
    else:
        coef = ms_to_coef(rms_ms, sample_rate)
        a = torch.tensor([-coef], dtype=x.dtype, device=x.device)
        zi = None if power_state is None else power_state.detach()[..., None]
        power, final = allpole((1 - coef) * x.square(), a, zi, return_state=True)
        final = final[..., 0].detach()
    if link_channels:
        if x.ndim < 2:
            raise ValueError(
                f"expected (..., channels, time) audio to link channels, got {tuple(x.shape)}"
            )
        power = power.amax(dim=-2, keepdim=True)
    return 10.0 * torch.log10(power.clamp_min(0.0) + _FLOOR**2), final


def _dynamics(
    x,
    sample_rate,
    threshold_db,
    ratio,
    attack_ms,
    release_ms,
    knee_db,
    makeup_db,
    detector,
    rms_ms,
    link_channels,
    kind,
    fused=True,
    state: DynamicsState | None = None,
    return_state: bool = False,
):
    x = check_signal(x)
    check_range(sample_rate, "sample_rate", 0.0, math.inf)
    check_range(threshold_db, "threshold_db", -math.inf, math.inf)
    check_range(makeup_db, "makeup_db", -math.inf, math.inf)
    check_range(rms_ms, "rms_ms", 0.0, math.inf)  # also when unused: never a silent NaN
    check_range(attack_ms, "attack_ms", 0.0, math.inf)
    check_range(release_ms, "release_ms", 0.0, math.inf)
    check_range(ratio, "ratio", 1.0, math.inf, low_inclusive=True, high_inclusive=True)
    check_range(knee_db, "knee_db", 0.0, 60.0, low_inclusive=True, high_inclusive=True)
    if detector not in DETECTORS:
        raise ValueError(f"expected detector in {DETECTORS}, got {detector!r}")
    ctl = {
        name: as_control(v, x, name, allow_inf=name == "ratio")
        for name, v in (
            ("threshold_db", threshold_db),
            ("ratio", ratio),
            ("knee_db", knee_db),
            ("makeup_db", makeup_db),
            ("attack_ms", attack_ms),
            ("release_ms", release_ms),
        )
    }
    static = all(t.shape[-1] == 1 for t in ctl.values())
    if detector == "envelope":
        return _envelope_dynamics(x, ctl, sample_rate, link_channels, kind, state, return_state)
    initial = 1.0 if state is None else state.gain.detach()
    if fused and static and detector == "peak" and not link_channels:
        y, gain = _fused(x, ctl, sample_rate, kind == "compressor", initial)
        return (y, DynamicsState(gain, None)) if return_state else y
    power_state = None if state is None else state.power
    level, power = _level_db(x, detector, rms_ms, sample_rate, link_channels, power_state)
    gain_db = gain_curve_db(level, ctl["threshold_db"], ctl["ratio"], ctl["knee_db"], kind=kind)
    smoothed = smooth_gain(
        torch.pow(10.0, gain_db / 20.0),
        ms_to_coef(ctl["attack_ms"], sample_rate),
        ms_to_coef(ctl["release_ms"], sample_rate),
        initial=initial,
    )
    y = x * smoothed * torch.pow(10.0, ctl["makeup_db"] / 20.0)
    if not return_state:
        return y
    gain = smoothed[..., -1:].detach() if smoothed.shape[-1] else torch.as_tensor(initial)
    return y, DynamicsState(gain, power)


def _envelope_dynamics(
    x: torch.Tensor,
    ctl: dict[str, torch.Tensor],
    sample_rate: float,
    link_channels: bool,
    kind: str,
    state: DynamicsState | None,
    return_state: bool,
):
    """The ``"envelope"`` detector: the level is ``|x|`` through the attack/release one-pole
    (attack where it rises), the static curve gives the gain, which is not smoothed again:
    JUCE's ``dsp::Compressor`` (its ballistics filter), with a knee. The envelope's last
    value per channel is the state (in ``DynamicsState.power``)."""
    start = 0.0 if state is None or state.power is None else -state.power.detach()[..., None]
    # smooth_gain attacks where its input falls: on -|x| that is where the level rises
    env = -smooth_gain(
        -x.abs(),
        ms_to_coef(ctl["attack_ms"], sample_rate),
        ms_to_coef(ctl["release_ms"], sample_rate),
        initial=start,
    )
    level_env = env
    if link_channels:
        if x.ndim < 2:
            raise ValueError(
                f"expected (..., channels, time) audio to link channels, got {tuple(x.shape)}"
            )
        level_env = env.amax(dim=-2, keepdim=True)
    level = 20.0 * torch.log10(level_env.clamp_min(0.0) + _FLOOR)
    gain_db = gain_curve_db(level, ctl["threshold_db"], ctl["ratio"], ctl["knee_db"], kind=kind)
    gain = torch.pow(10.0, gain_db / 20.0)
    y = x * gain * torch.pow(10.0, ctl["makeup_db"] / 20.0)
    if not return_state:
        return y
    last = env[..., -1].detach() if env.shape[-1] else (-start)[..., 0] * torch.ones(x.shape[:-1])
    g = gain[..., -1:].detach() if gain.shape[-1] else torch.ones(*x.shape[:-1], 1)
    return y, DynamicsState(g, last)


def _fused(
    x: torch.Tensor,
    ctl: dict[str, torch.Tensor],
    sample_rate: float,
    compress: bool,
    initial: float | torch.Tensor = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Peak detector with static controls: one fused kernel pass (``kernels/compressor.py``).

    Returns the output and the smoothed gain of the last sample ``(..., 1)``."""
    shapes = [t.shape[:-1] for t in ctl.values()]
    if isinstance(initial, torch.Tensor):
        shapes.append(initial.shape[:-1])
    batch = _batch_shape(x, *shapes, names=(*ctl, "state")[: len(shapes)])
    n_t = x.shape[-1]
    cols = [
        ctl["threshold_db"],
        ctl["ratio"],
        ctl["knee_db"],
        ms_to_coef(ctl["attack_ms"], sample_rate),
        ms_to_coef(ctl["release_ms"], sample_rate),
        torch.pow(10.0, ctl["makeup_db"] / 20.0),
    ]
    p = torch.stack([_rows(c[..., 0].to(torch.float64), batch, ()) for c in cols], dim=-1)
    if isinstance(initial, torch.Tensor):
        y0 = _rows(initial[..., 0].to(torch.float64), batch, ())
    else:
        y0 = torch.full((p.shape[0],), float(initial), dtype=torch.float64, device=x.device)
    out, ys, *_ = DynamicsFunction.apply(_rows(x, batch, (n_t,)), p, y0, _FLOOR**2, compress)
    last = ys[:, -1:] if n_t else y0[:, None].to(x.dtype)
    return out.reshape(*batch, n_t), last.reshape(*batch, 1)


def compressor(
    x: torch.Tensor,
    threshold_db: float | torch.Tensor,
    ratio: float | torch.Tensor,
    attack_ms: float | torch.Tensor,
    release_ms: float | torch.Tensor,
    *,
    sample_rate: float,
    knee_db: float | torch.Tensor = 6.0,
    makeup_db: float | torch.Tensor = 0.0,
    detector: str = "peak",
    rms_ms: float = 10.0,
    link_channels: bool = False,
    state: DynamicsState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, DynamicsState]:
    """Feed-forward compressor with a soft knee and attack/release smoothing.

    Args:
        x: audio ``(..., T)``.
        sample_rate: Hz.
        threshold_db: dB; float, per item or time-varying (controls as for the filters).
        ratio: ``>= 1`` (``inf``: limiter).
        attack_ms, release_ms: 10-90 % times of the gain smoothing, ms, ``> 0``.
        knee_db: knee width in dB, ``>= 0``.
        makeup_db: gain after compression, dB.
        detector: ``"peak"``, ``"rms"`` (one-pole mean square over ``rms_ms``) or
            ``"envelope"``: ``|x|`` through the attack/release one-pole, then the curve,
            the gain itself not smoothed (JUCE's ``dsp::Compressor``, pedalboard's).
        link_channels: detect on the loudest channel (``dim=-2``) so the image holds.
        state: a previous block's :class:`DynamicsState`; None starts from unity gain.
        return_state: also return the final state.

    Returns:
        ``(..., T)``, or ``(y, state)``. Devices: cpu, cuda. Gradients: x and every control
        (within a block: the carried state holds values).

    >>> x = torch.ones(1, 4800)
    >>> y = compressor(x, -12.0, 4.0, 1.0, 50.0, sample_rate=48000, knee_db=0.0)
    >>> round(20 * math.log10(float(y[0, -1])), 2)  # 0 dB in: -12 + 12 / 4 = -9 dB out
    -9.0
    """
    return _dynamics(
        x,
        sample_rate,
        threshold_db,
        ratio,
        attack_ms,
        release_ms,
        knee_db,
        makeup_db,
        detector,
        rms_ms,
        link_channels,
        kind="compressor",
        state=state,
        return_state=return_state,
    )


def limiter(
    x: torch.Tensor,
    threshold_db: float | torch.Tensor,
    release_ms: float | torch.Tensor,
    *,
    sample_rate: float,
    attack_ms: float | torch.Tensor = 0.1,
    knee_db: float | torch.Tensor = 0.0,
    makeup_db: float | torch.Tensor = 0.0,
    link_channels: bool = False,
    state: DynamicsState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, DynamicsState]:
    """Peak limiter: a compressor with infinite ratio and a fast attack (no look-ahead).

    ``state``/``return_state`` as for :func:`compressor`."""
    return _dynamics(
        x,
        sample_rate,
        threshold_db,
        math.inf,
        attack_ms,
        release_ms,
        knee_db,
        makeup_db,
        "peak",
        10.0,
        link_channels,
        kind="compressor",
        state=state,
        return_state=return_state,
    )


def expander(
    x: torch.Tensor,
    threshold_db: float | torch.Tensor,
    ratio: float | torch.Tensor,
    attack_ms: float | torch.Tensor,
    release_ms: float | torch.Tensor,
    *,
    sample_rate: float,
    knee_db: float | torch.Tensor = 6.0,
    makeup_db: float | torch.Tensor = 0.0,
    detector: str = "peak",
    rms_ms: float = 10.0,
    link_channels: bool = False,
    state: DynamicsState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, DynamicsState]:
    """Downward expander (a gate at high ratios): below the threshold, each dB under it
    becomes ``ratio`` dB under it. Arguments as :func:`compressor`."""
    return _dynamics(
        x,
        sample_rate,
        threshold_db,
        ratio,
        attack_ms,
        release_ms,
        knee_db,
        makeup_db,
        detector,
        rms_ms,
        link_channels,
        kind="expander",
        state=state,
        return_state=return_state,
    )
