"""Autograd bridge to :mod:`ddsp.kernels.sinusoidal`: the free-frequency oscillator bank."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from ..kernels import sinusoidal as _sn
from ..kernels._launch import dispatch

__all__ = ["SinusoidalFunction"]


class SinusoidalFunction(torch.autograd.Function):
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
