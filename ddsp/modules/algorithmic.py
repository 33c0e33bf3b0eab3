"""Algorithmic reverb processors: :class:`FDNReverb` and :class:`Freeverb`."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional.algorithmic import (
    fdn_delays,
    fdn_reverb,
    fdn_state,
    freeverb,
    freeverb_state,
    orthogonal,
)
from ..params import ParamSpec
from ._options import number_option, seed_option, whole_option
from .base import Processor, check_audio

__all__ = ["FDNReverb", "Freeverb"]


def _block_value(value: Any) -> Any:
    """A control held for the block: the network's coefficients change at block edges, so a
    ramped control takes its final value (the decay changes smoothly anyway)."""
    return value[..., -1:] if isinstance(value, torch.Tensor) and value.ndim == 3 else value


class FDNReverb(Processor):
    """Feedback delay network reverb (see :func:`ddsp.functional.fdn_reverb`), stereo out.

    Learnable beyond the specs: the feedback matrix (stored as ``matrix_weight``, mapped
    through :func:`~ddsp.functional.algorithmic.orthogonal`, so it stays orthogonal while
    it learns), ``input_gains (N,)`` and ``output_gains (2, N)``; they live in the
    ``state_dict`` (presets keep the specs and options, and the seed that drew them).

    Options: ``n_lines`` (4 to 16), ``min_delay_ms`` / ``max_delay_ms`` (line lengths,
    prime numbers of samples between them), ``seed``.
    Shape: ``(batch, C, time) -> (batch, 2, time)``, ``C`` in {1, 2}.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rt60_s", "s", 0.05, 20.0, 1.5, scale="log", description="decay time at DC"),
        ParamSpec(
            "high_rt60_ratio", "", 0.05, 1.0, 0.5, scale="log", description="decay at Nyquist / DC"
        ),
        ParamSpec("pre_delay_ms", "ms", 0.0, 200.0, 0.0, description="gap before the tail"),
        ParamSpec("mix", "", 0.0, 1.0, 0.25, description="dry 0 .. wet 1"),
    )
    nondifferentiable: ClassVar[tuple[str, ...]] = ("pre_delay_ms",)

    def __init__(
        self,
        sample_rate: float,
        n_lines: int = 8,
        min_delay_ms: float = 20.0,
        max_delay_ms: float = 50.0,
        seed: int = 0,
        **values: float,
    ) -> None:
        super().__init__(sample_rate, **values)
        n_lines = whole_option("FDNReverb", "n_lines", n_lines, 4, 16)
        self.n_lines, self.seed = n_lines, seed_option("FDNReverb", seed)
        min_delay_ms = number_option("FDNReverb", "min_delay_ms", min_delay_ms, 0.0, 1000.0,
                                     low_open=True)  # fmt: skip
        max_delay_ms = number_option("FDNReverb", "max_delay_ms", max_delay_ms, min_delay_ms,
                                     1000.0)  # fmt: skip
        self.min_delay_ms, self.max_delay_ms = min_delay_ms, max_delay_ms
        self.delays = fdn_delays(
            n_lines, sample_rate=sample_rate, min_ms=min_delay_ms, max_ms=max_delay_ms
        )
        gen = torch.Generator().manual_seed(self.seed)
        self.matrix_weight = torch.nn.Parameter(torch.randn(n_lines, n_lines, generator=gen))
        self.input_gains = torch.nn.Parameter(torch.full((n_lines,), n_lines**-0.5))
        signs = torch.randint(0, 2, (2, n_lines), generator=gen) * 2.0 - 1.0
        self.output_gains = torch.nn.Parameter(signs * n_lines**-0.5)

    def feedback_matrix(self) -> torch.Tensor:
        """The current orthogonal feedback matrix ``(N, N)``."""
        return orthogonal(self.matrix_weight)

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        out = fdn_reverb(
            x,
            sample_rate=self.sample_rate,
            delays=self.delays,
            feedback_matrix=self.feedback_matrix().to(x.dtype),
            rt60_s=_block_value(c["rt60_s"]),
            high_rt60_ratio=_block_value(c["high_rt60_ratio"]),
            input_gains=self.input_gains,
            output_gains=self.output_gains,
            pre_delay_ms=self._pre_delay_ms(c),
            mix=c["mix"],
            state=None if state is None else state["fdn"],
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], {"fdn": out[1]})

    def _pre_delay_ms(self, c: dict[str, Any]) -> float:
        return float(torch.as_tensor(c["pre_delay_ms"]).detach().reshape(-1)[-1])

    def stream_channels(self, channels: int) -> int:
        if channels not in (1, 2):
            raise ValueError(f"expected 1 or 2 channels into FDNReverb, got {channels} channels")
        return 2

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        # the pre-delay's FIFO is as long as the spec allows, so it can be automated
        longest = round(self.spec("pre_delay_ms").maximum * self.sample_rate / 1000.0)
        state = fdn_state(batch, self.delays, longest, dtype=dtype, device=device)
        return {"fdn": state}

    def stream_step(self, x, state, controls, inputs, n):  # type: ignore[override]
        # the FIFO holds the longest pre-delay; the lines read it as far back as they need
        fifo = state["fdn"].pre
        shift = round(self._pre_delay_ms(controls) * self.sample_rate / 1000.0)
        view = state["fdn"]._replace(pre=fifo[..., fifo.shape[-1] - shift :])
        y, new = self._run(x, controls, {"fdn": view})
        kept = torch.cat([fifo, x.mean(-2, keepdim=True).detach()], -1)[..., -fifo.shape[-1] :]
        return y, {"fdn": new["fdn"]._replace(pre=kept if fifo.shape[-1] else fifo)}

    def stream_tail(self) -> int:
        return int(2 * float(self.rt60_s.detach()) * self.sample_rate)

    def options(self) -> dict[str, Any]:
        return {
            "n_lines": self.n_lines,
            "min_delay_ms": self.min_delay_ms,
            "max_delay_ms": self.max_delay_ms,
            "seed": self.seed,
        }


class Freeverb(Processor):
    """Freeverb (see :func:`ddsp.functional.freeverb`): combs and allpasses, stereo out.

    Shape: ``(batch, C, time) -> (batch, 2, time)``, ``C`` in {1, 2}.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("room_size", "", 0.0, 1.0, 0.5, description="comb feedback 0.7 .. 0.98"),
        ParamSpec("damping", "", 0.0, 1.0, 0.5, description="in-loop lowpass"),
        ParamSpec("width", "", 0.0, 1.0, 1.0, description="stereo width of the wet signal"),
        ParamSpec("mix", "", 0.0, 1.0, 0.33, description="dry 0 .. wet 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        out = freeverb(
            x,
            sample_rate=self.sample_rate,
            room_size=_block_value(c["room_size"]),
            damping=_block_value(c["damping"]),
            width=c["width"],
            mix=c["mix"],
            state=None if state is None else state["freeverb"],
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], {"freeverb": out[1]})

    def stream_channels(self, channels: int) -> int:
        if channels not in (1, 2):
            raise ValueError(f"expected 1 or 2 channels into Freeverb, got {channels} channels")
        return 2

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        return {"freeverb": freeverb_state(batch, self.sample_rate, dtype=dtype, device=device)}

    def stream_tail(self) -> int:
        return int(8 * self.sample_rate)  # feedback up to 0.98: tens of passes of 36 ms
