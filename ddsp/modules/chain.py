"""``Chain``: processors applied in sequence, list-like (append, index, iterate, len)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import Processor

__all__ = ["Chain"]

_MAX_CHANNELS = 8  # numpy input with more rows than this is taken for (time, channels)


class Chain(nn.Module):
    """Processors in sequence: ``Chain([a, b])(x) == b(a(x))``, pedalboard-style.

    All processors share one sample rate. Call it on a tensor ``(batch, channels,
    time)`` (differentiable) or on a numpy array ``(channels, time)`` with
    ``sample_rate=`` (returns numpy); mono and stereo are explicit in the channel axis.
    """

    def __init__(self, processors: Iterable[Processor] = ()) -> None:
        super().__init__()
        self.processors = nn.ModuleList()
        for p in processors:
            self.append(p)

    @property
    def sample_rate(self) -> float | None:
        return self.processors[0].sample_rate if len(self.processors) else None

    def append(self, processor: Processor) -> Chain:
        if not isinstance(processor, Processor):
            raise TypeError(f"expected a Processor, got {type(processor).__name__}")
        first = next(iter(inspect.signature(processor.forward).parameters), None)
        if first != "x":  # sources take f0, gates or a length, not audio
            raise ValueError(
                f"{type(processor).__name__} is a source (its input is {first!r}, not audio "
                "x): a chain holds effects; use a Graph (a voice) to play sources"
            )
        if self.sample_rate is not None and processor.sample_rate != self.sample_rate:
            raise ValueError(
                f"expected sample_rate {self.sample_rate:g} like the chain, got "
                f"{processor.sample_rate:g} for {type(processor).__name__}"
            )
        self.processors.append(processor)
        return self

    def __getitem__(self, index: int) -> Processor:
        return self.processors[index]  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.processors)

    def __iter__(self) -> Iterator[Processor]:
        return iter(self.processors)  # type: ignore[arg-type]

    def forward(self, x: Any, sample_rate: float | None = None, tail_seconds: float = 0.0) -> Any:
        """Process ``x`` through every processor in turn.

        Args:
            x: a tensor ``(batch, channels, time)``, or a numpy array ``(channels, time)``
                (or ``(time,)`` for mono), processed without gradients and returned as
                numpy of the same layout and dtype. A numpy array with more than 8 rows,
                or more rows than columns, is refused as ``(time, channels)`` (soundfile's
                layout: pass ``x.T``).
            sample_rate: Hz of ``x``; required for numpy input, checked if given.
            tail_seconds: silence appended before processing, so reverbs and delays
                ring out into the output.
        """
        if isinstance(tail_seconds, bool) or not (
            isinstance(tail_seconds, (int, float)) and 0 <= tail_seconds <= 3600
        ):
            raise ValueError(f"expected tail_seconds in [0, 3600] s, got {tail_seconds!r}")
        if len(self.processors) == 0:
            return x
        if sample_rate is not None and float(sample_rate) != self.sample_rate:
            raise ValueError(
                f"expected audio at the chain's sample rate {self.sample_rate:g} Hz, "
                f"got {float(sample_rate):g} Hz (build the chain or preset at that rate)"
            )
        if isinstance(x, np.ndarray):
            return self._process_numpy(x, sample_rate, tail_seconds)
        if tail_seconds:
            x = torch.nn.functional.pad(x, (0, int(round(tail_seconds * self.sample_rate))))
        for i, p in enumerate(self.processors):
            try:
                x = p(x)
            except ValueError as e:  # say which step refused the audio
                raise ValueError(f"{type(p).__name__} (chain step {i + 1}): {e}") from e
        return x

    def _process_numpy(
        self, x: np.ndarray, sample_rate: float | None, tail_seconds: float
    ) -> np.ndarray:
        if sample_rate is None:
            raise ValueError("expected sample_rate= with numpy audio (channels, time)")
        if x.ndim not in (1, 2):
            raise ValueError(
                f"expected numpy audio (channels, time) or (time,), got shape {x.shape}"
            )
        if x.ndim == 2 and (x.shape[0] > _MAX_CHANNELS or x.shape[0] > x.shape[1]):
            raise ValueError(
                f"expected numpy audio (channels, time), got shape {x.shape}: "
                f"{x.shape[0]} channels of {x.shape[1]} sample(s) looks like (time, channels), "
                "the layout soundfile reads; pass x.T"
            )
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"expected floating-point audio, got dtype {x.dtype}")
        frames = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(
            1, -1, x.shape[-1]
        )
        with torch.no_grad():
            y = self.forward(frames, tail_seconds=tail_seconds)[0].numpy()
        return (y[0] if x.ndim == 1 else y).astype(x.dtype, copy=False)
