"""Processors: ``nn.Module`` shells over the functional ops, with specs and presets."""

from .algorithmic import FDNReverb, Freeverb
from .base import PROCESSORS, Processor
from .chain import Chain
from .dynamics import Compressor, Expander, Limiter
from .effects import (
    Chorus,
    ConvolutionReverb,
    Delay,
    Distortion,
    Flanger,
    NoiseReverb,
    Panner,
    ParametricEQ,
    Phaser,
    PingPongDelay,
    StereoWidth,
    Tremolo,
)
from .filters import SVF, Biquad
from .graph import Graph, Modulation, Node
from .mix import Gain
from .oscillators import Harmonic
from .sources import ADSR, FM, LFO, FilteredNoise, Oscillator, Wavetable

__all__ = [
    "Processor",
    "PROCESSORS",
    "Chain",
    "Biquad",
    "SVF",
    "Harmonic",
    "Oscillator",
    "FM",
    "Wavetable",
    "FilteredNoise",
    "ADSR",
    "LFO",
    "Gain",
    "Graph",
    "Node",
    "Modulation",
    "Compressor",
    "Limiter",
    "Expander",
    "ParametricEQ",
    "Distortion",
    "Panner",
    "StereoWidth",
    "Tremolo",
    "Delay",
    "Chorus",
    "Flanger",
    "NoiseReverb",
    "ConvolutionReverb",
    "PingPongDelay",
    "Phaser",
    "FDNReverb",
    "Freeverb",
]
