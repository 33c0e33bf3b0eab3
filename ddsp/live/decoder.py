"""The trained decoder run frame by frame, its GRU state carried between calls.

The autoencoder's decoder (:class:`ddsp.training.model.Autoencoder`) is causal: per frame
an MLP of f0 and of loudness, a GRU, an MLP and a dense layer. Run on the frames a block
brings, with the GRU's hidden state kept in a buffer, it gives the offline controls.

The two input MLPs and the GRU's input weights are most of the decoder's weights (2.6 of
4.3 MB for the shipped violin), yet together they are two functions of one variable
each: the GRU's input gates are ``G_f(f0) + G_l(loudness)``. A live decoder reads every
weight once per block, and on a CPU that reading, not the arithmetic, sets its speed. So
by default ``G_f`` and ``G_l`` are tabulated on ``table_size + 1`` points of their
inputs' ranges (``scale_f0``: 0 .. 1, ``scale_loudness``: 0 .. 1.5), computed in float64
when the step is built, and interpolated linearly: a block then reads a few table rows
instead of 2.6 MB. At 2048 points the shipped violin's output stays 94 dB (flute) and
88 dB (voice) above its difference from the exact decoder's (``benchmarks/live_eval.py``,
column ``tables``); the gates move by at most 0.02 (their scale: 55). ``table_size=0``
runs the exact MLPs.
"""

import copy

import torch
from torch import Tensor, nn

from ..errors import ExportError
from ..params import exp_sigmoid
from ..training.model import scale_f0, scale_loudness

__all__ = ["DecoderStep", "TABLE_SIZE"]

TABLE_SIZE = 2048  # intervals of each input-gate table
_LOUDNESS_TOP = 1.5  # scale_loudness's upper clamp


