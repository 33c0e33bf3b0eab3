"""Processing audio files through an effect chain (``ddsp process``).

Each file is processed at its own sample rate (the chain is built for it) and written
with soundfile at that rate and the input's subtype unless another is asked for,
through a temporary file renamed into place, so no output is ever half-written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import check_audio_output, check_outputs, load_audio, write_audio
from .presets import load_chain

__all__ = ["ProcessResult", "process_file"]


@dataclass
class ProcessResult:
    """What :func:`process_file` did: the output, its rate, subtype and peak (linear)."""

    output: Path
    sample_rate: int
    subtype: str
    peak: float

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
) -> ProcessResult:
    """Run ``chain`` (a preset name or path, or a chain spec) over the file ``src``.

    Raises ``ValueError`` subclasses naming the problem (unreadable input, a channel
    count the chain cannot take, an output that would overwrite the input or whose
    format cannot hold the subtype); nothing is written then.
    """
    src, dst = Path(src), Path(dst)
    check_outputs([dst], inputs=[src])
    loaded = load_audio(src)
    out_subtype = subtype or loaded.subtype
    check_audio_output(dst, out_subtype)
    module = load_chain(chain, float(loaded.sample_rate))
    out = module(loaded.audio, sample_rate=loaded.sample_rate, tail_seconds=tail_seconds)
    peak = float(np.abs(out).max()) if out.size else 0.0
    write_audio(dst, out, loaded.sample_rate, out_subtype)
    return ProcessResult(dst, loaded.sample_rate, out_subtype, peak)
