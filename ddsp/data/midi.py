"""Melodies with known pitch: a minimal MIDI writer and rendering through FluidSynth.

Sampled-instrument renders give real instrument recordings (a sound font's samples) with
an exact pitch truth (the MIDI notes), for evaluating f0 and building training sets
offline. Rendering needs the ``fluidsynth`` program and a sound font, e.g. Debian's
``fluidsynth`` and ``fluid-soundfont-gm`` (FluidR3_GM, MIT licence, by Frank Wen).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Note", "random_melody", "write_midi", "render_midi", "find_soundfont"]

SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)


@dataclass(frozen=True)
class Note:
    """A note: MIDI ``pitch`` (69 = A4 = 440 Hz), ``start`` and ``end`` in seconds, velocity."""

    pitch: int
    start: float
    end: float
    velocity: int = 90

    @property
    def hz(self) -> float:
        return 440.0 * 2 ** ((self.pitch - 69) / 12)


def random_melody(
    seed: int,
    seconds: float,
    low: int,
    high: int,
    *,
    min_note: float = 0.25,
    max_note: float = 1.0,
    rest_probability: float = 0.15,
) -> list[Note]:
    """A random walk over a major scale within MIDI pitches ``[low, high]``, with rests."""
    rng = np.random.default_rng(seed)
    scale = [p for p in range(low, high + 1) if (p - 60) % 12 in (0, 2, 4, 5, 7, 9, 11)]
    i = int(rng.integers(len(scale)))
    t, notes = 0.1, []
    while t < seconds - min_note:
        dur = float(rng.uniform(min_note, max_note))
        if rng.uniform() < rest_probability:
            t += dur / 2
            continue
        i = int(np.clip(i + rng.choice([-3, -2, -1, -1, 1, 1, 2, 3, 4, -4]), 0, len(scale) - 1))
        end = min(t + dur, seconds)
        notes.append(Note(scale[i], round(t, 4), round(end - 0.02, 4), int(rng.integers(70, 110))))
        t = end
    return notes


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_midi(notes: list[Note], path: str | os.PathLike, program: int = 0) -> None:
    """Write a one-track MIDI file (tempo 120 bpm, 480 ticks per beat: 960 ticks/s)."""
    tps = 960
    events: list[tuple[int, bytes]] = [(0, bytes([0xC0, program & 0x7F]))]
    for n in notes:
        events.append((round(n.start * tps), bytes([0x90, n.pitch, n.velocity])))
        events.append((round(n.end * tps), bytes([0x80, n.pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))  # note-offs first at equal times
    track, now = b"", 0
    for tick, data in events:
        track += _varlen(tick - now) + data
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
    Path(path).write_bytes(header + b"MTrk" + struct.pack(">I", len(track)) + track)


def find_soundfont(path: str | None = None) -> str:
    """The given sound font, or the first of :data:`SOUNDFONT_PATHS` that exists."""
    for p in ([path] if path else []) + list(SOUNDFONT_PATHS):
        if p and os.path.exists(p):
            return p
    raise FileNotFoundError(
        "no sound font found: install Debian's fluid-soundfont-gm "
        f"(looked in {', '.join(SOUNDFONT_PATHS)}) or pass a .sf2 path"
    )


def render_midi(
    notes: list[Note], program: int, sample_rate: int, soundfont: str | None = None
) -> np.ndarray:
    """Render notes with FluidSynth (reverb and chorus off): mono float32 ``(time,)``."""
    import soundfile as sf

    exe = shutil.which("fluidsynth")
    if exe is None:
        raise FileNotFoundError("the fluidsynth program is needed (Debian package fluidsynth)")
    sf2 = find_soundfont(soundfont)
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = os.path.join(tmp, "m.mid"), os.path.join(tmp, "m.wav")
        write_midi(notes, mid, program)
        cmd = [exe, "-ni", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(sample_rate)]
        cmd += ["-F", wav, sf2, mid]
        subprocess.run(cmd, check=True, capture_output=True)
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz, asked for {sample_rate} Hz")
    return audio.mean(1)
