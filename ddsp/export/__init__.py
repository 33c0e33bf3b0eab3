"""Export to plugin hosts: processors, chains and voices as scriptable block modules.

:func:`export_model` turns a processor, chain or voice into an :class:`ExportedModel`
(pure torch, TorchScript-scriptable and ``torch.export``-traceable, state in buffers);
the formats in :mod:`ddsp.export.formats` wrap it for Neutone, nn~ and torch.export.
"""

from .blocks.base import ExportError
from .build import MAX_KNOBS, export_model, exportable
from .model import ExportedModel

__all__ = ["ExportError", "ExportedModel", "MAX_KNOBS", "export_model", "exportable"]
