"""Processors: ``nn.Module`` shells over the functional ops, with specs and presets.

File names mirror :mod:`ddsp.functional`: a processor lives beside the op it wraps.
"""

from .additive import Harmonic
from .algorithmic import FDNReverb, Freeverb
from .base import PROCESSORS, Processor
from .chain import Chain
from .delays import Chorus, Delay, Flanger, PingPongDelay
from .dynamics import Compressor, Expander, Limiter
from .effects import Distortion, Panner, ParametricEQ, Phaser, StereoWidth, Tremolo
from .envelopes import ADSR, LFO
from .filters import SVF, Biquad
from .graph import Graph, Modulation, Node
from .mix import Gain
from .noise import FilteredNoise
from .oscillators import FM, Oscillator, Wavetable
from .reverb import ConvolutionReverb, NoiseReverb

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
