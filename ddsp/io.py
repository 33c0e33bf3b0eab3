"""Audio files for the commands: read with clear errors, write atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["CommandError", "read_audio", "write_audio", "atomic_path"]

FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}


class CommandError(Exception):
    """A user-facing error of a command: printed as ``error: ...``, then exit status 2."""


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int, str]:
    """``(audio (channels, time) float32, sample_rate, subtype)``; CommandError if unreadable,
    empty or not finite."""
    path = Path(path)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    try:
        info = sf.info(str(path))
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for unreadable files
        raise CommandError(f"cannot read {path}: {e}") from None
    if data.shape[0] == 0:
        raise CommandError(f"{path} holds no audio (0 frames)")
    if not np.isfinite(data).all():
        raise CommandError(f"{path} holds NaN or infinite samples")
    return data.T, rate, info.subtype


class atomic_path:
    """``with atomic_path(dst) as tmp:`` write ``tmp``; it replaces ``dst`` only on success."""

    def __init__(self, dst: str | os.PathLike) -> None:
        self.dst = Path(dst)

    def __enter__(self) -> Path:
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.dst.name}.", suffix=".part" + self.dst.suffix, dir=self.dst.parent
        )
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.dst)
        else:
            self.tmp.unlink(missing_ok=True)


def write_audio(path: str | os.PathLike, audio: np.ndarray, rate: int, subtype: str) -> None:
    """Write ``(channels, time)`` audio through a temporary file renamed into place."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            sf.write(
                tmp, audio.T, rate, subtype=subtype, format=FORMATS.get(path.suffix.lower(), "WAV")
            )
    except (RuntimeError, ValueError, TypeError, sf.LibsndfileError) as e:
        raise CommandError(f"cannot write {path}: {e}") from None
