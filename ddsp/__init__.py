"""ddsp: differentiable digital signal processing for PyTorch.

Layers, bottom to top: ``ddsp.kernels`` (numba CPU/CUDA loops) -> ``ddsp.ops`` (autograd)
-> ``ddsp.functional`` (units, shapes, checks) -> ``ddsp.modules`` (processors with
parameter specs) -> presets. Functional ops take ``(..., time)`` audio, modules
``(batch, channels, time)``.
"""

from . import export, functional, params, units
from ._checks import set_value_checks, value_checks
from .modules import (
    ADSR,
    FM,
    LFO,
    PROCESSORS,
    SVF,
    Biquad,
    Chain,
    Chorus,
    Compressor,
    ConvolutionReverb,
    Delay,
    Distortion,
    Expander,
    FDNReverb,
    FilteredNoise,
    Flanger,
    Freeverb,
    Gain,
    Graph,
    Harmonic,
    Limiter,
    Modulation,
    Node,
    NoiseReverb,
    Oscillator,
    Panner,
    ParametricEQ,
    Phaser,
    PingPongDelay,
    Processor,
    StereoWidth,
    Tremolo,
    Wavetable,
)
from .params import ParamSpec, exp_sigmoid
from .presets import list_presets, load_preset, save_preset
from .streaming import Stream

__version__ = "0.1.0"

__all__ = [
    "export",
    "functional",
    "params",
    "units",
    "set_value_checks",
    "value_checks",
    "__version__",
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
    "ParamSpec",
    "exp_sigmoid",
    "load_preset",
    "save_preset",
    "list_presets",
    "Stream",
]
