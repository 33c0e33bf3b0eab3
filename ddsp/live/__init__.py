"""Live timbre transfer: a trained instrument played block by block from audio input.

:func:`load_instrument` reads a training run or a shipped instrument (:data:`INSTRUMENTS`);
its :meth:`~Instrument.pipeline` is the live path (pitch tracking, loudness, the decoder
with its GRU state, harmonic-plus-noise synthesis, reverb), which
:meth:`~Instrument.export_model` exports and :meth:`~Instrument.render` runs over files.
"""

from .instrument import INSTRUMENTS, Instrument, load_instrument, save_instrument
from .pipeline import KNOBS, LivePipeline

__all__ = [
    "INSTRUMENTS",
    "Instrument",
    "KNOBS",
    "LivePipeline",
    "load_instrument",
    "save_instrument",
]
