"""Processing audio files through an effect chain (``ddsp process``), block by block.

A file is read, processed and written in blocks through a :class:`~ddsp.Stream` of the
chain, so files of any length need memory for a few blocks, not the file. The chain's
latency is compensated (the first ``latency_samples`` of the stream are dropped and the
input is followed by as many samples of silence) and ``tail_seconds`` of silence let
reverbs and delays ring out, so the result equals the chain applied to the whole file at
once. Each file is processed at its own sample rate (the chain is built for it) and
written at that rate and the input's subtype unless another is asked for, through a
temporary file renamed into place: no output is ever half-written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from .errors import AudioFileError, OutputError
from .io import atomic_path, audio_format, check_audio_output, check_outputs
from .presets import load_chain
from .streaming import Stream

__all__ = ["ProcessResult", "process_file", "DEFAULT_BLOCK"]

DEFAULT_BLOCK = 16_384  # samples per block of a file


@dataclass
class ProcessResult:
    """What :func:`process_file` did: the output, its rate, subtype, peak (linear), and
    the chain's latency that was compensated."""

    output: Path
    sample_rate: int
    subtype: str
    peak: float
    latency_samples: int = 0

    @property
    def clips(self) -> bool:
        """True when integer samples will clip (the peak exceeds full scale)."""
        return self.peak > 1.0 and self.subtype.startswith("PCM")


def process_file(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    chain: str | os.PathLike,
    *,
    tail_seconds: float = 0.0,
    subtype: str | None = None,
    block_size: int = DEFAULT_BLOCK,
) -> ProcessResult:
    """Run ``chain`` (a preset name or path, or a chain spec) over the file ``src``.

    Raises ``ValueError`` subclasses naming the problem (unreadable input, a channel
    count the chain cannot take, NaN samples, an output that would overwrite the input
    or whose format cannot hold the subtype); nothing is written then.
    """
    src, dst = Path(src), Path(dst)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"expected block_size as a positive int, got {block_size!r}")
    check_outputs([dst], inputs=[src])
    try:
        info = sf.info(str(src))
    except Exception as e:  # soundfile raises several types for unreadable files
        raise AudioFileError(f"cannot read {src}: {e}") from None
    if info.frames == 0:
        raise AudioFileError(f"{src} holds no audio (0 frames)")
    out_subtype = subtype or info.subtype
    check_audio_output(dst, out_subtype)
    rate = int(info.samplerate)
    module = load_chain(chain, float(rate))
    try:
        stream = Stream(module, channels=info.channels, batch=1)
    except ValueError as e:  # the command names the file
        raise ValueError(str(e)) from None
    latency = stream.latency_samples
    extra = latency + int(round(tail_seconds * rate))
    peak = 0.0
    with atomic_path(dst) as tmp, torch.no_grad():
        try:
            fin = sf.SoundFile(str(src))
        except Exception as e:
            raise AudioFileError(f"cannot read {src}: {e}") from None
        with (
            fin,
            sf.SoundFile(
                tmp, "w", rate, stream.out_channels, out_subtype, format=audio_format(dst)
            ) as fout,
        ):
            skip = latency
            position = 0
            blocks = fin.blocks(blocksize=block_size, dtype="float32", always_2d=True)
            for block in _with_silence(blocks, extra, block_size, info.channels):
                if not np.isfinite(block).all():
                    raise AudioFileError(
                        f"{src} holds NaN or infinite samples (after sample {position})"
                    )
                y = stream.process(np.ascontiguousarray(block.T))
                position += block.shape[0]
                if skip:
                    cut = min(skip, y.shape[-1])
                    y, skip = y[:, cut:], skip - cut
                if y.size:
                    peak = max(peak, float(np.abs(y).max()))
                    try:
                        fout.write(y.T)
                    except (RuntimeError, sf.LibsndfileError) as e:  # e.g. a full disk
                        raise OutputError(f"cannot write {dst}: {e}") from None
    return ProcessResult(dst, rate, out_subtype, peak, latency)


def _with_silence(blocks, extra: int, block_size: int, channels: int):
    """The file's blocks, then ``extra`` samples of silence in blocks."""
    yield from blocks
    while extra > 0:
        n = min(block_size, extra)
        yield np.zeros((n, channels), dtype=np.float32)
        extra -= n
