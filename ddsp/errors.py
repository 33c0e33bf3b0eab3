"""Errors the library raises about a user's input, files and settings (not about bugs).

Each is a :class:`DdspError` and, where the cause is a bad value, also a ``ValueError``,
so library users can catch either. The ``ddsp`` command line prints their message as one
line and exits with status 2 (:mod:`ddsp.cli`); :class:`Interrupted` (Ctrl-C) exits 130.
"""

from __future__ import annotations

__all__ = [
    "DdspError",
    "AudioFileError",
    "OutputError",
    "CheckpointError",
    "ConfigError",
    "ExportError",
    "MissingDependencyError",
    "UsageError",
    "Interrupted",
]


class DdspError(Exception):
    """Base class: a problem with the user's input, files or settings."""


class AudioFileError(DdspError, ValueError):
    """An audio file that cannot be read (missing, empty, corrupt, NaN/Inf) or written."""


class OutputError(DdspError, ValueError):
    """An output location that is refused: it would overwrite an input, or cannot be written."""


class CheckpointError(DdspError, ValueError):
    """A training checkpoint or run folder that cannot be used (missing, corrupt, unsafe)."""


class ConfigError(DdspError, ValueError):
    """A configuration key or value that is unknown, of the wrong type or out of range."""


class ExportError(DdspError, ValueError):
    """A module, knob, format or setting that cannot be exported, or an exported file that
    fails its checks (the message names it)."""


class MissingDependencyError(DdspError, ImportError):
    """An optional package that a feature needs is not installed (the message says how)."""


class UsageError(DdspError, ValueError):
    """Options that contradict each other or do not apply together."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a one-line message saying what was saved and how to continue."""
