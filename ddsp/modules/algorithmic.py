"""Algorithmic reverb processors: :class:`FDNReverb` and :class:`Freeverb`."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional.algorithmic import fdn_delays, fdn_reverb, freeverb, orthogonal
from ..params import ParamSpec
from ._options import number_option, seed_option, whole_option
from .base import Processor, check_audio

__all__ = ["FDNReverb", "Freeverb"]


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
        c = self.controls(**controls)
        pre = torch.as_tensor(c["pre_delay_ms"]).detach().reshape(-1)
        x = check_audio(x)
        return fdn_reverb(
            x,
            sample_rate=self.sample_rate,
            delays=self.delays,
            feedback_matrix=self.feedback_matrix().to(x.dtype),
            rt60_s=c["rt60_s"],
            high_rt60_ratio=c["high_rt60_ratio"],
            input_gains=self.input_gains,
            output_gains=self.output_gains,
            pre_delay_ms=float(pre[0]),
            mix=c["mix"],
        )

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
        c = self.controls(**controls)
        return freeverb(
            check_audio(x),
            sample_rate=self.sample_rate,
            room_size=c["room_size"],
            damping=c["damping"],
            width=c["width"],
            mix=c["mix"],
        )
