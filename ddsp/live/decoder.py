"""The trained decoder run frame by frame, its GRU state carried between calls.

The autoencoder's decoder (:class:`ddsp.training.model.Autoencoder`) is causal: per frame
an MLP of f0 and of loudness, a GRU, an MLP and a dense layer. Run on the frames a block
brings, with the GRU's hidden state kept in a buffer, it gives the offline controls
exactly; scriptable and exportable.
"""

import copy

import torch
from torch import Tensor, nn

from ..errors import ExportError
from ..params import exp_sigmoid
from ..training.model import scale_f0, scale_loudness

__all__ = ["DecoderStep"]


class DecoderStep(nn.Module):
    """``forward(f0_hz (B, k), loudness_db (B, k), count) -> (amplitude (B, k),
    distribution (B, k, H), noise (B, k, bands))``; the GRU state lives in ``hidden``.
    Only the first ``count`` frames are real (a fixed number of slots, the rest padding):
    the state carried on is the one after frame ``count``.

    Raises :class:`~ddsp.errors.ExportError` for a model with a z encoder (it reads
    MFCCs of the whole input: not a live model).
    """

    def __init__(self, model) -> None:
        super().__init__()
        c = model.config
        if c.z_dim:
            raise ExportError(
                "this model has a z encoder (z_dim > 0): it cannot run live; train with "
                "z_dim = 0 for a live instrument"
            )
        self.f0_mlp = copy.deepcopy(model.f0_mlp)
        self.loud_mlp = copy.deepcopy(model.loud_mlp)
        self.gru = copy.deepcopy(model.gru)
        self.out_mlp = copy.deepcopy(model.out_mlp)
        self.dense = copy.deepcopy(model.dense)
        self.n_harmonics = int(c.n_harmonics)
        self.n_bands = int(c.n_bands)
        self.size = int(c.gru)
        self.register_buffer("hidden", torch.zeros(1, 1, self.size))
        self.requires_grad_(False)  # inference: a live model does not learn

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.hidden = torch.zeros(1, batch, self.size)

    def forward(
        self, f0_hz: Tensor, loudness_db: Tensor, count: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        if f0_hz.shape[1] == 0:
            empty = f0_hz.new_zeros(f0_hz.shape[0], 0, 1)
            harmonics = empty.expand(-1, -1, self.n_harmonics)
            return f0_hz, harmonics, empty.expand(-1, -1, self.n_bands)
        f = scale_f0(f0_hz)[..., None]  # the training model's input maps
        ld = scale_loudness(loudness_db)[..., None]
        streams = torch.cat([self.f0_mlp(f), self.loud_mlp(ld)], -1)
        h, _ = self.gru(streams, self.hidden)
        at = (count - 1).clamp(0, h.shape[1] - 1)
        last = torch.index_select(h, 1, at).transpose(0, 1)  # (1, B, size)
        self.hidden.copy_(torch.where(count > 0, last, self.hidden))
        out = self.dense(self.out_mlp(torch.cat([h, f, ld], -1)))
        amplitude = exp_sigmoid(out[..., 0])
        distribution = exp_sigmoid(out[..., 1 : 1 + self.n_harmonics])
        noise = exp_sigmoid(out[..., 1 + self.n_harmonics :] - 5.0)
        return amplitude, distribution, noise
