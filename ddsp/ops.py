"""Autograd Functions: the only bridge between torch and the numba kernels.

Functions here take flattened, contiguous, same-dtype tensors in the kernels' layouts
(rows ``N`` x time ``T``) and dispatch on the tensor's device to the CPU or CUDA twin.
Shape checks, broadcasting and units live one layer up, in :mod:`ddsp.functional`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from . import _workspace as workspace
from .kernels import allpole as _ap
from .kernels import compressor as _dyn
from .kernels import delay as _dl
from .kernels import envelope as _env
from .kernels import fdn as _fdn
from .kernels import harmonic as _hm
from .kernels import sinusoidal as _sn
from .kernels import svf as _svf
from .kernels._launch import dispatch

__all__ = [
    "IIRFilter",
    "SVF",
    "HarmonicSynth",
    "SinusoidalSynth",
    "iir_op",
    "svf_op",
    "envelope_mask",
    "DelayNetwork",
]


# --------------------------------------------------------------------------- IIR (all-pole)


class IIRFilter(torch.autograd.Function):
    """Direct form I: ``y[t] = sum_j b[t,j] x[t-j] - sum_k a[t,k] y[t-1-k]``.

    Inputs ``x (N, T)``, ``b (N, Tb, B)``, ``a (N, Ta, K)`` (``Tb``, ``Ta`` in ``{1, T}``),
    past inputs ``zx (N, B-1)`` and outputs ``zy (N, K)``; outputs ``y (N, T)`` and the
    final states ``zfx (N, B-1)``, ``zfy (N, K)``. The pure all-pole filter is
    ``b = [[[1]]]``. The backward is the exact adjoint: a fused reverse-time kernel, or,
    when a graph of the backward is requested (double backward), the same Function run on
    time-reversed inputs with shifted coefficients plus plain torch sums, so higher
    derivatives come for free.
    """

    @staticmethod
    def forward(
        x: torch.Tensor, b: torch.Tensor, a: torch.Tensor, zx: torch.Tensor, zy: torch.Tensor
    ) -> Any:
        y = torch.empty_like(x)
        zfx = torch.empty_like(zx)
        zfy = torch.empty_like(zy)
        dispatch(_ap.allpole_cpu, _ap.allpole_cuda, x, b, a, zx, zy, y, zfx, zfy)
        return y, zfx, zfy

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        ctx.set_materialize_grads(False)  # unused final states: None, not zero tensors
        ctx.save_for_backward(*inputs, output[0])

    @staticmethod
    def backward(ctx: Any, grad_y: Any, grad_zfx: Any, grad_zfy: Any) -> Any:
        x, b, a, zx, zy, y = ctx.saved_tensors
        n_t, n_b, n_a = x.shape[1], b.shape[2], a.shape[2]
        need = ctx.needs_input_grad
        g = torch.zeros_like(x) if grad_y is None else grad_y.contiguous()
        if grad_zfy is not None and n_a:
            g = g.clone()  # _route_final_state adds in place
        # The final states are the block's last inputs/outputs (or, for short blocks,
        # part of the initial state): route their gradients there.
        gzy_extra = _route_final_state(g, grad_zfy, n_a, n_t, into_signal=True)
        if torch.is_grad_enabled():
            grads = _adjoint_graph(g, x, b, a, zx, zy, y)
        else:
            grads = _adjoint_fused(g, x, b, a, zx, zy, y, need)
        gx, gb, ga, gzx, gzy = grads
        if grad_zfx is not None and n_b > 1:
            gx = gx.clone()
            gzx_extra = _route_final_state(gx, grad_zfx, n_b - 1, n_t, into_signal=False)
            gzx = gzx + gzx_extra if gzx_extra is not None else gzx
        if gzy_extra is not None:
            gzy = gzy + gzy_extra
        return tuple(v if n else None for v, n in zip((gx, gb, ga, gzx, gzy), need))


def _route_final_state(
    signal_grad: torch.Tensor, grad_state: Any, n_state: int, n_t: int, *, into_signal: bool
) -> torch.Tensor | None:
    """Add ``grad_state[i]`` (state ``i`` = sample ``T-1-i``) onto ``signal_grad`` in place.

    Entries ``i >= T`` came from the initial state: return them as its gradient.
    ``signal_grad`` must be a fresh tensor (the caller's own); when ``into_signal`` it
    is the gradient entering the recursion, else a finished input gradient.
    """
    if grad_state is None or n_state == 0:
        return None
    m = min(n_state, n_t)
    if m:
        signal_grad[:, n_t - m :] += grad_state[:, :m].flip(1)
    if n_state > n_t:
        return F.pad(grad_state[:, n_t:], (0, n_t))
    return None


def _adjoint_fused(
    g: torch.Tensor,
    x: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    zx: torch.Tensor,
    zy: torch.Tensor,
    y: torch.Tensor,
    need: tuple[bool, ...],
) -> tuple[torch.Tensor, ...]:
    n = x.shape[0]

    def grad_buffer(coef: torch.Tensor, wanted: bool) -> torch.Tensor:
        # Static coefficients sum T products: accumulate those in float64.
        steps = coef.shape[1] if wanted else 0
        dtype = torch.float64 if steps == 1 else coef.dtype
        return torch.empty((n, steps, coef.shape[2]), dtype=dtype, device=coef.device)

    u = torch.empty_like(x)
    gx = torch.empty_like(x)
    gb, ga = grad_buffer(b, need[1]), grad_buffer(a, need[2])
    gzx = torch.empty(zx.shape, dtype=torch.float64, device=x.device)
    gzy = torch.empty(zy.shape, dtype=torch.float64, device=x.device)
    dispatch(
        _ap.allpole_adjoint_cpu,
        _ap.allpole_adjoint_cuda,
        g,
        x,
        b,
        a,
        zx,
        zy,
        y,
        u,
        gx,
        gb,
        ga,
        gzx,
        gzy,
    )
    return gx, gb.to(b.dtype), ga.to(a.dtype), gzx.to(zx.dtype), gzy.to(zy.dtype)


def _adjoint_graph(
    g: torch.Tensor,
    x: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    zx: torch.Tensor,
    zy: torch.Tensor,
    y: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    """The adjoint of the kernel docstring with differentiable ops (for double backward)."""
    n, n_t = x.shape
    n_b, n_a = b.shape[2], a.shape[2]
    static_a, static_b = a.shape[1] == 1, b.shape[1] == 1
    if n_a:
        # a_shift[t, k] = a[t+1+k, k]; past the end u is zero, so static a needs no shift.
        a_shift = (
            a
            if static_a
            else torch.stack(
                [F.pad(a[:, 1 + k :, k], (0, min(1 + k, n_t))) for k in range(n_a)], dim=2
            )
        )
        one = torch.ones((n, 1, 1), dtype=x.dtype, device=x.device)
        u = IIRFilter.apply(g.flip(1), one, a_shift.flip(1), zx[:, :0], torch.zeros_like(zy))[0]
        u = u.flip(1)
    else:
        u = g
    u_pad = F.pad(u, (0, n_b - 1))
    b_pad = b if static_b else F.pad(b, (0, 0, 0, n_b - 1))
    gx = sum(
        (b_pad[:, 0, j : j + 1] if static_b else b_pad[:, j : j + n_t, j]) * u_pad[:, j : j + n_t]
        for j in range(n_b)
    )
    x_ext = torch.cat([zx.flip(1), x], dim=1)  # x_ext[B-1+p] = x[p]
    y_ext = torch.cat([zy.flip(1), y], dim=1)  # y_ext[K+p] = y[p]
    gb = torch.stack([u * x_ext[:, n_b - 1 - j : n_b - 1 - j + n_t] for j in range(n_b)], dim=2)
    ga_cols = [-u * y_ext[:, n_a - 1 - k : n_a - 1 - k + n_t] for k in range(n_a)]
    ga = torch.stack(ga_cols, dim=2) if n_a else a.new_zeros((n, n_t, 0))
    gb = gb.sum(1, keepdim=True) if static_b else gb
    ga = ga.sum(1, keepdim=True) if static_a else ga

    def state_grad(coef: torch.Tensor, n_state: int, offset: int, sign: float) -> torch.Tensor:
        # grad[i] = sign * sum_{k >= i + offset} u[k-i-offset] coef[k-i-offset, k]
        cols = []
        for i in range(n_state):
            terms = [
                u[:, t] * coef[:, t if coef.shape[1] > 1 else 0, t + i + offset]
                for t in range(min(n_t, coef.shape[2] - i - offset))
            ]
            cols.append(sign * torch.stack(terms).sum(0) if terms else u.new_zeros(n))
        return torch.stack(cols, dim=1) if cols else u.new_zeros((n, 0))

    return gx, gb, ga, state_grad(b, n_b - 1, 1, 1.0), state_grad(a, n_a, 0, -1.0)


def iir_op(
    x: torch.Tensor, b: torch.Tensor, a: torch.Tensor, zx: torch.Tensor, zy: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Apply :class:`IIRFilter` to kernel-layout tensors (see its docstring)."""
    return IIRFilter.apply(x, b, a, zx, zy)


# --------------------------------------------------------------------------- SVF


class SVF(torch.autograd.Function):
    """Trapezoidal state-variable filter (see :mod:`ddsp.kernels.svf`).

    Inputs ``x (N, T)``, ``g (N, Tg)``, ``k (N, Tk)``, ``s0 (N, 2)``, a ``mix (3,)``
    tensor (not differentiated) and ``store`` (keep per-sample states for backward).
    Outputs ``y (N, T)``, final state ``(N, 2)`` and the stored states (no gradient).
    """

    @staticmethod
    def forward(
        x: torch.Tensor,
        g: torch.Tensor,
        k: torch.Tensor,
        s0: torch.Tensor,
        mix: torch.Tensor,
        store: bool,
    ) -> Any:
        n, n_t = x.shape
        y = torch.empty_like(x)
        sf = torch.empty_like(s0)
        states = torch.empty((n, n_t if store else 0, 2), dtype=x.dtype, device=x.device)
        dispatch(_svf.svf_cpu, _svf.svf_cuda, x, g, k, mix, s0, y, states, sf)
        return y, sf, states

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        x, g, k, _, mix, store = inputs
        _, _, states = output
        ctx.set_materialize_grads(False)  # unused outputs: None, not zero tensors
        ctx.mark_non_differentiable(states)
        ctx.stored = store
        ctx.save_for_backward(x, g, k, mix, states)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor, grad_sf: torch.Tensor, _: Any) -> Any:
        x, g, k, mix, states = ctx.saved_tensors
        if not ctx.stored:
            raise RuntimeError("SVF.backward needs the states: call it with store=True")
        gy = torch.zeros_like(x) if grad_y is None else grad_y.contiguous()
        gsf = (
            torch.zeros((x.shape[0], 2), dtype=x.dtype, device=x.device)
            if grad_sf is None
            else grad_sf.contiguous()
        )
        gx = torch.empty_like(x)
        gg = torch.empty(
            g.shape, dtype=torch.float64 if g.shape[1] == 1 else g.dtype, device=g.device
        )
        gk = torch.empty(
            k.shape, dtype=torch.float64 if k.shape[1] == 1 else k.dtype, device=k.device
        )
        gs0 = torch.empty_like(gsf)
        dispatch(
            _svf.svf_adjoint_cpu,
            _svf.svf_adjoint_cuda,
            gy,
            x,
            g,
            k,
            mix,
            states,
            gsf,
            gx,
            gg,
            gk,
            gs0,
        )
        need = ctx.needs_input_grad
        return (
            gx if need[0] else None,
            gg.to(g.dtype) if need[1] else None,
            gk.to(k.dtype) if need[2] else None,
            gs0 if need[3] else None,
            None,
            None,
        )


