"""Pure differentiable ops in physical units (``sample_rate`` in Hz, cutoffs in Hz, gains in dB)."""

from ._controls import upsample_frames
from .additive import frame_interpolation, harmonic, sinusoidal
from .algorithmic import fdn_delays, fdn_reverb, freeverb, orthogonal
from .delays import DelayState, chorus, delay, delay_state, ping_pong_delay
from .dynamics import (
    DETECTORS,
    KINDS,
    DynamicsState,
    compressor,
    expander,
    gain_curve_db,
    limiter,
    smooth_gain,
)
from .effects import SHAPERS, distortion, pan, parametric_eq, phaser, stereo_width, tremolo
from .envelopes import LFO_SHAPES, adsr, lfo
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
from .noise import filtered_noise, frequency_filter, magnitudes_to_impulse_responses, white_noise
from .oscillators import WAVEFORMS, fm, oscillator, wavetable
from .resample import resample
from .reverb import (
    convolution_reverb,
    fft_convolve,
    load_impulse_response,
    noise_reverb_ir,
    rt60_from_ir,
)

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
    "sinusoidal",
    "frame_interpolation",
    "oscillator",
    "WAVEFORMS",
    "fm",
    "wavetable",
    "white_noise",
    "filtered_noise",
    "frequency_filter",
    "magnitudes_to_impulse_responses",
    "adsr",
    "lfo",
    "LFO_SHAPES",
    "upsample_frames",
    "compressor",
    "limiter",
    "expander",
    "smooth_gain",
    "gain_curve_db",
    "DETECTORS",
    "KINDS",
    "DynamicsState",
    "parametric_eq",
    "distortion",
    "SHAPERS",
    "pan",
    "stereo_width",
    "tremolo",
    "delay",
    "chorus",
    "convolution_reverb",
    "fft_convolve",
    "noise_reverb_ir",
    "rt60_from_ir",
    "load_impulse_response",
    "ping_pong_delay",
    "DelayState",
    "delay_state",
    "phaser",
    "fdn_reverb",
    "fdn_delays",
    "orthogonal",
    "freeverb",
    "resample",
]
