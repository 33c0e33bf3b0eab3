"""Recursive filters in physical units: all-pole, IIR (``lfilter``), RBJ biquads, TPT SVF.

All ops take audio ``x`` of shape ``(..., T)`` (float32 or float64, CPU or CUDA), run the
recursion in the numba kernels of :mod:`ddsp.kernels` and are differentiable in every
tensor input with exact gradients. Filter state can be carried between blocks: pass the
returned state as ``zi`` of the next call and the blocks join exactly.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch

from .._checks import check_finite, check_nonzero, check_range, check_signal
from ..ops import iir_op, svf_op
from ._controls import as_control

__all__ = [
    "allpole",
    "lfilter",
    "LFilterState",
    "biquad",
    "biquad_coefficients",
    "BIQUAD_KINDS",
    "svf",
    "SVF_MODES",
    "check_stable",
]

MAX_ORDER = 32

BiquadKind = Literal[
    "lowpass", "highpass", "bandpass", "notch", "allpass", "peaking", "lowshelf", "highshelf"
]
BIQUAD_KINDS: tuple[str, ...] = (
    "lowpass",
    "highpass",
    "bandpass",
    "notch",
    "allpass",
    "peaking",
    "lowshelf",
    "highshelf",
)
SvfMode = Literal["lowpass", "bandpass", "highpass", "notch"]
# Output weights (lowpass, bandpass, highpass) of each SVF mode.
SVF_MODES: dict[str, tuple[float, float, float]] = {
    "lowpass": (1.0, 0.0, 0.0),
    "bandpass": (0.0, 1.0, 0.0),
    "highpass": (0.0, 0.0, 1.0),
    "notch": (1.0, 0.0, 1.0),
}


class LFilterState(NamedTuple):
    """State of :func:`lfilter` between blocks.

    Attributes:
        x: the last ``n_b - 1`` inputs, most recent first, shape ``(..., n_b - 1)``.
        y: the last ``n_a - 1`` outputs, most recent first, shape ``(..., n_a - 1)``.
    """

    x: torch.Tensor
    y: torch.Tensor


# --------------------------------------------------------------------------- helpers


def _coef_layout(coef: torch.Tensor, x: torch.Tensor, name: str) -> torch.Tensor:
    """Return coefficients as ``(*batch, Tc, n)`` with ``Tc`` 1 (static) or T (per sample)."""
    if not isinstance(coef, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(coef).__name__}")
    if coef.dtype != x.dtype:
        raise TypeError(f"expected {name} to have dtype {x.dtype} like x, got {coef.dtype}")
    if coef.device != x.device:
        raise ValueError(f"expected {name} on {x.device} like x, got {coef.device}")
    if coef.ndim == 0:
        raise ValueError(f"expected {name} of shape (..., n) or (..., T, n), got a scalar")
    check_finite(coef, name)  # NaN coefficients would fill the output with NaN
    if coef.ndim == x.ndim + 1:
        if coef.shape[-2] != x.shape[-1]:
            raise ValueError(
                f"expected time-varying {name} of shape (..., T={x.shape[-1]}, n), "
                f"got shape {tuple(coef.shape)}"
            )
        return coef
    if coef.ndim > x.ndim + 1:
        raise ValueError(
            f"expected {name} with at most {x.ndim + 1} dims for x of shape {tuple(x.shape)}, "
            f"got shape {tuple(coef.shape)}"
        )
    return coef.unsqueeze(-2)


def _batch_shape(x: torch.Tensor, *shapes: tuple[int, ...], names: tuple[str, ...]) -> torch.Size:
    try:
        return torch.broadcast_shapes(x.shape[:-1], *shapes)
    except RuntimeError:
        got = ", ".join(f"{n} {tuple(s)}" for n, s in zip(names, shapes))
        raise ValueError(
            f"expected batch dims broadcastable to x's {tuple(x.shape[:-1])}, got {got}"
        ) from None


def _rows(t: torch.Tensor, batch: torch.Size, tail: tuple[int, ...]) -> torch.Tensor:
    """Broadcast ``t`` to ``(*batch, *tail)`` and flatten the batch into rows (contiguous)."""
    n = math.prod(batch)
    return t.expand(*batch, *tail).reshape(n, *tail).contiguous()


def _state(zi: torch.Tensor | None, x: torch.Tensor, n: int, name: str) -> torch.Tensor:
    if zi is None:
        return torch.zeros((*x.shape[:-1], n), dtype=x.dtype, device=x.device)
    if not isinstance(zi, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(zi).__name__}")
    if zi.dtype != x.dtype or zi.device != x.device:
        raise TypeError(
            f"expected {name} with dtype {x.dtype} on {x.device}, got {zi.dtype} on {zi.device}"
        )
    if zi.ndim == 0 or zi.shape[-1] != n:
        raise ValueError(f"expected {name} of shape (..., {n}), got shape {tuple(zi.shape)}")
    check_finite(zi, name)
    return zi


def check_stable(a: torch.Tensor, *, name: str = "a") -> None:
    """Raise ``ValueError`` unless every pole of ``1 + sum_k a[k] z^-(k+1)`` is inside |z| < 1.

    Args:
        a: all-pole coefficients without the leading 1, ``(..., order)`` or per sample
            ``(..., T, order)`` (each sample's frozen filter is checked).

    This computes the roots of every coefficient set (companion-matrix eigenvalues) and
    forces a device sync, which is why the filters only call it when asked.
    """
    if a.shape[-1] == 0 or a.numel() == 0:
        return
    coefs = a.detach().reshape(-1, a.shape[-1]).to(torch.float64)
    order = coefs.shape[-1]
    comp = torch.zeros((coefs.shape[0], order, order), dtype=torch.float64, device=a.device)
    comp[:, 0, :] = -coefs
    if order > 1:
        comp[:, 1:, :-1] = torch.eye(order - 1, dtype=torch.float64, device=a.device)
    radius = torch.linalg.eigvals(comp).abs().amax(dim=-1)
    bad = ~(radius < 1.0)
    if bool(bad.any()):
        raise ValueError(
            f"expected a stable filter (all poles inside the unit circle), got {int(bad.sum())} "
            f"unstable coefficient set(s) in {name}, largest pole radius {float(radius.max()):.6g}"
        )


# --------------------------------------------------------------------------- all-pole


def allpole(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: torch.Tensor | None = None,
    *,
    return_state: bool = False,
    check_stability: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Time-varying all-pole filter ``y[t] = x[t] - sum_k a[..., t, k] * y[t-1-k]``.

    The recursion runs in a numba kernel; its backward is the exact adjoint recursion (an
    all-pole filter run backwards in time with shifted coefficients) plus
    ``grad_a[t, k] = -grad_x[t] * y[t-1-k]`` (see Oppenheim & Schafer, ch. 6, and the
    adjoint derivation in ``kernels/allpole.py``).

    Args:
        x: input ``(..., T)``, float32 or float64.
        a: coefficients without the leading 1: static ``(..., order)`` or per sample
            ``(..., T, order)`` (exactly ``x.ndim + 1`` dims); order 1..32. Batch dims
            broadcast against x's.
        zi: past outputs ``[y[-1], ..., y[-order]]``, shape ``(..., order)``; zeros if None.
        return_state: also return the final state (the ``zi`` of the next block).
        check_stability: raise ``ValueError`` if any coefficient set has a pole on or
            outside the unit circle (costs a root solve and a sync; off by default).

    Returns:
        ``y (batch..., T)``, or ``(y, zf)`` with ``zf (batch..., order)`` if ``return_state``.

    Devices: cpu, cuda. Gradients: x, a, zi (and double backward).

    >>> y = allpole(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([-0.5]))
    >>> y.tolist()
    [1.0, 0.5, 0.25]
    """
    x = check_signal(x)
    a3 = _coef_layout(a, x, "a")
    order = a3.shape[-1]
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"expected filter order between 1 and {MAX_ORDER}, got {order}")
    if check_stability:
        check_stable(a, name="a")
    zi_t = _state(zi, x, order, "zi")
    batch = _batch_shape(x, a3.shape[:-2], zi_t.shape[:-1], names=("a", "zi"))
    n_t = x.shape[-1]
    n = math.prod(batch)
    y, _, zf = iir_op(
        _rows(x, batch, (n_t,)),
        torch.ones((n, 1, 1), dtype=x.dtype, device=x.device),  # numerator b = [1]
        _rows(a3, batch, tuple(a3.shape[-2:])),
        x.new_zeros((n, 0)),
        _rows(zi_t, batch, (order,)),
    )
    y, zf = y.reshape(*batch, n_t), zf.reshape(*batch, order)
    return (y, zf) if return_state else y


