"""A dry/wet pair from files: checked, brought to one length and aligned.

Rates must agree (resampling one file to match would hide a mistake). A constant offset
between the files (a plugin's latency, a trimmed export) is found from the dry-to-wet
impulse response, as the earliest lag where it reaches half its peak within
``max_offset_ms`` (echoes come after the direct sound, so a delay effect's repeats are not
mistaken for it), and removed. The wet file may be longer (a tail: the dry one is padded
with silence) or somewhat shorter (the dry one is cut); lengths further apart than that are
an error, as is silence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..io import load_audio
from .analysis import estimate_response

__all__ = ["Pair", "load_pair", "align_pair", "find_offset"]

_MIN_LENGTH_RATIO = 0.5  # a wet file shorter than half the dry one is not its processed version
_MAX_EXTRA_S = 30.0  # ... nor one longer by more than this (tails are seconds long)


@dataclass
class Pair:
    """Aligned ``dry (C, T)`` and ``wet (C', T)`` float32 at ``sample_rate``;
    ``offset_samples`` > 0 when the wet file came late by that much (and was moved),
    ``notes`` say what was done."""

    dry: np.ndarray
    wet: np.ndarray
    sample_rate: int
    offset_samples: int = 0
    notes: list[str] = field(default_factory=list)


def find_offset(dry: np.ndarray, wet: np.ndarray, sample_rate: float, max_offset_ms: float) -> int:
    """Samples by which ``wet`` lags ``dry`` (negative: leads), or 0 when none is found
    within ``max_offset_ms``. See the module docstring."""
    if max_offset_ms <= 0:
        return 0
    n_max = int(max_offset_ms * sample_rate / 1000)
    d, w = torch.from_numpy(dry).double(), torch.from_numpy(wet).double()
    r = estimate_response(d, w, sample_rate, max_lag_s=(n_max + 1) / sample_rate,
                          lead_s=(n_max + 1) / sample_rate)  # fmt: skip
    # channel by channel (a mono mix of a stereo pair with an inter-channel delay would
    # show two peaks), then the channels' mean magnitude
    h = r.lagged(-n_max, n_max + 1).abs().mean(0)
    n_s = max(1, int(0.00025 * sample_rate))  # envelope over 0.25 ms
    env = torch.nn.functional.avg_pool1d(h[None, None], 2 * n_s + 1, 1, n_s)[0, 0]
    peak = float(env.max())
    if not peak > 8 * float(env.median()):
        return 0  # nothing stands out: the offset, if any, is beyond the range
    first = int(torch.nonzero(env >= 0.5 * peak)[0])
    # the local maximum that follows the first crossing
    stop = first
    while stop + 1 < env.shape[0] and env[stop + 1] >= env[stop]:
        stop += 1
    lo = max(0, stop - n_s)
    lag = int(h[lo : stop + n_s + 1].argmax()) + lo - n_max
    if abs(lag) < max(3, math.ceil(0.0001 * sample_rate)):
        return 0  # a filter's group delay, not an offset
    return lag


def align_pair(
    dry: np.ndarray,
    wet: np.ndarray,
    sample_rate: int,
    *,
    names: tuple[str, str] = ("dry", "wet"),
    max_offset_ms: float = 20.0,
) -> Pair:
    """Check lengths and levels, remove a constant offset, bring both to one length."""
    nd, nw = names
    for a, name in ((dry, nd), (wet, nw)):
        if not np.abs(a).max() > 0:
            raise ValueError(f"{name} is silent: nothing to match")
    sd, sw = dry.shape[1] / sample_rate, wet.shape[1] / sample_rate
    if wet.shape[1] < _MIN_LENGTH_RATIO * dry.shape[1] or sw > sd + _MAX_EXTRA_S:
        raise ValueError(
            f"lengths differ too much: {nd} is {sd:.2f} s, {nw} is {sw:.2f} s (expected the "
            f"wet file to be the dry one processed, perhaps with a tail)"
        )
    notes = []
    offset = find_offset(dry, wet, sample_rate, max_offset_ms)
    if offset > 0:
        wet = wet[:, offset:]
    elif offset < 0:
        wet = np.pad(wet, ((0, 0), (-offset, 0)))
    if offset:
        notes.append(
            f"{nw} was {abs(offset)} samples ({1000 * abs(offset) / sample_rate:.2f} ms) "
            f"{'late' if offset > 0 else 'early'}: aligned"
        )
    n = wet.shape[1]

    def span(k: int) -> str:
        return f"{k} samples" if k < 0.01 * sample_rate else f"{k / sample_rate:.2f} s"

    if n > dry.shape[1]:
        notes.append(f"{nw} is {span(n - dry.shape[1])} longer: {nd} padded with silence")
        dry = np.pad(dry, ((0, 0), (0, n - dry.shape[1])))
    elif n < dry.shape[1]:
        notes.append(f"{nw} is {span(dry.shape[1] - n)} shorter: {nd} cut to its length")
        dry = dry[:, :n]
    return Pair(
        np.ascontiguousarray(dry, np.float32),
        np.ascontiguousarray(wet, np.float32),
        int(sample_rate),
        offset,
        notes,
    )


def load_pair(dry_path: Path, wet_path: Path, *, max_offset_ms: float = 20.0) -> Pair:
    """Read, check and align a dry/wet pair of files (see :func:`align_pair`).

    Raises ``ValueError`` naming both files when their sample rates differ or their
    lengths cannot be of one recording, and ``ddsp.errors.AudioFileError`` when a file
    cannot be read.
    """
    dry = load_audio(dry_path)
    wet = load_audio(wet_path)
    if dry.sample_rate != wet.sample_rate:
        raise ValueError(
            f"sample rates differ: {dry_path} is {dry.sample_rate} Hz, {wet_path} is "
            f"{wet.sample_rate} Hz (resample one of them first)"
        )
    return align_pair(
        dry.audio,
        wet.audio,
        dry.sample_rate,
        names=(Path(dry_path).name, Path(wet_path).name),
        max_offset_ms=max_offset_ms,
    )
