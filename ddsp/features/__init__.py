"""Audio features for DDSP controls: loudness (A-weighted, dB) and f0 (pYIN-style)."""

from .loudness import a_weighting_db, default_n_fft, loudness
from .pitch import f0

__all__ = ["loudness", "f0", "a_weighting_db", "default_n_fft"]