def lfilter(
    x: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    zi: LFilterState | None = None,
    *,
    return_state: bool = False,
    check_stability: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, LFilterState]:
    """IIR filter ``a[0] y[t] = sum_j b[j] x[t-j] - sum_{k>=1} a[k] y[t-k]``, time-varying.

    Direct form I: the FIR numerator is fused into the all-pole kernel's pass. ``b`` and
    ``a`` hold the full polynomials, ``a[..., 0]`` included and divided out, as in
    ``scipy.signal.lfilter`` and ``torchaudio.functional.lfilter``.

    Args:
        x: input ``(..., T)``.
        b: numerator, static ``(..., n_b)`` or per sample ``(..., T, n_b)``.
        a: denominator, static ``(..., n_a)`` or per sample ``(..., T, n_a)``;
            ``1 <= n_a <= 33``, ``a[..., 0] != 0``.
        zi: an :class:`LFilterState` from a previous block, or None for silence.
        return_state: also return the final :class:`LFilterState`.
        check_stability: raise ``ValueError`` on a pole on or outside the unit circle.

    Returns:
        ``y (batch..., T)``, or ``(y, state)``.

    Devices: cpu, cuda. Gradients: x, b, a, zi.

    >>> x, b, a = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([1.0, -0.5])
    >>> lfilter(x, b, a).tolist()
    [1.0, 1.5, 0.75]
    """
    x = check_signal(x)
    b3 = _coef_layout(b, x, "b")
    a3 = _coef_layout(a, x, "a")
    n_b, n_a = b3.shape[-1], a3.shape[-1]
    if n_b < 1:
        raise ValueError(f"expected at least one numerator tap in b, got shape {tuple(b.shape)}")
    if not 1 <= n_a <= MAX_ORDER + 1:
        raise ValueError(f"expected between 1 and {MAX_ORDER + 1} denominator taps in a, got {n_a}")
    if zi is not None and not isinstance(zi, LFilterState):
        raise TypeError(f"expected zi to be an LFilterState or None, got {type(zi).__name__}")
    x_hist = _state(None if zi is None else zi.x, x, n_b - 1, "zi.x")
    y_hist = _state(None if zi is None else zi.y, x, n_a - 1, "zi.y")
    a0 = a3[..., :1]
    check_nonzero(a0, "a[..., 0]")
    b3 = b3 / a0
    a_tail = a3[..., 1:] / a0
    if check_stability and n_a > 1:
        check_stable(a_tail, name="a")
    batch = _batch_shape(
        x,
        b3.shape[:-2],
        a3.shape[:-2],
        x_hist.shape[:-1],
        y_hist.shape[:-1],
        names=("b", "a", "zi.x", "zi.y"),
    )
    n_t = x.shape[-1]
    y, zfx, zfy = iir_op(
        _rows(x, batch, (n_t,)),
        _rows(b3, batch, tuple(b3.shape[-2:])),
        _rows(a_tail, batch, tuple(a_tail.shape[-2:])),
        _rows(x_hist, batch, (n_b - 1,)),
        _rows(y_hist, batch, (n_a - 1,)),
    )
    y = y.reshape(*batch, n_t)
    if not return_state:
        return y
    return y, LFilterState(zfx.reshape(*batch, n_b - 1), zfy.reshape(*batch, n_a - 1))


