"""Harmonic-plus-noise synthesis from decoded frames, at the host's sample rate.

Frames arrive as the analysis decides them (frame ``j`` belongs to input sample
``j * hop``); the synthesiser plays output sample ``u`` from frames ``floor(u / hop)`` and
the next (linear interpolation, as :class:`ddsp.Harmonic` does with frames), so it
starts a block only once those frames are in: its output is the model's, delayed by the
analysis latency plus one hop.

The model was trained at its own rate (``model_rate``): its harmonic distribution is
masked above that rate's Nyquist and its noise bands span 0 .. ``model_rate / 2``. At a
higher host rate the same masks apply, the noise filters are designed on the host's
finer grid with zeros above the model's band, and the noise is scaled by
``sqrt(host_rate / model_rate)`` so that its level per hertz is unchanged: the host hears
the model's sound, not a resampled copy of it.
"""

import math

import torch
from torch import Tensor, nn
from torch.nn.functional import pad

from ..export.blocks.base import exporting
from ..export.blocks.sources import _seed_key, white_noise_block
from ..functional._complex import complex_product

__all__ = ["LiveSynth", "frame_noise"]


def frame_noise(key: Tensor, rows: Tensor, counter: Tensor) -> Tensor:
    """White noise in [-1, 1) at sample ``counter`` of signal ``rows`` (int64, broadcast),
    the library's counter-based sequence (:func:`ddsp.functional.white_noise`): the same
    samples in any block split."""
    return white_noise_block(key, rows, counter).to(torch.float32)


