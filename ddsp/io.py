"""Audio files for the library and its commands: one loading path, atomic safe writes.

* :func:`load_audio` reads any file soundfile can read, with clear errors for missing,
  empty, corrupt or non-finite audio, and optionally downmixes and resamples it (one
  resampler for every command: :func:`ddsp.functional.resample`).
* :func:`write_audio` checks the format and subtype first, then writes through a
  temporary file renamed into place (:class:`atomic_path`): a failed write leaves no
  partial file, a new file gets the permissions a plain ``open`` would give (the umask),
  an existing file keeps its mode, and a symbolic link keeps pointing at its target,
  which is what gets replaced.
* :func:`check_outputs` refuses, before any work, outputs that would overwrite an input
  (same path, symbolic or hard link) or that stand where a folder is.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import AudioFileError, OutputError

__all__ = [
    "Audio",
    "load_audio",
    "write_audio",
    "audio_format",
    "check_audio_output",
    "check_outputs",
    "atomic_path",
    "AUDIO_SUFFIXES",
]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif")
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}


@dataclass
class Audio:
    """Audio read from a file: ``audio (channels, time)`` float32 at ``sample_rate``.

    ``channels`` and ``file_rate`` are those of the file, before any downmix or resampling.
    """

    audio: np.ndarray
    sample_rate: int
    subtype: str
    channels: int
    file_rate: int


def load_audio(
    path: str | os.PathLike, *, sample_rate: int | None = None, mono: bool = False
) -> Audio:
    """Read an audio file as ``(channels, time)`` float32, optionally downmixed and resampled.

    Args:
        path: any file soundfile reads (WAV, FLAC, OGG, AIFF, ...).
        sample_rate: resample to this rate in Hz (None: keep the file's).
        mono: average the channels into one.

    Raises:
        AudioFileError: missing, unreadable, empty, or holding NaN/Inf samples.
    """
    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"no such file: {path}")
    if path.is_dir():
        raise AudioFileError(f"{path} is a folder, not an audio file")
    try:
        info = sf.info(str(path))
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for unreadable files
        raise AudioFileError(f"cannot read {path}: {e}") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{path} holds no audio (0 frames)")
    if not np.isfinite(data).all():
        raise AudioFileError(f"{path} holds NaN or infinite samples")
    audio = np.ascontiguousarray(data.T)
    channels = audio.shape[0]
    if mono and channels > 1:
        audio = audio.mean(0, keepdims=True)
    out_rate = int(rate)
    if sample_rate is not None and int(sample_rate) != int(rate):
        import torch

        from .functional.resample import resample

        audio = resample(torch.from_numpy(audio), int(rate), int(sample_rate)).numpy()
        out_rate = int(sample_rate)
    return Audio(audio, out_rate, info.subtype, channels, int(rate))


def audio_format(path: str | os.PathLike) -> str:
    """soundfile's format name for ``path``'s suffix; OutputError for unknown suffixes."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise OutputError(
            f"cannot write {path}: unknown audio suffix {suffix or '(none)'!r}; "
            f"expected one of {', '.join(AUDIO_SUFFIXES)}"
        )
    return _FORMATS[suffix]


def check_audio_output(path: str | os.PathLike, subtype: str) -> None:
    """Raise OutputError unless ``path``'s format can hold samples of ``subtype``."""
    fmt = audio_format(path)
    if not sf.check_format(fmt, subtype):
        choices = ", ".join(sorted(sf.available_subtypes(fmt)))
        raise OutputError(
            f"cannot write {path}: {fmt} files cannot hold {subtype!r} samples; "
            f"choose one with --subtype ({choices})"
        )


def write_audio(path: str | os.PathLike, audio: np.ndarray, rate: int, subtype: str) -> Path:
    """Write ``(channels, time)`` audio through a temporary file renamed into place.

    Returns the path written. Raises OutputError for an unsuitable format or location.
    """
    path = Path(path)
    check_audio_output(path, subtype)
    try:
        with atomic_path(path) as tmp:
            sf.write(tmp, np.asarray(audio).T, rate, subtype=subtype, format=audio_format(path))
    except (RuntimeError, TypeError, sf.LibsndfileError) as e:
        raise OutputError(f"cannot write {path}: {e}") from None
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(
    outputs: Iterable[str | os.PathLike], inputs: Iterable[str | os.PathLike] = ()
) -> None:
    """Refuse outputs that would destroy an input or cannot be files, before any work.

    An output is refused when it resolves to an input (the same path, a symbolic or a
    hard link to it) or when a folder stands where the file would go.

    Raises:
        OutputError: naming the output and the reason.
    """
    inputs = [Path(p) for p in inputs]
    for out in map(Path, outputs):
        for src in inputs:
            if _same_file(out, src):
                raise OutputError(
                    f"refusing to write {out}: it is the input {src} (choose another output)"
                )
        if out.is_dir():
            raise OutputError(f"cannot write {out}: a folder stands there")
        parent = out.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"cannot write {out}: {parent} is a file, not a folder")


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class atomic_path:
    """``with atomic_path(dst) as tmp:`` write ``tmp``; it replaces ``dst`` only on success.

    The temporary file lives beside the destination (same file system) and is removed if
    the block fails. The result has the mode a plain ``open`` would give (umask), or the
    existing file's mode; a symbolic link ``dst`` is followed, so its target is replaced.
    """

    def __init__(self, dst: str | os.PathLike) -> None:
        self.dst = Path(os.path.realpath(dst)) if Path(dst).is_symlink() else Path(dst)

    def __enter__(self) -> Path:
        if self.dst.is_dir():
            raise OutputError(f"cannot write {self.dst}: a folder stands there")
        try:
            self.dst.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{self.dst.name}.", suffix=".part" + self.dst.suffix, dir=self.dst.parent
            )
        except OSError as e:
            raise OutputError(f"cannot write {self.dst}: {e}") from None
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        try:
            mode = stat.S_IMODE(self.dst.stat().st_mode) if self.dst.exists() else _new_file_mode()
            os.chmod(self.tmp, mode)
            os.replace(self.tmp, self.dst)
        except OSError as e:
            self.tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write {self.dst}: {e}") from None
