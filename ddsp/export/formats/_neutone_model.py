"""The Neutone SDK wrapper class (imported only when neutone-sdk is installed)."""

# No `from __future__ import annotations`: TorchScript reads the class annotations as types.
from typing import Dict, List, Union  # noqa: UP035 (TorchScript reads these annotations)

import torch
from neutone_sdk import ContinuousNeutoneParameter, NeutoneParameter, WaveformToWaveformBase
from torch import Tensor

__all__ = ["DdspNeutoneModel"]


class DdspNeutoneModel(WaveformToWaveformBase):
    """An exported model as a Neutone waveform-to-waveform model.

    Neutone's sample queue wrapper (which the SDK puts around this class in the ``.nm``
    file) resamples the DAW's audio to ``native_sample_rate``, cuts it into blocks of the
    model's ``block_size`` and mixes the DAW's channels to the model's, so
    :meth:`do_forward_pass` always sees ``(in_channels, block_size)`` at the model's rate.
    The knobs arrive as one value per block (the mean of the automation over the block).
    """

    # TorchScript reads a class's own annotations only: the SDK's are repeated here.
    neutone_parameters_metadata: Dict[  # noqa: UP006
        str, Dict[str, Union[int, float, str, bool, List[str], List[int]]]  # noqa: UP006, UP007
    ]
    remapped_params: Dict[str, torch.Tensor]  # noqa: UP006
    neutone_parameter_names: List[str]  # noqa: UP006
    nm_name: str
    nm_authors: list[str]
    nm_short_description: str
    nm_long_description: str
    nm_technical_description: str
    nm_citation: str
    nm_tags: list[str]
    nm_version: str
    nm_experimental: bool
    native_sample_rate: int

    def __init__(self, model: torch.nn.Module, card: dict) -> None:
        # Read by NeutoneModel.__init__ (metadata, parameters), so set before it runs.
        self.nm_name = card["name"]
        self.nm_authors = list(card["authors"])
        self.nm_short_description = card["short_description"]
        self.nm_long_description = card["long_description"]
        self.nm_technical_description = card["technical_description"]
        self.nm_citation = card["citation"]
        self.nm_tags = list(card["tags"])
        self.nm_version = card["version"]
        self.nm_experimental = bool(card["experimental"])
        self.native_sample_rate = int(card["sample_rate"])
        self._knob_cards = [
            (str(n), str(d), float(v))
            for n, d, v in zip(model.knob_names, model.knob_descriptions, model.knob_defaults)
        ]
        super().__init__(model, use_debug_mode=True)
        self.register_buffer("knobs", torch.tensor([c[2] for c in self._knob_cards]))

    def get_model_name(self) -> str:
        return self.nm_name

    def get_model_authors(self) -> list[str]:
        return self.nm_authors

    def get_model_short_description(self) -> str:
        return self.nm_short_description

    def get_model_long_description(self) -> str:
        return self.nm_long_description

    def get_technical_description(self) -> str:
        return self.nm_technical_description

    def get_citation(self) -> str:
        return self.nm_citation

    def get_tags(self) -> list[str]:
        return self.nm_tags

    def get_model_version(self) -> str:
        return self.nm_version

    def is_experimental(self) -> bool:
        return self.nm_experimental

    def get_neutone_parameters(self) -> list[NeutoneParameter]:
        return [ContinuousNeutoneParameter(n, d, v) for n, d, v in self._knob_cards]

    @torch.jit.export
    def is_input_mono(self) -> bool:
        return self.model.in_channels == 1

    @torch.jit.export
    def is_output_mono(self) -> bool:
        return self.model.out_channels == 1

    @torch.jit.export
    def get_native_sample_rates(self) -> list[int]:
        return [self.native_sample_rate]

    @torch.jit.export
    def get_native_buffer_sizes(self) -> list[int]:
        return [self.model.block_size]

    @torch.jit.export
    def calc_model_delay_samples(self) -> int:
        return self.model.latency

    def reset_model(self) -> bool:
        self.model.reset()
        return True

    def do_forward_pass(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        # params: knob name -> tensor (1,), this block's value in [0, 1]
        for i, name in enumerate(self.neutone_parameter_names):
            self.knobs[i] = params[name][0]
        return self.model(x.unsqueeze(0), self.knobs).squeeze(0)