def svf_op(
    x: torch.Tensor, g: torch.Tensor, k: torch.Tensor, s0: torch.Tensor, mix: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply :class:`SVF`, storing states only when a gradient may be asked for."""
    store = torch.is_grad_enabled() and any(t.requires_grad for t in (x, g, k, s0))
    y, sf, _ = SVF.apply(x, g, k, s0, mix, store)
    return y, sf


# --------------------------------------------------------------------------- harmonic bank


class HarmonicSynth(torch.autograd.Function):
    """Fused harmonic oscillator bank (see :mod:`ddsp.kernels.harmonic`).

    Inputs ``f0 (N, T)`` in Hz per sample (float64), frame amplitudes ``amps (N, F, H)`` with
    ``F >= 2``, the initial phase ``p0 (N,)`` in cycles (float64), the shared interpolation
    tables ``index (T,)``, ``weight (T,)``, ``starts (F,)`` and ``sample_rate``. Outputs
    ``y (N, T)`` and the final phase ``(N,)`` in cycles.
    """

    @staticmethod
    def forward(f0, amps, p0, index, weight, starts, sample_rate):  # type: ignore[override]
        n, n_t = f0.shape
        phases = torch.empty((n, n_t), dtype=torch.float64, device=f0.device)
        p_end = torch.empty((n,), dtype=torch.float64, device=f0.device)
        dispatch(
            _hm.harmonic_phase_cpu,
            _hm.harmonic_phase_cuda,
            f0,
            p0,
            1.0 / sample_rate,
            phases,
            p_end,
        )
        y = torch.empty((n, n_t), dtype=amps.dtype, device=amps.device)
        dispatch(
            _hm.harmonic_cpu,
            _hm.harmonic_cuda,
            f0,
            amps,
            index,
            weight,
            starts,
            phases,
            sample_rate / 2.0,
            y,
        )
        return y, p_end, phases

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        f0, amps, _, index, weight, starts, sample_rate = inputs
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(output[2])
        ctx.sample_rate = sample_rate
        ctx.save_for_backward(f0, amps, index, weight, starts, output[2])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Any, grad_p_end: Any, _: Any) -> Any:
        f0, amps, index, weight, starts, phases = ctx.saved_tensors
        sr = ctx.sample_rate
        n, n_t = f0.shape
        n_f, n_h = amps.shape[1], amps.shape[2]
        dp = torch.zeros((n, n_t), dtype=torch.float64, device=f0.device)
        g_amps = None
        if grad_y is not None:
            gl = torch.empty((n, n_f - 1, n_h), dtype=amps.dtype, device=amps.device)
            gr = torch.empty_like(gl)
            dispatch(
                _hm.harmonic_adjoint_cpu,
                _hm.harmonic_adjoint_cuda,
                grad_y.contiguous(),
                f0,
                amps,
                index,
                weight,
                starts,
                phases,
                sr / 2.0,
                dp,
                gl,
                gr,
            )
            g_amps = F.pad(gl, (0, 0, 0, 1)) + F.pad(gr, (0, 0, 1, 0))
        # p[t] = p0 + sum_{m<t} f0[m]/sr: f0[m] reaches every later sample's phase.
        later = dp.flip(1).cumsum(1).flip(1) - dp
        g_f0 = later / sr
        g_p0 = dp.sum(1)
        if grad_p_end is not None:  # p_end = p0 + sum_m f0[m]/sr (wrapping has no slope)
            g_f0 = g_f0 + grad_p_end[:, None] / sr
            g_p0 = g_p0 + grad_p_end
        need = ctx.needs_input_grad
        return (
            g_f0.to(f0.dtype) if need[0] else None,
            g_amps if need[1] and g_amps is not None else None,
            g_p0 if need[2] else None,
            None,
            None,
            None,
            None,
        )


# --------------------------------------------------------------------------- sinusoidal bank


class SinusoidalSynth(torch.autograd.Function):
    """Sinusoidal bank with free frequencies (see :mod:`ddsp.kernels.sinusoidal`).

    Inputs frame frequencies ``(N, F, K)`` in Hz, amplitudes ``(N, F, K)`` (same dtype),
    initial phases ``p0 (N, K)`` float64, the interpolation tables and ``sample_rate``;
    outputs ``y (N, T)`` and the final phases ``(N, K)``.
    """

    @staticmethod
    def forward(freqs, amps, p0, index, weight, starts, sample_rate):  # type: ignore[override]
        n, n_f, n_k = freqs.shape
        p = p0.clone()
        y = torch.empty((n, index.shape[0]), dtype=amps.dtype, device=amps.device)
        anchors = torch.empty((n, n_f, n_k), dtype=torch.float64, device=freqs.device)
        dispatch(
            _sn.sinusoidal_cpu,
            _sn.sinusoidal_cuda,
            freqs,
            amps,
            index,
            weight,
            starts,
            p,
            1.0 / sample_rate,
            sample_rate / 2.0,
            y,
            anchors,
        )
        return y, p, anchors

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        freqs, amps, _, index, weight, starts, sample_rate = inputs
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(output[2])
        ctx.sample_rate = sample_rate
        ctx.save_for_backward(freqs, amps, index, weight, starts, output[1], output[2])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Any, grad_p_end: Any, _: Any) -> Any:
        freqs, amps, index, weight, starts, p_end, anchors = ctx.saved_tensors
        sr = ctx.sample_rate
        n, n_f, n_k = freqs.shape
        g = torch.zeros((n, index.shape[0]), dtype=amps.dtype, device=amps.device)
        if grad_y is not None:
            g = grad_y.contiguous()
        scratch = torch.empty((2, n, n_k), dtype=torch.float64, device=freqs.device)
        gf = torch.empty((n, n_f, n_k), dtype=torch.float64, device=freqs.device)
        ga = torch.empty((n, n_f, n_k), dtype=torch.float64, device=freqs.device)
        gp0 = torch.empty((n, n_k), dtype=torch.float64, device=freqs.device)
        dispatch(
            _sn.sinusoidal_adjoint_cpu,
            _sn.sinusoidal_adjoint_cuda,
            g,
            freqs,
            amps,
            index,
            weight,
            starts,
            anchors,
            p_end,
            1.0 / sr,
            sr / 2.0,
            scratch[0],
            scratch[1],
            gf,
            ga,
            gp0,
        )
        if grad_p_end is not None:
            # p_end = p0 + sum_t f[t]/sr: each frame's weight is the sum of its interpolation
            # weights over the samples (computed once, shared by all rows)
            w = weight.to(torch.float64)
            frame_w = torch.zeros(n_f, dtype=torch.float64, device=freqs.device)
            frame_w.index_add_(0, index, 1 - w)
            frame_w.index_add_(0, index + 1, w)
            gf = gf + grad_p_end[:, None, :] * frame_w[None, :, None] / sr
            gp0 = gp0 + grad_p_end
        need = ctx.needs_input_grad
        return (
            gf.to(freqs.dtype) if need[0] else None,
            ga.to(amps.dtype) if need[1] else None,
            gp0 if need[2] else None,
            None,
            None,
            None,
            None,
        )


def envelope_mask(
    g: torch.Tensor, attack: torch.Tensor, release: torch.Tensor, y0: torch.Tensor
) -> torch.Tensor:
    """Branch mask (1: attack) of the attack/release one-pole (see ``kernels/envelope.py``).

    ``g (N, T)``, coefficients ``(N, Ta)``, ``(N, Tr)``, ``y0 (N,)``; no gradient (the
    branch is piecewise constant).
    """
    mask = torch.empty(g.shape, dtype=torch.uint8, device=g.device)
    y_end = torch.empty((g.shape[0], 1), dtype=g.dtype, device=g.device)
    with torch.no_grad():
        dispatch(
            _env.envelope_mask_cpu,
            _env.envelope_mask_cuda,
            g.detach(),
            attack.detach(),
            release.detach(),
            y0.detach()[:, None],
            mask,
            y_end,
        )
    return mask.bool()


# --------------------------------------------------------------------------- dynamics


class FusedDynamics(torch.autograd.Function):
    """Fused peak-detector dynamics (see :mod:`ddsp.kernels.compressor`).

    Inputs ``x (N, T)``, per-row controls ``p (N, 6)`` = (threshold_db, ratio, knee_db,
    attack_coef, release_coef, makeup_amp) in float64, initial gain ``y0 (N,)`` float64,
    ``floor2`` and ``downward``. Output ``(N, T)``.
    """

    @staticmethod
    def forward(x, p, y0, floor2, downward):  # type: ignore[override]
        out = workspace.empty(tuple(x.shape), x.dtype, x.device)
        ys = workspace.empty(tuple(x.shape), x.dtype, x.device)
        mask = workspace.empty(tuple(x.shape), torch.uint8, x.device)
        gs = workspace.empty(tuple(x.shape), x.dtype, x.device)
        os = workspace.empty(tuple(x.shape), x.dtype, x.device)
        args = (x, p, y0[:, None], floor2, downward, out, ys, mask, gs, os)
        dispatch(_dyn.dynamics_cpu, _dyn.dynamics_cuda, *args)
        return out, ys, mask, gs, os

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        x, p, y0, floor2, downward = inputs
        ctx.mark_non_differentiable(*output[1:])
        ctx.set_materialize_grads(False)
        ctx.floor2, ctx.downward = floor2, downward
        ctx.save_for_backward(x, p, y0, *output[1:])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Any, *_state: Any) -> Any:
        x, p, y0, ys, mask, gs, os = ctx.saved_tensors
        if grad_out is None:
            return None, None, None, None, None
        gx = workspace.empty(tuple(x.shape), x.dtype, x.device)
        gp = torch.empty_like(p)
        gy0 = torch.empty((x.shape[0], 1), dtype=torch.float64, device=x.device)
        dispatch(
            _dyn.dynamics_adjoint_cpu,
            _dyn.dynamics_adjoint_cuda,
            grad_out.contiguous(),
            x,
            p,
            y0[:, None],
            ctx.floor2,
            ctx.downward,
            ys,
            mask,
            gs,
            os,
            gx,
            gp,
            gy0,
        )
        need = ctx.needs_input_grad
        return (
            gx if need[0] else None,
            gp if need[1] else None,
            gy0[:, 0] if need[2] else None,
            None,
            None,
        )


# --------------------------------------------------------------------------- delay line


class FeedbackDelay(torch.autograd.Function):
    """Fractional feedback delay (see :mod:`ddsp.kernels.delay`).

    Inputs ``x (N, T)``, delay in samples ``d (N, Td)`` (>= 1), feedback ``fb (N, Tf)``;
    output ``y (N, T)`` (the delayed signal, without the dry part).
    """

    @staticmethod
    def forward(x, d, fb):  # type: ignore[override]
        y = torch.empty_like(x)
        dispatch(_dl.delay_cpu, _dl.delay_cuda, x, d, fb, y)
        return y

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        ctx.save_for_backward(*inputs, output)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, gy: torch.Tensor) -> Any:
        x, d, fb, y = ctx.saved_tensors
        lu = torch.empty(x.shape, dtype=torch.float64, device=x.device)
        gx = torch.empty_like(x)
        gd = torch.empty(d.shape, dtype=torch.float64, device=x.device)
        gfb = torch.empty(fb.shape, dtype=torch.float64, device=x.device)
        dispatch(
            _dl.delay_adjoint_cpu,
            _dl.delay_adjoint_cuda,
            gy.contiguous(),
            x,
            d,
            fb,
            y,
            lu,
            gx,
            gd,
            gfb,
        )
        need = ctx.needs_input_grad
        return (
            gx if need[0] else None,
            gd.to(d.dtype) if need[1] else None,
            gfb.to(fb.dtype) if need[2] else None,
        )


# --------------------------------------------------------------------------- delay network


def _fdn_block(m: torch.Tensor, n_t: int, cap: int = 2048) -> int:
    """Block length of the delay-network kernel: at most the shortest line (see its doc)."""
    return max(1, min(int(m.min()), n_t, cap))


class DelayNetwork(torch.autograd.Function):
    """Delay lines with one-pole filters, a feedback matrix, input and output taps and a
    direct path (see :mod:`ddsp.kernels.fdn`).

    Inputs ``x (R, Ci, T)``, ``B (N, Ci)``, ``A (RA, N, N)``, ``k, p (Rk, N)``, integer
    delays ``m (Rm, N)`` (no gradient), taps ``Ca, Cs (RC, Co, N)``, direct path
    ``D (RC, Co, Ci)``; output ``y (R, Co, T)`` (and the kernel's saved state). The
    backward is the exact adjoint: one reverse kernel pass that also sums every parameter
    gradient asked for (float64, per row, then over shared rows).
    """

    @staticmethod
    def forward(x, B, A, k, p, m, Ca, Cs, D):  # type: ignore[override]
        n_r, _, n_t = x.shape
        n_l = B.shape[0]
        y = workspace.empty((n_r, Ca.shape[1], n_t), x.dtype, x.device)
        a = workspace.empty((n_r, n_l, n_t), x.dtype, x.device)
        v = workspace.empty((n_r, n_l, n_t), x.dtype, x.device)
        block = _fdn_block(m, n_t)
        dispatch(_fdn.network_cpu, _fdn.network_cuda, x, B, A, k, p, m, Ca, Cs, D, y, a, v, block)
        return y, a, v

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        ctx.set_materialize_grads(False)  # a and v are saved state, not outputs to learn from
        ctx.mark_non_differentiable(output[1], output[2])
        ctx.save_for_backward(*inputs, output[1], output[2])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, gy: torch.Tensor | None, _ga: Any, _gv: Any) -> Any:
        x, B, A, k, p, m, Ca, Cs, D, a, v = ctx.saved_tensors
        if gy is None:
            return (None,) * 9
        n_r, n_in, n_t = x.shape
        n_l, n_out = B.shape[0], Ca.shape[1]
        need = ctx.needs_input_grad

        def buf(i: int, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
            # a gradient not asked for is given size 0: the kernel skips it
            shape = shape if need[i] else (0,) * len(shape)
            return torch.empty((n_r, *shape), dtype=dtype, device=x.device)

        lv = x.new_empty(n_r, n_l, _fdn_block(m, n_t))
        la = workspace.empty(tuple(a.shape), a.dtype, a.device)
        gx = buf(0, n_in, n_t, dtype=x.dtype)
        gB, gA = buf(1, n_l, n_in), buf(2, n_l, n_l)
        gk, gp = buf(3, n_l), buf(4, n_l)
        gCa, gCs, gD = buf(6, n_out, n_l), buf(7, n_out, n_l), buf(8, n_out, n_in)
        dispatch(
            _fdn.network_adjoint_cpu,
            _fdn.network_adjoint_cuda,
            gy.contiguous(), x, B, A, k, p, m, Ca, Cs, D, a, v,
            la, lv, gx, gB, gA, gk, gp, gCa, gCs, gD,
        )  # fmt: skip

        def reduce(g: torch.Tensor, like: torch.Tensor, i: int) -> torch.Tensor | None:
            if not need[i]:
                return None
            g = g if like.ndim == g.ndim and like.shape[0] == n_r else g.sum(0)
            return g.reshape(like.shape).to(like.dtype)

        return (
            gx if need[0] else None,
            reduce(gB, B, 1),
            reduce(gA, A, 2),
            reduce(gk, k, 3),
            reduce(gp, p, 4),
            None,
            reduce(gCa, Ca, 6),
            reduce(gCs, Cs, 7),
            reduce(gD, D, 8),
        )
