"""Autograd bridge to :mod:`ddsp.kernels.harmonic`: the fused harmonic oscillator bank."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ..kernels import harmonic as _hm
from ..kernels._launch import dispatch

__all__ = ["HarmonicFunction"]


class HarmonicFunction(torch.autograd.Function):
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
