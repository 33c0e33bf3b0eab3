"""``Stream``: run a processor, chain or voice block by block, as a plugin host would.

A stream owns the state of one ``(batch, channels)`` signal: filter memories, delay
lines, envelope levels, oscillator phases, overlap-add tails. The module keeps none, so
one module can feed several streams. Each :meth:`Stream.process` call takes the next
block and returns the next block of output; the concatenated output equals the module's
offline output on the whole signal, delayed by :attr:`Stream.latency_samples`.

Automation: a parameter that changed since the previous block (``proc.cutoff_hz = 800``,
an optimiser step, or a control passed to :meth:`Stream.process`) is ramped across the
block, linearly in its spec's normalized units (octaves for log-scaled frequencies,
decibels for gains), from the previous value, held by the block's first sample, to the
new value, reached on its last sample: no zipper steps. With ``automation="step"`` the new
value holds from the block's first sample instead (as exported plugins apply knobs).

Gradients flow through each block to the input and to the parameters (a streamed pass is
differentiable); the state carried between blocks holds values, not a graph, so a
block-wise training loop is truncated backpropagation through time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_signal
from ..modules.base import Processor
from ..modules.chain import Chain
from ..modules.graph import Graph
from .nodes import ChainNode, GraphNode, ProcessorNode

__all__ = ["Stream", "AUTOMATION"]

AUTOMATION = ("ramp", "step")


class Stream:
    """Block-by-block processing with carried state (see the module docstring).

    Args:
        module: a :class:`~ddsp.Processor`, :class:`~ddsp.Chain` or :class:`~ddsp.Graph`.
        channels: input channels of an effect (1 or 2 for the stereo effects); ignored for
            sources and voices, which produce their own channels.
        batch: signals processed side by side.
        dtype, device: of the blocks (float32 or float64; cpu or cuda).
        frame_size: samples per control frame for sources driven by frames (``Harmonic``
            amplitudes and ``FilteredNoise`` magnitudes): each block then carries the
            frames that start inside it. None: controls per sample (or per block).
        automation: ``"ramp"`` (changed parameters glide across a block) or ``"step"``
            (they change at the block boundary).

    Shapes: effects take ``(batch, channels, n)`` tensors, or numpy ``(channels, n)`` (or
    ``(n,)``) arrays with ``batch=1``, returned in the same form (numpy runs without
    gradients, on the fast paths; tensors too under ``torch.no_grad()``); sources and voices take
    their inputs by name (``f0_hz (batch, n)``, ``gate (batch, n)``, ...) and return
    ``(batch, channels, n)``.
    """

    def __init__(
        self,
        module: Processor | Chain | Graph,
        *,
        channels: int = 2,
        batch: int = 1,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        frame_size: int | None = None,
        automation: str = "ramp",
    ) -> None:
        if not isinstance(module, (Processor, Chain, Graph)):
            raise TypeError(f"expected a Processor, Chain or Graph, got {type(module).__name__}")
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"expected channels as a positive int, got {channels!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"expected batch as a positive int, got {batch!r}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"expected dtype float32 or float64, got {dtype}")
        if frame_size is not None and (
            isinstance(frame_size, bool) or not isinstance(frame_size, int) or frame_size < 1
        ):
            raise ValueError(f"expected frame_size as a positive int or None, got {frame_size!r}")
        if automation not in AUTOMATION:
            raise ValueError(f"expected automation in {AUTOMATION}, got {automation!r}")
        self.module = module
        self.automation = automation
        self.channels, self.batch = channels, batch
        self.dtype, self.device = dtype, torch.device(device)
        self.frame_size = frame_size
        if isinstance(module, Graph):
            self._root: Any = GraphNode(module, self._spec())
        elif isinstance(module, Chain):
            if len(module) == 0:
                raise ValueError("expected a chain with at least one processor")
            self._root = ChainNode(module, self._spec())
        else:
            self._root = ProcessorNode(module, self._spec(), delay=0)
        self.position = 0  # samples processed since the last reset

    def _spec(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "channels": self.channels,
            "dtype": self.dtype,
            "device": self.device,
            "frame_size": self.frame_size,
            "ramp": self.automation == "ramp",
        }

    # ------------------------------------------------------------------ properties

    @property
    def sample_rate(self) -> float:
        return float(self.module.sample_rate)

    @property
    def latency_samples(self) -> int:
        """Samples by which the streamed output lags the offline output (host compensation)."""
        return int(self._root.latency)

    @property
    def tail_samples(self) -> int:
        """Samples the output keeps sounding after the input falls silent (to flush)."""
        return int(self._root.tail)

    @property
    def out_channels(self) -> int:
        return int(self._root.out_channels)

    @property
    def is_source(self) -> bool:
        """True for sources and voices (inputs by name), False for effects (audio in)."""
        return bool(self._root.is_source)

    # ------------------------------------------------------------------ processing

    def reset(self) -> None:
        """Clear every tail, delay line and phase; parameters are kept."""
        self._root.reset()
        self.position = 0

    def process(
        self,
        x: torch.Tensor | np.ndarray | None = None,
        *,
        sample_rate: float | None = None,
        n_samples: int | None = None,
        **inputs: Any,
    ) -> torch.Tensor | np.ndarray:
        """Process the next block; see the class docstring for shapes.

        Args:
            x: the audio block of an effect.
            sample_rate: Hz of the block, checked against the stream's when given.
            n_samples: block length of a source or voice whose inputs are all per block.
            **inputs: a source's or voice's inputs by name, and controls that override a
                single processor's parameters for this block (ramped from the last one).

        A bad block (wrong shape, dtype, device or rate, NaN/Inf samples) raises and
        leaves the stream exactly as it was.
        """
        if sample_rate is not None and float(sample_rate) != self.sample_rate:
            raise ValueError(
                f"expected blocks at the stream's {self.sample_rate:g} Hz, got "
                f"{float(sample_rate):g} Hz"
            )
        as_numpy = isinstance(x, np.ndarray)
        if self.is_source:
            if x is not None:
                raise TypeError(
                    f"{self._name()} is a source: pass its inputs by name, not audio "
                    f"(it takes {sorted(self._root.input_names)})"
                )
            block, n = None, self._block_length(inputs, n_samples)
        else:
            block = self._check_block(x)
            n = block.shape[-1]
        if as_numpy:  # numpy in, numpy out: inference, no graph
            with torch.no_grad():
                y = self._root.process(block, n, inputs)
        else:
            y = self._root.process(block, n, inputs)  # raises before any state changes
        self.position += n
        if as_numpy:
            out = y[0] if isinstance(y, np.ndarray) else y.detach()[0].cpu().numpy()
            return out[0] if x.ndim == 1 and out.shape[0] == 1 else out
        return torch.from_numpy(y) if isinstance(y, np.ndarray) else y

    __call__ = process

    def _name(self) -> str:
        return type(self.module).__name__

    def _check_block(self, x: Any) -> torch.Tensor | np.ndarray:
        if x is None:
            raise TypeError(f"{self._name()} is an effect: pass an audio block")
        if isinstance(x, np.ndarray):
            if self.batch != 1:
                raise ValueError(f"expected a tensor block for a stream of batch {self.batch}")
            if not np.issubdtype(x.dtype, np.floating):
                raise TypeError(f"expected floating-point audio, got dtype {x.dtype}")
            if x.ndim not in (1, 2):
                raise ValueError(f"expected numpy audio (channels, n) or (n,), got shape {x.shape}")
            arr = x if x.ndim == 2 else x[None]
            if arr.shape[0] != self.channels:
                raise ValueError(
                    f"expected numpy blocks of {self.channels} channel(s) (channels, n), got "
                    f"shape {x.shape}"
                )
            if not np.isfinite(arr).all():
                bad = int((~np.isfinite(arr)).sum())
                raise ValueError(
                    f"expected finite samples, got {bad} NaN/Inf sample(s) in the block"
                )
            dtype = np.float32 if self.dtype == torch.float32 else np.float64
            return np.ascontiguousarray(arr, dtype=dtype)[None]  # stays numpy: fast paths
        t = check_signal(x, "block")
        if t.ndim != 3 or t.shape[0] != self.batch or t.shape[1] != self.channels:
            raise ValueError(
                f"expected blocks of shape (batch={self.batch}, channels={self.channels}, n), "
                f"got {tuple(t.shape)}"
            )
        if t.dtype != self.dtype:
            raise TypeError(f"expected blocks of dtype {self.dtype}, got {t.dtype}")
        if t.device != self.device:
            raise ValueError(f"expected blocks on {self.device}, got {t.device}")
        if t.numel() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"expected finite samples, got {bad} NaN/Inf sample(s) in the block")
        return t

    def _block_length(self, inputs: dict[str, Any], n_samples: int | None) -> int:
        lengths = set()
        for name, value in inputs.items():
            if (
                isinstance(value, torch.Tensor)
                and value.ndim >= 2
                and name in self._root.per_sample
            ):
                lengths.add(int(value.shape[1]))
        if n_samples is not None:
            if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 0:
                raise ValueError(f"expected n_samples as an int >= 0, got {n_samples!r}")
            lengths.add(n_samples)
        if len(lengths) != 1:
            raise ValueError(
                "expected per-sample inputs (batch, n) of one length or n_samples=, got "
                f"lengths {sorted(lengths) or 'none'}"
            )
        return lengths.pop()

    def __repr__(self) -> str:
        return (
            f"Stream({self._name()}, batch={self.batch}, channels={self.channels}, "
            f"latency_samples={self.latency_samples}, position={self.position})"
        )


def parameters_of(module: nn.Module) -> list[nn.Parameter]:
    """The learnable parameters a stream reads (for gradient checks in tests)."""
    return list(module.parameters())
