"""Autograd Functions and bridges: the only way from torch to the numba kernels.

One module per kernel family, mirroring :mod:`ddsp.kernels`. Functions here take
flattened, contiguous tensors in the kernels' layouts (rows ``N`` x time ``T``) and
dispatch on the tensor's device to the CPU or CUDA twin; shape checks, broadcasting and
units live one layer up, in :mod:`ddsp.functional`.
"""

from .allpole import IIRFunction, iir_op
from .compressor import DynamicsFunction, dynamics_step
from .delay import DelayFunction
from .envelope import envelope_mask
from .fdn import NetworkFunction
from .harmonic import HarmonicFunction
from .partitioned import spectral_mac
from .sinusoidal import SinusoidalFunction
from .sos import sos_step
from .svf import SVFFunction, svf_op
from .viterbi import viterbi_path

__all__ = [
    "IIRFunction",
    "iir_op",
    "SVFFunction",
    "svf_op",
    "HarmonicFunction",
    "SinusoidalFunction",
    "envelope_mask",
    "DynamicsFunction",
    "DelayFunction",
    "NetworkFunction",
    "viterbi_path",
    "sos_step",
    "dynamics_step",
    "spectral_mac",
]
