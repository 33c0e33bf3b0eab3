"""Convolution reverbs (``ConvolutionReverb``, ``NoiseReverb``) over whole blocks, with no
latency, as the library's stream (:func:`ddsp.functional.reverb.convolve_blocks`).

The impulse response is fixed at export, taken from the module as its stream computes it.
It is cut into a **head** of ``P`` samples and **levels** of uniform partitions whose size
grows by 4 (non-uniform partitioned convolution, Gardner 1995; Wefers 2015):

* the head (IR samples ``[0, P)``) runs as a direct FFT convolution of each block with the
  last ``P - 1`` input samples (no latency, any block size);
* level ``l`` has partitions of ``Q = 4^l P`` samples and holds IR samples ``[Q, 4 Q)``
  (the last level: ``[Q, L)``, its size capped at :data:`LARGEST`). Each time ``Q`` input
  samples complete a partition, the level transforms the last two partitions (FFT size
  ``2 Q``) into its frequency-domain delay line (a ring of ``K`` spectra) and sums them
  against its IR spectra: the output of its IR share for the next ``Q`` samples, which a
  partition at offset ``>= Q`` can give in time.

Per sample, each level costs about two FFT butterflies of ``2 Q`` and ``K <= 3`` complex
multiply-adds (the last level a few more), whatever the IR length; the larger levels run
rarely (a level of 16384 samples once every 32 blocks of 512). Everything runs in float64
unless the block is built with ``precision=torch.float32`` (the live instruments: half the
cost of the FFTs, an error of about 1e-6 of the signal).

TorchScript and eager runs take any block size (each level tracks how much of its
partition is filled). An exported program is traced for one block size ``n`` and needs
every level to divide ``n`` or be divided by it (the builder picks ``P`` from the block
size so that the size it is given does); a level larger than the block completes its
partition in one block out of ``Q / n``, through ``torch.cond``. Export it from silent
state (after ``allocate`` or ``reset``).
"""

import torch
from torch import Tensor, nn

from ...functional._complex import complex_dot
from .base import Block, ExportError, constant, exporting, knob_values, param

__all__ = ["ConvolutionBlock", "LARGEST", "head_size", "level_sizes"]

LARGEST = 16384  # the largest partition (its FFT runs in one block)
_GROWTH = 4  # partition size ratio between levels
_LAST_PARTS = 8  # a level of Q holds up to this many partitions before a larger one starts


