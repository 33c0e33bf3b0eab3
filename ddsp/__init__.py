"""ddsp: differentiable digital signal processing for PyTorch.

Layers, bottom to top: ``ddsp.kernels`` (numba CPU/CUDA loops) -> ``ddsp.ops`` (autograd)
-> ``ddsp.functional`` (units, shapes, checks). Audio is ``(..., time)``; see each op.
"""

from . import functional, units
from ._checks import set_value_checks, value_checks

__version__ = "0.1.0"

__all__ = ["functional", "units", "set_value_checks", "value_checks", "__version__"]
