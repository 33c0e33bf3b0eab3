"""The matching objective: a multi-resolution spectral loss on random crops of the pair,
with the target's spectra computed once.

A crop of ``crop`` samples starting at ``s`` is scored on the chain's output for
``dry[s - context : s + crop]``, of which the first ``context`` samples are dropped: the
chain's delay lines, reverb tails and envelopes start from silence ``context`` samples
early, as they did (nearly) in the whole file. Crop starts are multiples of the largest
hop, and the STFTs are uncentred, so the target's frames for any crop are a slice of the
target's spectra over the whole file, computed once (``stft_magnitude`` frames ``k`` cover
samples ``[k hop, k hop + n_fft)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..modules.chain import Chain

__all__ = ["SpectralObjective", "run_chain", "MATCH_FFT_SIZES"]

# 2048 resolves an EQ's shape, 512 and 128 an envelope's attack: the DDSP set's
# 1024/256/64 add little for effect matching and cost as much again.
MATCH_FFT_SIZES = (2048, 512, 128)
_LOG_EPS = 1e-5


def run_chain(chain: Chain, x: torch.Tensor, at: Sequence[int] | None = None) -> torch.Tensor:
    """``chain(x)``: the processors in turn. ``at``: where each item of ``x`` begins in the
    signal (samples), for processors that change with time (an LFO's phase: those with a
    ``run_at(x, at)``), so that crops sweep as the whole signal did."""
    for proc in chain:
        run_at = getattr(proc, "run_at", None)
        x = proc(x) if at is None or run_at is None else run_at(x, list(at))
    return x


def _magnitude(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    # uncentred frames, so a crop's frames are a slice of the whole file's frames
    hop = n_fft // 4
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    rows = x.reshape(-1, x.shape[-1])
    spec = torch.stft(rows, n_fft, hop, window=window, center=False, return_complex=True)
    mag = torch.view_as_real(spec).square().sum(-1).clamp_min(1e-14).sqrt()
    return mag.reshape(*x.shape[:-1], *mag.shape[-2:])


class SpectralObjective:
    """Multi-resolution spectral loss of ``chain(dry)`` against ``wet`` on crops.

    Args:
        dry: ``(channels, time)`` input.
        wet: ``(channels', time)`` target, same length.
        fft_sizes: FFT sizes (hop a quarter of each); all divide the largest.
        crop: samples scored per crop (rounded to a whole number of largest hops).
        context: samples processed before each crop and not scored.
        waveform_weight: weight of a waveform term (mean absolute difference), for targets
            made by phase-matched processors (0: spectral only).

    The loss per FFT size is the mean absolute difference of magnitudes plus that of log
    magnitudes (DDSP's), summed over sizes and averaged over crops.
    """

    def __init__(
        self,
        dry: torch.Tensor,
        wet: torch.Tensor,
        *,
        fft_sizes: Sequence[int] = MATCH_FFT_SIZES,
        crop: int = 24_000,
        context: int = 12_000,
        waveform_weight: float = 0.0,
    ) -> None:
        if dry.shape[-1] != wet.shape[-1]:
            raise ValueError(
                f"expected dry and wet of one length, got {dry.shape[-1]} and {wet.shape[-1]}"
            )
        self.fft_sizes = tuple(sorted(int(n) for n in fft_sizes))
        self.step = self.fft_sizes[-1] // 4
        if any(self.step % (n // 4) for n in self.fft_sizes):
            raise ValueError(f"expected FFT sizes whose hops divide {self.step}, got {fft_sizes}")
        self.dry, self.wet = dry.float(), wet.float()
        n_t = dry.shape[-1]
        self.crop = max(self.fft_sizes[-1], min(crop, n_t) // self.step * self.step)
        self.context = int(context)
        self.waveform_weight = float(waveform_weight)
        self.target = {}
        for n in self.fft_sizes:
            mag = _magnitude(self.wet, n)
            self.target[n] = (mag, torch.log(mag + _LOG_EPS))

    @property
    def n_starts(self) -> int:
        """How many crop starts the file allows."""
        return max(1, (self.dry.shape[-1] - self.crop) // self.step + 1)

    def random_starts(self, count: int, gen: torch.Generator) -> list[int]:
        """``count`` crop starts drawn without replacement (fewer if the file holds fewer)."""
        idx = torch.randperm(self.n_starts, generator=gen)[:count]
        return sorted(int(i) * self.step for i in idx)

    def spread_starts(self, count: int) -> list[int]:
        """``count`` crop starts spread evenly over the file (a fixed evaluation set)."""
        n = self.n_starts
        return sorted({round(i * (n - 1) / max(1, count - 1)) * self.step for i in range(count)})

    def inputs(self, starts: Sequence[int]) -> torch.Tensor:
        """Dry crops with their context, ``(len(starts), channels, context + crop)``."""
        c, n = self.context, self.crop
        padded = torch.nn.functional.pad(self.dry, (c, 0))
        return torch.stack([padded[:, s : s + c + n] for s in starts])

    def loss(self, chain: Chain, starts: Sequence[int]) -> torch.Tensor:
        """The loss of ``chain`` on the crops at ``starts`` (differentiable in the chain)."""
        at = [s - self.context for s in starts]
        y = run_chain(chain, self.inputs(starts), at)[..., self.context :]
        return self.loss_of(y, starts)

    def loss_of(self, y: torch.Tensor, starts: Sequence[int]) -> torch.Tensor:
        """The loss of outputs ``y (crops, channels', crop)`` for crops at ``starts``."""
        if y.shape[1] != self.wet.shape[0]:
            raise ValueError(
                f"expected {self.wet.shape[0]} output channel(s) like the wet file, got "
                f"{y.shape[1]}"
            )
        total = y.new_zeros(())
        for n in self.fft_sizes:
            hop = n // 4
            pred = _magnitude(y, n)
            frames = pred.shape[-1]
            mag, log = self.target[n]
            t_mag = torch.stack([mag[..., s // hop : s // hop + frames] for s in starts])
            t_log = torch.stack([log[..., s // hop : s // hop + frames] for s in starts])
            total = total + (pred - t_mag).abs().mean()
            total = total + (torch.log(pred + _LOG_EPS) - t_log).abs().mean()
        if self.waveform_weight:
            n = y.shape[-1]
            target = torch.stack([self.wet[:, s : s + n] for s in starts])
            total = total + self.waveform_weight * (y - target).abs().mean()
        return total
