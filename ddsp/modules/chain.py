"""``Chain``: processors applied in sequence, list-like (append, index, iterate, len)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import nn

from .base import Processor

__all__ = ["Chain"]


class Chain(nn.Module):
    """Processors in sequence: ``Chain([a, b])(x) == b(a(x))``.

    All processors must share one sample rate. Shape: ``(batch, channels, time)`` in
    and out (each processor decides its own output channels).
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for p in self.processors:
            x = p(x)
        return x

    def reset(self) -> None:
        for p in self.processors:
            p.reset()
