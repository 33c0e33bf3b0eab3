"""Pure differentiable ops in physical units (``sample_rate`` in Hz, cutoffs in Hz, gains in dB)."""

from .filters import (
    BIQUAD_KINDS,
    SVF_MODES,
    LFilterState,
    allpole,
    biquad,
    biquad_coefficients,
    check_stable,
    lfilter,
    svf,
)
from .oscillators import frame_interpolation, harmonic

__all__ = [
    "allpole",
    "lfilter",
    "LFilterState",
    "biquad",
    "biquad_coefficients",
    "BIQUAD_KINDS",
    "svf",
    "SVF_MODES",
    "check_stable",
    "harmonic",
    "frame_interpolation",
]