def head_size(block_size: int) -> int:
    """The head's length for blocks of ``block_size``: the block size, halved while above
    1024 (and even), at least 16 (a multiple of the block size then)."""
    p = max(int(block_size), 1)
    while p > 1024 and p % 2 == 0:
        p //= 2
    if p < 16:
        p *= -(-16 // p)
    return p


def level_sizes(ir_length: int, head: int) -> list[tuple[int, int]]:
    """``(Q, K)`` of each level for an IR of ``ir_length`` after a head of ``head``."""
    out: list[tuple[int, int]] = []
    q = head
    while q < ir_length:
        last = ir_length <= q * (1 + _LAST_PARTS) or q * _GROWTH > max(LARGEST, head)
        if last:
            out.append((q, -(-ir_length // q) - 1))
            break
        out.append((q, _GROWTH - 1))
        q *= _GROWTH
    return out


class _Level(nn.Module):
    """One level: partitions of ``size`` samples, ``parts`` IR spectra (see the module
    docstring), its state for ``rows`` signals."""

    def __init__(self, ir: Tensor, size: int, parts: int) -> None:
        super().__init__()
        self.size, self.parts = int(size), int(parts)
        real = ir.dtype  # float64, or float32 (complex64 spectra)
        segment = torch.zeros((parts + 1) * size, dtype=real)
        piece = ir[size : (parts + 1) * size]
        segment[size : size + piece.shape[0]] = piece
        spectra = torch.fft.rfft(segment.reshape(parts + 1, size)[1:], 2 * size)
        # partitions K .. 1, twice: the ring's sum is one slice (as the library stores them)
        backwards = spectra.flip(0)
        self.register_buffer("spectra", torch.cat([backwards, backwards]))
        self.register_buffer("ages", torch.arange(parts, dtype=torch.int64))
        self.register_buffer("chunk", torch.zeros(1, size, dtype=real))
        self.register_buffer("previous", torch.zeros(1, size, dtype=real))
        # the ring's spectra as real pairs (complex operators do not compile), and one
        # scratch slot (an exported block's idle write)
        self.register_buffer("ring", torch.zeros(1, parts + 1, size + 1, 2, dtype=real))
        self.register_buffer("tail", torch.zeros(1, size, dtype=real))
        self.register_buffer("fill", torch.zeros(1, dtype=torch.int64))
        self.register_buffer("count", torch.zeros(1, dtype=torch.int64))

    @torch.jit.export
    def allocate(self, rows: int) -> None:
        size, parts = self.size, self.parts
        real = self.chunk.dtype
        self.chunk = torch.zeros(rows, size, dtype=real)
        self.previous = torch.zeros(rows, size, dtype=real)
        self.ring = torch.zeros(rows, parts + 1, size + 1, 2, dtype=real)
        self.tail = torch.zeros(rows, size, dtype=real)
        self.fill.zero_()  # in place: TorchScript folds a constant zeros() into one shared tensor
        self.count.zero_()

    def _window(self, previous: Tensor, chunk: Tensor) -> Tensor:
        """The spectrum of the last two partitions as a ring slot ``(rows, 1, size + 1,
        2)``."""
        return torch.view_as_real(torch.fft.rfft(torch.cat([previous, chunk], 1)))[:, None]

    def _spectra_at(self, count: Tensor) -> Tensor:
        """The IR spectra that meet the ring's slots after ``count`` windows, as real pairs
        ``(parts, size + 1, 2)`` (a real gather compiles; a complex one falls back)."""
        at = torch.remainder(-count, self.parts) + self.ages
        return torch.view_as_real(self.spectra).index_select(0, at)

    def _ahead(self, ring: Tensor, count: Tensor) -> Tensor:
        """The next partition's share in the frequency domain ``(rows, size + 1)``, from
        the ring after ``count`` windows."""
        spectra = self._spectra_at(count)
        parts = ring.narrow(1, 0, self.parts)
        if torch.jit.is_scripting() or not exporting():
            return (torch.view_as_complex(parts) * torch.view_as_complex(spectra)).sum(1)
        return complex_dot(parts, spectra)

    def _tail(self, ring: Tensor, count: Tensor) -> Tensor:
        """The next partition's tail from the ring after ``count`` windows."""
        size = self.size
        return torch.fft.irfft(self._ahead(ring, count), 2 * size)[:, size:].contiguous()

    @torch.jit.unused
    def fused(self, u: Tensor, head_spectrum: Tensor) -> Tensor:
        """An exported block of exactly one partition, the head's convolution folded in
        (uniformly partitioned, one FFT pair): ``head_spectrum`` is the head's rfft of
        ``2 * size``. The level's ``tail`` is not kept (the block size never changes)."""
        window = self._window(self.previous, u)
        inputs = torch.cat([window, self.ring.narrow(1, 0, self.parts)], 1)
        head = torch.view_as_real(head_spectrum)[None]
        kernels = torch.cat([head, self._spectra_at(self.count)], 0)
        spectrum = complex_dot(inputs, kernels)
        wet = torch.fft.irfft(spectrum, 2 * self.size)[:, self.size :]
        self.ring.index_copy_(1, torch.remainder(self.count, self.parts), window)
        self.count.add_(1)
        self.previous.copy_(u)
        return wet

    def forward(self, u: Tensor) -> Tensor:
        """This level's share of the convolution for the block ``u (rows, n)``."""
        n = u.shape[1]
        size = self.size
        if torch.jit.is_scripting() or not exporting():
            fill = int(self.fill[0])
        elif n % size == 0:
            fill = 0  # traced from silence at a block size the partitions divide
        elif size % n == 0:
            return self._exported_rare(u)
        else:
            raise ExportError(
                f"a partition of {size} samples and blocks of {n}: export at a block size "
                "that the builder was given"
            )
        pieces: list[Tensor] = []
        pos = 0
        while pos < n:
            take = min(size - fill, n - pos)
            pieces.append(self.tail[:, fill : fill + take].clone())
            self.chunk[:, fill : fill + take] = u[:, pos : pos + take]
            fill += take
            pos += take
            if fill == size:
                slot = torch.remainder(self.count, self.parts)
                self.ring.index_copy_(1, slot, self._window(self.previous, self.chunk))
                self.count.add_(1)
                self.tail.copy_(self._tail(self.ring, self.count))
                self.previous.copy_(self.chunk)
                fill = 0
        self.fill.fill_(fill)
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, 1)

    @torch.jit.unused
    def _exported_rare(self, u: Tensor) -> Tensor:
        """An exported level larger than the block: one block in ``size / n`` completes
        the partition (at its end), through ``torch.cond``. The branches return the ring's
        new slot, not the ring (a ring passed through ``cond`` would be copied out and back
        on every block); a block that completes nothing writes zeros to the scratch slot."""
        n = u.shape[1]
        where = self.fill + torch.arange(n, dtype=torch.int64)
        out = self.tail.index_select(1, where)
        self.chunk.index_copy_(1, where, u)
        done = (self.fill[0] + n) == self.size
        slot = torch.remainder(self.count, self.parts)
        target = torch.where(done, slot, self.parts)

        def complete(previous, chunk, ring, tail, count):
            window = self._window(previous, chunk)
            # the ring with the new slot, selected where read (no copy of the ring)
            fresh = torch.arange(self.parts + 1)[None, :, None, None] == slot
            ring = torch.where(fresh, window, ring)
            # fresh tensors: both branches must return the same layout (offset 0)
            tail = self._tail(ring, count + 1).clone(memory_format=torch.contiguous_format)
            return chunk.clone(), window, tail

        def wait(previous, chunk, ring, tail, count):
            idle = torch.zeros(tail.shape[0], 1, self.size + 1, 2, dtype=ring.dtype)
            return previous.clone(), idle, tail.clone()

        previous, window, tail = torch.cond(
            done, complete, wait, (self.previous, self.chunk, self.ring, self.tail, self.count)
        )
        self.previous.copy_(previous)
        self.ring.index_copy_(1, target, window)
        self.tail.copy_(tail)
        self.count.add_(done.to(torch.int64))
        self.fill.copy_(torch.remainder(self.fill + n, self.size))
        return out


def _fft_size(n: int) -> int:
    """The power of two at or above ``n``."""
    size = 1
    while size < n:
        size *= 2
    return size


class ConvolutionBlock(Block):
    """``ConvolutionReverb`` and ``NoiseReverb``: the IR at export, ``mix`` as a knob (or a
    modulation). ``NoiseReverb``'s IR settings cannot move (the IR would be redrawn)."""

    def __init__(
        self,
        proc,
        channels: int,
        block_size: int,
        knob_params: list[str],
        *,
        precision: torch.dtype = torch.float64,
    ) -> None:
        name = type(proc).__name__
        values = knob_values(proc, knob_params)
        fixed = [k for k in knob_params if k != "mix"]
        if fixed:
            raise ExportError(
                f"{name}: {fixed} cannot be knobs: the impulse response is computed at "
                "export (only mix can move)"
            )
        super().__init__(name, channels, channels)
        with torch.no_grad():
            if name == "NoiseReverb":
                ir = proc._ir(proc.controls(), torch.float32)  # as the stream computes it
            else:
                ir = proc.ir.detach().to(torch.float32)
        if precision not in (torch.float32, torch.float64):
            raise ExportError(f"precision: expected float32 or float64, got {precision}")
        ir = ir.reshape(-1).to(precision)
        length = ir.shape[0]
        p = min(head_size(block_size), length)
        self.size = p
        self.register_buffer("head", ir[:p].clone())
        self.head_nfft = _fft_size(block_size + p - 1)
        self.register_buffer("head_spectrum", torch.fft.rfft(self.head, self.head_nfft))
        self.levels = nn.ModuleList([_Level(ir, q, k) for q, k in level_sizes(length, p)])
        # an exported block of p samples runs the head inside the first level (same size)
        self.fuse = len(self.levels) > 0 and self.levels[0].size == p
        self.register_buffer("head_spectrum_pair", torch.fft.rfft(self.head, 2 * p))
        self.register_buffer("mix", constant(values["mix"]))
        self.register_buffer("history", torch.zeros(channels, p - 1, dtype=precision))
        self.allocate(1)

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        rows = batch * self.in_channels
        self.history = torch.zeros(rows, self.size - 1, dtype=self.head.dtype)
        for level in self.levels:
            level.allocate(rows)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, channels, n = x.shape[0], x.shape[1], x.shape[2]
        if n == 0:
            return x
        real = self.head.dtype
        u = x.reshape(batch * channels, n).to(real)
        p = self.size
        if not torch.jit.is_scripting() and n == p and self.fuse and exporting():
            wet = self._fused(u)
        else:
            joined = torch.cat([self.history, u], 1)
            nfft = _fft_size(n + p - 1)
            spectrum = self.head_spectrum
            if nfft != self.head_nfft:
                spectrum = torch.fft.rfft(self.head, nfft)
            wet = torch.fft.irfft(torch.fft.rfft(joined, nfft) * spectrum, nfft)
            wet = wet[:, p - 1 : p - 1 + n]
            if p > 1:
                self.history.copy_(joined[:, n:])
            for level in self.levels:
                wet = wet + level(u)
        m = param(inputs, "mix", self.mix)
        m = m.reshape(m.shape[0], 1, m.shape[-1]).to(real)
        y = (1.0 - m) * x.to(real) + m * wet.reshape(batch, channels, n)
        return y.to(x.dtype)

    @torch.jit.unused
    def _fused(self, u: Tensor) -> Tensor:
        """An exported block of ``P`` samples: the head and the first level in one FFT
        pair (:meth:`_Level.fused`), the other levels as usual. The head's ``history`` is
        not kept (an exported block size never changes)."""
        levels = list(self.levels)
        wet = levels[0].fused(u, self.head_spectrum_pair)
        for level in levels[1:]:
            wet = wet + level(u)
        return wet