# --------------------------------------------------------------------------- biquads


def _nyquist_checks(cutoff_hz: float | torch.Tensor, sample_rate: float) -> None:
    check_range(sample_rate, "sample_rate", 0.0, math.inf)
    check_range(cutoff_hz, "cutoff_hz", 0.0, sample_rate / 2)


def biquad_coefficients(
    kind: str,
    cutoff_hz: float | torch.Tensor,
    q: float | torch.Tensor,
    gain_db: float | torch.Tensor = 0.0,
    *,
    sample_rate: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RBJ "Audio EQ Cookbook" biquad design, differentiable in every control.

    Robert Bristow-Johnson's cookbook formulas with ``w0 = 2 pi cutoff / sample_rate``,
    ``alpha = sin(w0) / (2 q)`` and ``A = 10^(gain_db / 40)`` (gain used by peaking and
    shelves). For ``0 < cutoff_hz < sample_rate / 2`` and ``q > 0`` both poles lie
    strictly inside the unit circle for every kind.

    Args:
        kind: one of :data:`BIQUAD_KINDS`.
        cutoff_hz: cutoff or centre frequency in Hz, in ``(0, sample_rate / 2)``.
        q: quality factor, ``> 0`` (``1/sqrt(2)`` gives a Butterworth low/highpass).
        gain_db: gain in dB for ``peaking``, ``lowshelf`` and ``highshelf``.
        sample_rate: in Hz.

    Returns:
        ``(b, a)``, each ``(..., 3)`` over the broadcast shape of the controls, ``a[..., 0] = 1``.
    """
    _biquad_checks(kind, cutoff_hz, q, gain_db, sample_rate)
    return _rbj_design(kind, cutoff_hz, q, gain_db, sample_rate)


def _biquad_checks(
    kind: str,
    cutoff_hz: float | torch.Tensor,
    q: float | torch.Tensor,
    gain_db: float | torch.Tensor,
    sample_rate: float,
) -> None:
    if kind not in BIQUAD_KINDS:
        raise ValueError(f"expected kind in {BIQUAD_KINDS}, got {kind!r}")
    _nyquist_checks(cutoff_hz, sample_rate)
    check_range(q, "q", 0.0, math.inf)
    check_range(gain_db, "gain_db", -200.0, 200.0, low_inclusive=True, high_inclusive=True)


def _rbj_design(
    kind: str,
    cutoff_hz: float | torch.Tensor,
    q: float | torch.Tensor,
    gain_db: float | torch.Tensor,
    sample_rate: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    ref = next((v for v in (cutoff_hz, q, gain_db) if isinstance(v, torch.Tensor)), None)
    dtype = ref.dtype if ref is not None else torch.float64
    device = ref.device if ref is not None else None
    fc, qq, gain = (torch.as_tensor(v, dtype=dtype, device=device) for v in (cutoff_hz, q, gain_db))
    return rbj_coefficients(kind, (2.0 * math.pi / sample_rate) * fc, qq, gain)


def rbj_coefficients(
    kind: str, w0: torch.Tensor, q: torch.Tensor, gain_db: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cookbook formulas on tensors: ``w0`` (radians per sample), ``q``, ``gain_db``
    broadcast together -> ``(b, a)``, each ``(..., 3)`` with ``a[..., 0] = 1``.

    No checks, scriptable: exported filters redesign with it when a knob moves.
    """
    zero = torch.zeros_like(w0 + q + gain_db)
    w0, q, gain_db = w0 + zero, q + zero, gain_db + zero
    cos_w0, sin_w0 = torch.cos(w0), torch.sin(w0)
    alpha = sin_w0 / (2.0 * q)
    amp = torch.pow(10.0, gain_db / 40.0)
    one = torch.ones_like(cos_w0)
    a0, a1, a2 = 1 + alpha, -2 * cos_w0, 1 - alpha
    if kind == "lowpass":
        b0, b1, b2 = (1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2
    elif kind == "highpass":
        b0, b1, b2 = (1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2
    elif kind == "bandpass":  # constant 0 dB peak gain
        b0, b1, b2 = alpha, 0 * alpha, -alpha
    elif kind == "notch":
        b0, b1, b2 = one, -2 * cos_w0, one
    elif kind == "allpass":
        b0, b1, b2 = 1 - alpha, -2 * cos_w0, 1 + alpha
    elif kind == "peaking":
        b0, b1, b2 = 1 + alpha * amp, -2 * cos_w0, 1 - alpha * amp
        a0, a2 = 1 + alpha / amp, 1 - alpha / amp
    else:
        sq = 2 * torch.sqrt(amp) * alpha
        ap1, am1 = amp + 1, amp - 1
        if kind == "lowshelf":
            b0 = amp * (ap1 - am1 * cos_w0 + sq)
            b1 = 2 * amp * (am1 - ap1 * cos_w0)
            b2 = amp * (ap1 - am1 * cos_w0 - sq)
            a0, a1, a2 = ap1 + am1 * cos_w0 + sq, -2 * (am1 + ap1 * cos_w0), ap1 + am1 * cos_w0 - sq
        else:  # highshelf
            b0 = amp * (ap1 + am1 * cos_w0 + sq)
            b1 = -2 * amp * (am1 + ap1 * cos_w0)
            b2 = amp * (ap1 + am1 * cos_w0 - sq)
            a0, a1, a2 = ap1 - am1 * cos_w0 + sq, 2 * (am1 - ap1 * cos_w0), ap1 - am1 * cos_w0 - sq
    b = torch.stack([b0, b1, b2], -1)
    a = torch.stack([a0, a1, a2], -1)
    return b / a[..., :1], a / a[..., :1]


def _controls(x: torch.Tensor, **controls: float | torch.Tensor) -> list[torch.Tensor]:
    """Controls as tensors of ``x.ndim`` dims ``(*batch, Tc)`` with a common ``Tc``."""
    ts = [as_control(v, x, name) for name, v in controls.items()]
    ts = [t.reshape((1,) * (x.ndim - t.ndim) + tuple(t.shape)) for t in ts]
    return list(torch.broadcast_tensors(*ts))


def biquad(
    x: torch.Tensor,
    kind: BiquadKind,
    cutoff_hz: float | torch.Tensor,
    q: float | torch.Tensor,
    gain_db: float | torch.Tensor = 0.0,
    *,
    sample_rate: float,
    zi: LFilterState | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, LFilterState]:
    """Second-order RBJ filter with static or modulated controls.

    Designs the coefficients with :func:`biquad_coefficients` (per item, per frame or per
    sample, see :mod:`ddsp.functional._controls` for control shapes; frames are linearly
    interpolated to samples before the design) and runs :func:`lfilter`. Under fast
    modulation prefer :func:`svf`: a direct-form biquad whose coefficients change every
    sample can grow even when each frozen filter is stable.

    Args:
        x: audio ``(..., T)``.
        kind: one of :data:`BIQUAD_KINDS`.
        cutoff_hz: Hz in ``(0, sample_rate / 2)``; float, per item or time-varying.
        q: quality factor ``> 0``; float, per item or time-varying.
        gain_db: dB, used by peaking and shelving kinds.
        sample_rate: Hz.
        zi: :class:`LFilterState` of a previous block.
        return_state: also return the final state.

    Returns:
        ``y (batch..., T)`` or ``(y, state)``.

    Devices: cpu, cuda. Gradients: x, cutoff_hz, q, gain_db, zi.

    >>> y = biquad(torch.zeros(2, 100), "lowpass", 1000.0, 0.707, sample_rate=16000)
    >>> tuple(y.shape)
    (2, 100)
    """
    x = check_signal(x)
    _biquad_checks(kind, cutoff_hz, q, gain_db, sample_rate)
    fc, qq, gain = _controls(x, cutoff_hz=cutoff_hz, q=q, gain_db=gain_db)
    b, a = _rbj_design(kind, fc, qq, gain, sample_rate)
    if fc.shape[-1] == 1:  # static: (..., 1, 3) -> (..., 3)
        b, a = b.squeeze(-2), a.squeeze(-2)
    return lfilter(x, b, a, zi, return_state=return_state)


# --------------------------------------------------------------------------- SVF


def svf(
    x: torch.Tensor,
    cutoff_hz: float | torch.Tensor,
    resonance: float | torch.Tensor,
    *,
    sample_rate: float,
    mode: SvfMode = "lowpass",
    zi: torch.Tensor | None = None,
    return_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Trapezoidal state-variable filter, stable under per-sample modulation.

    The topology-preserving-transform SVF (Zavalishin, "The Art of VA Filter Design",
    ch. 4) with ``g = tan(pi cutoff / sample_rate)`` and damping ``k = 2 (1 - resonance)``
    (``Q = 1 / k``). Its state update is a rotation-like map whose poles stay inside the
    unit circle for any ``g > 0, k > 0``, so cutoff and resonance may change every sample.

    Args:
        x: audio ``(..., T)``.
        cutoff_hz: Hz in ``(0, sample_rate / 2)``; float, per item or time-varying.
        resonance: unitless in ``[0, 1)``; 0 is critically damped (Q = 0.5), ~0.29 is
            Butterworth (Q = 0.707), values near 1 ring (Q = 50 at 0.99).
        sample_rate: Hz.
        mode: ``"lowpass"``, ``"bandpass"``, ``"highpass"`` or ``"notch"``.
        zi: integrator state ``(..., 2)``; zeros if None.
        return_state: also return the final state.

    Returns:
        ``y (batch..., T)`` or ``(y, state)`` with state ``(batch..., 2)``.

    Devices: cpu, cuda. Gradients: x, cutoff_hz, resonance, zi.

    >>> y = svf(torch.ones(1, 4000), 500.0, 0.3, sample_rate=16000)
    >>> round(float(y[0, -1]), 4)
    1.0
    """
    x = check_signal(x)
    if mode not in SVF_MODES:
        raise ValueError(f"expected mode in {tuple(SVF_MODES)}, got {mode!r}")
    _nyquist_checks(cutoff_hz, sample_rate)
    check_range(resonance, "resonance", 0.0, 1.0, low_inclusive=True)
    fc, res = _controls(x, cutoff_hz=cutoff_hz, resonance=resonance)
    g = torch.tan((math.pi / sample_rate) * fc)
    k = 2.0 * (1.0 - res)
    zi_t = _state(zi, x, 2, "zi")
    batch = _batch_shape(x, g.shape[:-1], zi_t.shape[:-1], names=("controls", "zi"))
    n_t = x.shape[-1]
    mix = torch.tensor(SVF_MODES[mode], dtype=x.dtype, device=x.device)
    y, sf = svf_op(
        _rows(x, batch, (n_t,)),
        _rows(g, batch, (g.shape[-1],)),
        _rows(k, batch, (k.shape[-1],)),
        _rows(zi_t, batch, (2,)),
        mix,
    )
    y = y.reshape(*batch, n_t)
    return (y, sf.reshape(*batch, 2)) if return_state else y