class DecoderStep(nn.Module):
    """``forward(f0_hz (B, k), loudness_db (B, k), count) -> (amplitude (B, k),
    distribution (B, k, H), noise (B, k, bands))``; the GRU state lives in ``hidden``.
    Only the first ``count`` frames are real (a fixed number of slots, the rest padding):
    the state carried on is the one after frame ``count``.

    Args:
        model: the trained :class:`~ddsp.training.model.Autoencoder`.
        table_size: intervals of the input-gate tables (see the module docstring); 0 runs
            the input MLPs and the GRU's input weights exactly.

    Raises :class:`~ddsp.errors.ExportError` for a model with a z encoder (it reads
    MFCCs of the whole input: not a live model).
    """

    def __init__(self, model, table_size: int = TABLE_SIZE) -> None:
        super().__init__()
        c = model.config
        if c.z_dim:
            raise ExportError(
                "this model has a z encoder (z_dim > 0): it cannot run live; train with "
                "z_dim = 0 for a live instrument"
            )
        if table_size < 0:
            raise ValueError(f"expected table_size >= 0, got {table_size}")
        self.size = int(c.gru)
        self.n_harmonics = int(c.n_harmonics)
        self.n_bands = int(c.n_bands)
        self.table_size = int(table_size)
        self.loudness_top = _LOUDNESS_TOP
        gru = model.gru
        self.register_buffer("w_hh", gru.weight_hh_l0.detach().t().contiguous())
        self.register_buffer("b_hh", gru.bias_hh_l0.detach().clone())
        # one path's members are empty in the other (TorchScript compiles both branches)
        tabulated = self.table_size > 0
        if tabulated:
            f0_gates, loud_gates = _gate_tables(model, self.table_size)
            w_ih, b_ih = torch.zeros(0), torch.zeros(0)
        else:
            f0_gates, loud_gates = torch.zeros(0), torch.zeros(0)
            w_ih = gru.weight_ih_l0.detach().t().contiguous()
            b_ih = gru.bias_ih_l0.detach().clone()
        self.register_buffer("f0_gates", f0_gates)
        self.register_buffer("loud_gates", loud_gates)
        self.register_buffer("w_ih", w_ih)
        self.register_buffer("b_ih", b_ih)
        self.f0_mlp = nn.Identity() if tabulated else copy.deepcopy(model.f0_mlp)
        self.loud_mlp = nn.Identity() if tabulated else copy.deepcopy(model.loud_mlp)
        self.out_mlp = copy.deepcopy(model.out_mlp)
        self.dense = copy.deepcopy(model.dense)
        self.register_buffer("hidden", torch.zeros(1, 1, self.size))
        self.requires_grad_(False)  # inference: a live model does not learn

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.hidden = torch.zeros(1, batch, self.size)

    def _lookup(self, table: Tensor, x: Tensor, top: float) -> Tensor:
        """Rows of ``table`` (points 0 .. top) linearly interpolated at ``x (B, k)``."""
        pos = torch.nan_to_num(x) * (self.table_size / top)  # NaN reads the first row
        i = pos.floor().clamp(0, self.table_size - 1)
        w = (pos - i)[..., None]
        index = i.long()
        low = table[index]
        return low + w * (table[index + 1] - low)

    def _input_gates(self, f: Tensor, ld: Tensor) -> Tensor:
        """The GRU's input gates ``(B, k, 3 size)`` of scaled f0 and loudness ``(B, k)``."""
        if self.table_size:
            return self._lookup(self.f0_gates, f, 1.0) + self._lookup(
                self.loud_gates, ld, self.loudness_top
            )
        streams = torch.cat([self.f0_mlp(f[..., None]), self.loud_mlp(ld[..., None])], -1)
        return torch.matmul(streams, self.w_ih) + self.b_ih

    def forward(
        self, f0_hz: Tensor, loudness_db: Tensor, count: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        k, size = f0_hz.shape[1], self.size
        if k == 0:
            empty = f0_hz.new_zeros(f0_hz.shape[0], 0, 1)
            harmonics = empty.expand(-1, -1, self.n_harmonics)
            return f0_hz, harmonics, empty.expand(-1, -1, self.n_bands)
        f = scale_f0(f0_hz)  # the training model's input maps
        ld = scale_loudness(loudness_db)
        gates = self._input_gates(f, ld)
        h = self.hidden[0]
        states: list[Tensor] = []
        for t in range(k):  # torch.nn.GRU's cell (gates r, z, n)
            gh = torch.addmm(self.b_hh, h, self.w_hh)
            gi = gates[:, t]
            r = torch.sigmoid(gi[:, :size] + gh[:, :size])
            z = torch.sigmoid(gi[:, size : 2 * size] + gh[:, size : 2 * size])
            n = torch.tanh(gi[:, 2 * size :] + r * gh[:, 2 * size :])
            h = (1 - z) * n + z * h
            states.append(h)
        hs = torch.stack(states, 1)  # (B, k, size)
        at = (count - 1).clamp(0, k - 1)
        last = torch.index_select(hs, 1, at).transpose(0, 1)  # (1, B, size)
        self.hidden.copy_(torch.where(count > 0, last, self.hidden))
        out = self.dense(self.out_mlp(torch.cat([hs, f[..., None], ld[..., None]], -1)))
        amplitude = exp_sigmoid(out[..., 0])
        distribution = exp_sigmoid(out[..., 1 : 1 + self.n_harmonics])
        noise = exp_sigmoid(out[..., 1 + self.n_harmonics :] - 5.0)
        return amplitude, distribution, noise


@torch.no_grad()
def _gate_tables(model, points: int) -> tuple[Tensor, Tensor]:
    """``G_f`` (with the input bias) on ``points + 1`` values of scaled f0 in 0 .. 1, and
    ``G_l`` on as many of scaled loudness in 0 .. 1.5, each ``(points + 1, 3 size)``,
    computed in float64."""
    hidden = model.config.hidden
    w = model.gru.weight_ih_l0.detach().double()
    f = torch.linspace(0.0, 1.0, points + 1, dtype=torch.float64)[:, None]
    ld = torch.linspace(0.0, _LOUDNESS_TOP, points + 1, dtype=torch.float64)[:, None]
    f0_gates = copy.deepcopy(model.f0_mlp).double()(f) @ w[:, :hidden].t()
    f0_gates = f0_gates + model.gru.bias_ih_l0.detach().double()
    loud_gates = copy.deepcopy(model.loud_mlp).double()(ld) @ w[:, hidden:].t()
    return f0_gates.float(), loud_gates.float()
