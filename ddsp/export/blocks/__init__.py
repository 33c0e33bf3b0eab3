"""Scriptable inference paths of the processors (see :mod:`ddsp.export.blocks.base`)."""