class LiveSynth(nn.Module):
    """Frames in (``push``), audio out (``forward``), state in buffers.

    Args:
        sample_rate: host Hz. model_rate: the model's Hz. hop: host samples per frame.
        n_harmonics, n_bands: the model's sizes. delay: output delay in samples (the
        analysis latency plus one hop). max_block: the longest block ``forward`` takes.
        seed: of the noise.
    """

    def __init__(
        self,
        *,
        sample_rate: float,
        model_rate: float,
        hop: int,
        n_harmonics: int,
        n_bands: int,
        delay: int,
        max_block: int,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.sample_rate, self.model_rate = float(sample_rate), float(model_rate)
        self.hop, self.delay = int(hop), int(delay)
        self.n_harmonics, self.n_bands, self.seed = int(n_harmonics), int(n_bands), int(seed)
        self.history = max_block // hop + delay // hop + 6  # frames kept
        # noise filters on the host's grid: the model's bands, zeros above its Nyquist
        ratio = self.sample_rate / self.model_rate
        model_fft = 2 * (n_bands - 1)
        self.n_fft_ir = int(2 * round(model_fft * ratio / 2))
        bins = self.n_fft_ir // 2 + 1
        freqs = torch.arange(bins, dtype=torch.float64) * (self.sample_rate / self.n_fft_ir)
        pos = freqs / (self.model_rate / 2) * (n_bands - 1)  # fractional band index
        lo = pos.floor().clamp(0, n_bands - 1).long()
        hi = (lo + 1).clamp_max(n_bands - 1)
        w = (pos - lo.to(torch.float64)).clamp(0, 1)
        inside = (pos <= n_bands - 1).to(torch.float64)
        interp = torch.zeros(n_bands, bins, dtype=torch.float64)
        interp[lo, torch.arange(bins)] += (1 - w) * inside
        interp[hi, torch.arange(bins)] += w * inside
        self.ir_size = self.n_fft_ir + 1
        # band magnitudes -> linear-phase FIR in one product: the zero-phase inverse real
        # DFT of the host-grid magnitudes, rolled to the centre, repeated at the end, windowed
        n = self.n_fft_ir
        t = (torch.arange(self.ir_size, dtype=torch.float64) - n // 2) % n
        k = torch.arange(bins, dtype=torch.float64)
        weight = torch.full((bins,), 2.0, dtype=torch.float64)
        weight[0] = 1.0
        if n % 2 == 0:
            weight[-1] = 1.0
        idft = weight[:, None] * torch.cos(2 * math.pi * k[:, None] * t[None, :] / n) / n
        window = torch.hann_window(self.ir_size + 2, periodic=False, dtype=torch.float64)[1:-1]
        basis = (interp * math.sqrt(ratio)) @ (idft * window)  # (n_bands, ir_size)
        self.register_buffer("basis", basis.float())
        self.span = self.hop + self.ir_size - 1
        self.n_fft = 1 << (self.span - 1).bit_length()
        self.register_buffer("harmonics", torch.arange(1, n_harmonics + 1, dtype=torch.float64))
        self.register_buffer("key", torch.tensor(_seed_key(seed), dtype=torch.int64))
        self._zeros(1)

    def _zeros(self, batch: int) -> None:
        r, h = self.history, self.n_harmonics
        self.register_buffer("f0", torch.zeros(batch, r))
        self.register_buffer("amps", torch.zeros(batch, r, h))
        self.register_buffer("bands", torch.zeros(batch, r, self.n_bands))
        self.register_buffer("decided", torch.zeros(1, dtype=torch.int64))  # frames in
        self.register_buffer("played", torch.zeros(1, dtype=torch.int64))  # output samples
        self.register_buffer("phase", torch.zeros(batch, dtype=torch.float64))
        self.register_buffer("pending", torch.zeros(batch, self.span))

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        r, h = self.history, self.n_harmonics
        self.f0 = torch.zeros(batch, r)
        self.amps = torch.zeros(batch, r, h)
        self.bands = torch.zeros(batch, r, self.n_bands)
        self.decided.zero_()  # in place: TorchScript folds constant zeros() into one tensor
        self.played.zero_()
        self.phase = torch.zeros(batch, dtype=torch.float64)
        self.pending = torch.zeros(batch, self.span)

    def _harmonic(self, start: Tensor, oldest: Tensor, n: int, batch: int) -> Tensor:
        """The harmonic part of output samples ``start .. start + n`` ``(batch, n)``;
        advances ``phase``. Sample ``u`` interpolates frames ``u // hop`` and the next, so it
        is laid on a grid of whole frame intervals (``segments`` of ``hop`` samples from
        the frame of the block's first sample): the phase accumulates along the grid, each
        segment reads its two frames once, and the block's samples are taken from it."""
        hop, r = self.hop, self.history
        segments = n // hop + 2  # the frame intervals n samples can touch
        first = torch.div(start, hop, rounding_mode="floor")  # frame of the first sample
        seg = first + torch.arange(segments)  # (S,) each segment's left frame
        i0 = (seg - oldest).clamp(0, r - 1)
        i1 = (seg + 1 - oldest).clamp(0, r - 1)
        frac = torch.arange(hop, dtype=torch.float64) / hop  # (hop,)
        live = (seg[:, None] * hop + torch.arange(hop)) >= 0  # (S, hop)
        f0_a, f0_b = self.f0[:, i0].double(), self.f0[:, i1].double()  # (B, S)
        f0_u = torch.where(live, f0_a[..., None] + frac * (f0_b - f0_a)[..., None], 0.0)
        step = (f0_u * (2 * math.pi / self.sample_rate)).reshape(batch, segments * hop)
        advance = torch.cumsum(step, 1) - step  # phase advance before each grid sample
        offset = start - first * hop  # the block's first sample on the grid, 0 .. hop - 1
        phase = self.phase[:, None] + (advance - advance.index_select(1, offset))
        after = phase.index_select(1, offset + n)[:, 0]  # the phase after the block
        self.phase.copy_(torch.remainder(after, 2 * math.pi))
        amps_a, amps_b = self.amps[:, i0], self.amps[:, i1]  # (B, S, H)
        at = offset + torch.arange(n)  # the block's samples on the grid
        if not torch.jit.is_scripting() and exporting():
            grid = self._clenshaw(amps_a, amps_b, frac, phase.reshape(batch, segments, hop))
            return (grid * live).reshape(batch, segments * hop).index_select(1, at)
        # eager and TorchScript: the block's samples only (a small block would otherwise
        # pay for the whole grid's sines), each reading its segment's frames
        segment = torch.div(at, hop, rounding_mode="floor")
        w = frac.float().index_select(0, at - segment * hop)[:, None]  # (n, 1)
        amps_a, amps_b = amps_a[:, segment], amps_b[:, segment]  # (B, n, H)
        amps = (amps_a + w * (amps_b - amps_a)) * live.reshape(-1)[at].float()[:, None]
        # harmonic phases in turns, reduced in float64 (floor), then a float32 sine of the
        # fraction: the large product keeps its precision, the sine runs twice as wide
        turns = (phase.index_select(1, at) * (1 / (2 * math.pi)))[..., None] * self.harmonics
        sines = torch.sin((turns - torch.floor(turns)).float() * (2 * math.pi))  # (B, n, H)
        return (amps * sines).sum(-1)

    @torch.jit.unused
    def _clenshaw(self, amps_a: Tensor, amps_b: Tensor, frac: Tensor, phase: Tensor) -> Tensor:
        """``sum_k a_k sin(k phase)`` on the grid ``(B, S, hop)``, ``a_k`` interpolated from
        the segment's frames ``amps_a, amps_b (B, S, H)`` by ``frac (hop,)``, by Clenshaw's
        recurrence (``b_k = a_k + 2 cos(phase) b_{k+1} - b_{k+2}``; the sum is ``b_1
        sin(phase)``) in float64: two sines per sample instead of ``H``. Exported programs
        only: compiled, the unrolled recurrence is one loop along the samples, each
        segment's amplitudes broadcast (eager, it would be ``4 H`` calls)."""
        twice_cos = 2 * torch.cos(phase)
        a = amps_a.double()[..., None]  # (B, S, H, 1)
        slope = amps_b.double()[..., None] - a
        b1 = torch.zeros_like(phase)
        b2 = torch.zeros_like(phase)
        for k in range(self.n_harmonics - 1, -1, -1):
            b1, b2 = a[:, :, k] + frac * slope[:, :, k] + twice_cos * b1 - b2, b1
        return (b1 * torch.sin(phase)).float()

    def _impulse_responses(self, noise: Tensor) -> Tensor:
        """Band magnitudes ``(B, k, n_bands)`` -> linear-phase FIRs ``(B, k, ir_size)`` on
        the host grid (see ``basis``)."""
        return torch.matmul(noise, self.basis)

    @torch.jit.export
    def push(
        self, f0_hz: Tensor, amplitude: Tensor, distribution: Tensor, noise: Tensor,
        count: Tensor,
    ) -> None:  # fmt: skip
        """Append the first ``count`` of ``k`` decided frames: f0 ``(B, k)``, amplitude
        ``(B, k)``, distribution ``(B, k, H)``, noise ``(B, k, bands)``."""
        k = f0_hz.shape[1]
        audible = (self.harmonics.float() * f0_hz[..., None] < self.model_rate / 2).float()
        dist = distribution * audible
        dist = dist / dist.sum(-1, keepdim=True).clamp_min(1e-7)
        amps = amplitude[..., None] * dist
        r = self.history
        # keep the newest r frames of (history + the valid new ones)
        index = torch.arange(r) + count
        self.f0.copy_(torch.cat([self.f0, f0_hz], 1)[:, index])
        self.amps.copy_(torch.cat([self.amps, amps], 1)[:, index])
        self.bands.copy_(torch.cat([self.bands, noise], 1)[:, index])
        self.decided.add_(count.clamp(0, k))

    def forward(self, n: int, batch: int) -> Tensor:
        """The next ``n`` output samples ``(batch, n)`` (needs the frames pushed so far)."""
        hop, r = self.hop, self.history
        start = self.played - self.delay  # output sample u of the block's first sample
        oldest = self.decided - r  # frame index of history slot 0
        harmonic = self._harmonic(start, oldest, n, batch)
        # noise: frames starting in [start, start + n) add hop samples of filtered noise
        slots = n // hop + 1
        first = torch.div(start + hop - 1, hop, rounding_mode="floor")
        j = first + torch.arange(slots)  # frame of each slot
        valid = (j * hop < start + n) & (j >= 0)
        counter = j[:, None] * hop + torch.arange(hop)  # (slots, hop) sample counters
        rows = torch.arange(batch)[:, None, None]
        white = frame_noise(self.key, rows, counter[None])
        bands = self.bands[:, (j - oldest).clamp(0, r - 1)] * valid.float()[None, :, None]
        irs = self._impulse_responses(bands)  # (B, slots, ir_size)
        # the noise and the filters in one transform (one call costs more than its size)
        width = max(hop, self.ir_size)
        both = torch.cat([pad(white, (0, width - hop)), pad(irs, (0, width - self.ir_size))], 1)
        spectra = torch.view_as_real(torch.fft.rfft(both, self.n_fft))
        product = complex_product(spectra[:, :slots], spectra[:, slots:])
        grains = torch.fft.irfft(product, self.n_fft)[..., : self.span]  # (B, slots, span)
        acc = torch.cat([self.pending, torch.zeros(batch, n)], 1)
        at = (j * hop - start).clamp(0, n)  # where each grain starts in acc
        index = (at[:, None] + torch.arange(self.span))[None].expand(batch, -1, -1)
        acc = acc.scatter_add(1, index.reshape(batch, -1), grains.reshape(batch, -1))
        self.pending.copy_(acc[:, n:])
        self.played.add_(n)
        return harmonic + acc[:, :n]
