"""Compatibility steps that must run before numba compiles anything.

numba-cuda 0.30.x still calls ``numpy.row_stack``, which numpy 2.5 removed (it was a
deprecated alias of ``numpy.vstack``). Without the alias every CUDA kernel fails at its
first compile with ``module 'numpy' has no attribute 'row_stack'``. We restore the alias
only when it is missing, so newer numba-cuda releases and older numpy are untouched.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ensure_numpy_compat"]


def ensure_numpy_compat() -> bool:
    """Restore ``numpy.row_stack`` as ``numpy.vstack`` where numpy dropped it.

    Returns:
        True when the alias had to be added, False when numpy already had it.
    """
    if hasattr(np, "row_stack"):
        return False
    # setattr by name: the alias is what numba-cuda looks up (and linters would "fix" it).
    setattr(np, "row_stack", np.vstack)  # noqa: B010
    return True
