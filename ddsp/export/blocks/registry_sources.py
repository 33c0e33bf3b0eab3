"""Builders of the source, modulator and time-varying blocks, by processor class name.

A builder is called as ``Builder(proc, channels, block_size, knob_params, *, delay=0,
frame_size=None)`` and returns a :class:`~ddsp.export.blocks.base.Block` (raising
:class:`~ddsp.export.blocks.base.ExportError` for settings that cannot export).

``SOURCE_BUILDERS`` covers the sources and modulators and the LFO-driven effects (Phaser,
Tremolo), which have no other block. ``MODULATED_BUILDERS`` covers SVF and Biquad whose
controls a voice modulates per sample (``(batch, n)`` inputs): their unmodulated,
knob-driven forms stay the closed-form blocks of :mod:`ddsp.export.blocks.linear`.
"""

from typing import Any

from .sources import (
    ADSRBlock,
    FilteredNoiseBlock,
    FMBlock,
    HarmonicBlock,
    LFOBlock,
    OscillatorBlock,
    WavetableBlock,
)
from .varying import PhaserBlock, TremoloBlock, VaryingBiquadBlock, VaryingSVFBlock

__all__ = ["SOURCE_BUILDERS", "MODULATED_BUILDERS"]

SOURCE_BUILDERS: dict[str, Any] = {
    "ADSR": ADSRBlock,
    "Oscillator": OscillatorBlock,
    "Harmonic": HarmonicBlock,
    "FilteredNoise": FilteredNoiseBlock,
    "LFO": LFOBlock,
    "FM": FMBlock,
    "Wavetable": WavetableBlock,
    "Phaser": PhaserBlock,
    "Tremolo": TremoloBlock,
}

MODULATED_BUILDERS: dict[str, Any] = {
    "SVF": VaryingSVFBlock,
    "Biquad": VaryingBiquadBlock,
}
