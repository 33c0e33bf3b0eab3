"""Numba kernels: one recursion per module, each with three twins of one signature.

``<loop>_reference`` (plain torch, slow, the oracle), ``<loop>_cpu`` (``numba.njit``,
parallel over channels) and ``<loop>_cuda`` (``numba.cuda.jit``). Kernels see arrays and
loops only; autograd and dispatch live in :mod:`ddsp.ops`.

Installed as ``ddsp.kernels`` (``force-include`` in ``pyproject.toml``; editable installs map
the folder live through ``hatch_build.py``).
"""

from ._compat import ensure_numpy_compat

# Must run before numba.cuda compiles its first kernel (see _compat).
ensure_numpy_compat()

from . import (  # noqa: E402
    allpole,
    compressor,
    delay,
    envelope,
    fdn,
    harmonic,
    partitioned,
    sinusoidal,
    sos,
    svf,
    viterbi,
)

__all__ = [
    "allpole",
    "compressor",
    "delay",
    "envelope",
    "harmonic",
    "sinusoidal",
    "svf",
    "sos",
    "fdn",
    "viterbi",
    "partitioned",
    "ensure_numpy_compat",
]
