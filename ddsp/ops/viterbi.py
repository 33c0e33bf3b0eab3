"""Bridge to :mod:`ddsp.kernels.viterbi`: pitch-track decoding (a decision, no gradient)."""

from __future__ import annotations

import torch

from ..kernels import viterbi as _vt
from ..kernels._launch import dispatch

__all__ = ["viterbi_path"]


def viterbi_path(obs: torch.Tensor, q: torch.Tensor, jump_cost: float) -> torch.Tensor:
    """Most likely candidate per frame (see ``kernels/viterbi.py``).

    Args:
        obs: log observation probabilities ``(N, F, K)`` (``-inf`` for no candidate).
        q: the candidates' pitches in octaves (``log2`` Hz), ``(N, F, K)``.
        jump_cost: cost of a pitch change between frames, nats per octave (``> 0``).

    Returns:
        ``path (N, F)`` int64, the chosen candidate index per frame.
    """
    obs = obs.detach().to(torch.float64).contiguous()
    q = q.detach().to(torch.float64).contiguous()
    n_r, n_f, n_k = obs.shape
    delta = torch.empty((n_r, 2, n_k), dtype=torch.float64, device=obs.device)
    back = torch.empty((n_r, n_f, n_k), dtype=torch.int64, device=obs.device)
    path = torch.empty((n_r, n_f), dtype=torch.int64, device=obs.device)
    dispatch(_vt.viterbi_cpu, _vt.viterbi_cuda, obs, q, 1.0 / jump_cost, delta, back, path)
    return path
