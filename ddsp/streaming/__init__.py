"""Real-time streaming: every processor, chain and voice block by block, exactly as offline.

See :class:`Stream`.
"""

from .stream import Stream

__all__ = ["Stream"]
