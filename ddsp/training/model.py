"""The DDSP autoencoder: f0 and loudness (and optionally z) -> synth controls -> audio.

Decoder as in Engel et al. (DDSP, 2020), the solo-instrument model: each input through
an MLP (``layers`` x Linear-LayerNorm-LeakyReLU), concatenated, a GRU, the GRU output
concatenated with the inputs again, an MLP and a dense layer splitting into the harmonic
amplitude, the harmonic distribution and the filtered-noise magnitudes (all through
``exp_sigmoid``). The optional z encoder (``z_dim > 0``) reads MFCCs through a GRU. The
synthesis is made of the library's own processors: :class:`ddsp.Harmonic`,
:class:`ddsp.FilteredNoise` and a learnable :class:`ddsp.ConvolutionReverb`, so
``model.effects()`` is an ordinary :class:`ddsp.Chain` that can be saved as a preset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..modules import Chain, ConvolutionReverb, FilteredNoise, Harmonic
from ..params import exp_sigmoid
from ..units import hz_to_midi_tensor

__all__ = ["ModelConfig", "Autoencoder", "scale_f0", "scale_loudness"]


@dataclass
class ModelConfig:
    """Model sizes; defaults follow DDSP's solo-instrument model."""

    hidden: int = 512
    gru: int = 512
    layers: int = 3
    n_harmonics: int = 60
    n_bands: int = 65
    reverb_seconds: float = 1.0
    z_dim: int = 0  # 0: no z encoder (the supervised model)
    n_mfcc: int = 30

    def as_dict(self) -> dict:
        return asdict(self)


def scale_f0(f0_hz: torch.Tensor) -> torch.Tensor:
    """f0 to [0, 1]: MIDI pitch / 127 (scriptable: the live decoder calls it too)."""
    return (hz_to_midi_tensor(f0_hz.clamp_min(1e-3)) / 127).clamp(0, 1)


def scale_loudness(db: torch.Tensor) -> torch.Tensor:
    """Loudness in dB to about [0, 1]: (dB + 80) / 80."""
    return ((db + 80) / 80).clamp(0, 1.5)


def _mlp(n_in: int, hidden: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.LayerNorm(hidden)]
        mods.append(nn.LeakyReLU())
    return nn.Sequential(*mods)


class Autoencoder(nn.Module):
    """``forward(f0_hz (B, F), loudness_db (B, F), audio=None) -> audio (B, T)``."""

    def __init__(self, config: ModelConfig, sample_rate: int, frame_rate: float = 250.0) -> None:
        super().__init__()
        self.config, self.sample_rate, self.frame_rate = config, sample_rate, frame_rate
        c = config
        self.f0_mlp = _mlp(1, c.hidden, c.layers)
        self.loud_mlp = _mlp(1, c.hidden, c.layers)
        n_streams = 2
        if c.z_dim:
            self.encoder_gru = nn.GRU(c.n_mfcc, c.gru, batch_first=True)
            self.encoder_out = nn.Linear(c.gru, c.z_dim)
            self.z_mlp = _mlp(c.z_dim, c.hidden, c.layers)
            n_streams = 3
        self.gru = nn.GRU(n_streams * c.hidden, c.gru, batch_first=True)
        self.out_mlp = _mlp(c.gru + 2, c.hidden, c.layers)
        self.dense = nn.Linear(c.hidden, 1 + c.n_harmonics + c.n_bands)
        self.harmonic = Harmonic(sample_rate, n_harmonics=c.n_harmonics)
        self.noise = FilteredNoise(sample_rate, gain_db=0.0)
        self.reverb = ConvolutionReverb(sample_rate, ir_seconds=c.reverb_seconds, mix=0.5)
        for p in (*self.harmonic.parameters(), *self.noise.parameters()):
            p.requires_grad_(False)  # their gains are unused: the decoder sets the levels

    def effects(self) -> Chain:
        """The post-synthesis effects (the learned reverb) as a Chain."""
        return Chain([self.reverb])

    def _z(self, audio: torch.Tensor, frames: int) -> torch.Tensor:
        import torchaudio.functional as taf

        n_fft = 1024
        hop = max(1, round(self.sample_rate / self.frame_rate))
        window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
        spec = torch.stft(audio, n_fft, hop, window=window, return_complex=True).abs() ** 2
        fb = taf.melscale_fbanks(n_fft // 2 + 1, 20.0, self.sample_rate / 2, 128,
                                 self.sample_rate).to(spec)  # fmt: skip
        mel = torch.log(torch.einsum("bft,fm->btm", spec, fb) + 1e-6)
        dct = taf.create_dct(self.config.n_mfcc, 128, "ortho").to(mel)
        mfcc = mel @ dct
        mfcc = torch.nn.functional.interpolate(mfcc.transpose(1, 2), size=frames).transpose(1, 2)
        h, _ = self.encoder_gru(mfcc)
        return self.encoder_out(h)

    def controls(
        self, f0_hz: torch.Tensor, loudness_db: torch.Tensor, audio: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoder outputs: amplitude (B, F), distribution (B, F, H), noise (B, F, bands)."""
        f = scale_f0(f0_hz)[..., None]
        ld = scale_loudness(loudness_db)[..., None]
        streams = [self.f0_mlp(f), self.loud_mlp(ld)]
        if self.config.z_dim:
            if audio is None:
                raise ValueError("this model has a z encoder: pass the audio as well")
            streams.append(self.z_mlp(self._z(audio, f0_hz.shape[-1])))
        h, _ = self.gru(torch.cat(streams, -1))
        out = self.dense(self.out_mlp(torch.cat([h, f, ld], -1)))
        c = self.config
        amplitude = exp_sigmoid(out[..., 0])
        distribution = exp_sigmoid(out[..., 1 : 1 + c.n_harmonics])
        noise = exp_sigmoid(out[..., 1 + c.n_harmonics :] - 5.0)  # starts quiet
        return amplitude, distribution, noise

    def forward(
        self,
        f0_hz: torch.Tensor,
        loudness_db: torch.Tensor,
        audio: torch.Tensor | None = None,
        n_samples: int | None = None,
    ) -> torch.Tensor:
        n = n_samples or int(round(f0_hz.shape[-1] * self.sample_rate / self.frame_rate))
        amp, dist, noise = self.controls(f0_hz, loudness_db, audio)
        y = self.harmonic(f0_hz, amp, dist, n_samples=n) + self.noise(noise, n_samples=n)
        return self.reverb(y)[:, 0]
