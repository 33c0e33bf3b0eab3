"""Audio features for DDSP controls: loudness (A-weighted, dB) and f0 (YIN family, offline
and streaming)."""

from .loudness import a_weighting_db, default_n_fft, loudness
from .pitch import f0
from .pitch_stream import GATE, PitchTracker, f0_stream

__all__ = [
    "loudness",
    "f0",
    "f0_stream",
    "PitchTracker",
    "GATE",
    "a_weighting_db",
    "default_n_fft",
]
