"""Training data: ``ddsp prepare`` slices recordings into examples with f0 and loudness.

On disk (``DATA_DIR``)::

    manifest.json        format version, rates, example length, sources, statistics
    shards/<key>.npz     one per source file: audio (N, T) int16, f0_hz, f0_confidence,
                         loudness_db (N, F) -- F = T * frame_rate / sample_rate

A source whose size and modification time are unchanged since the last run is not
analysed again. Unreadable or silent files are reported and skipped, never silently.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import AudioFileError, DdspError
from ..features import f0, loudness
from ..io import AUDIO_SUFFIXES, atomic_path, load_audio
from ..progress import Progress
from ..units import hz_to_midi

__all__ = ["FORMAT_VERSION", "prepare", "Examples", "load_examples", "AUDIO_SUFFIXES"]

FORMAT_VERSION = 1
RATES = (16_000, 22_050, 24_000, 32_000, 44_100, 48_000)  # Hz a data set may have


def _sources(inputs: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                print(f"warning: no audio files in {p}", file=sys.stderr)
            files += found
        elif p.exists():
            files.append(p)
        else:
            print(f"warning: skipped {p}: no such file or folder", file=sys.stderr)
    return files


def _key(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]


def _slice(audio: np.ndarray, n: int, hop: int) -> np.ndarray:
    if audio.shape[0] < n:
        audio = np.pad(audio, (0, n - audio.shape[0]))
    starts = range(0, audio.shape[0] - n + 1, hop)
    return np.stack([audio[s : s + n] for s in starts])


def prepare(
    inputs: list[Path],
    out: Path,
    *,
    sample_rate: int = 16_000,
    frame_rate: float = 250.0,
    example_seconds: float = 4.0,
    hop_seconds: float | None = None,
    progress: bool = True,
) -> dict:
    """Analyse ``inputs`` (files or folders) into ``out``; returns the manifest."""
    if isinstance(sample_rate, bool) or sample_rate not in RATES:
        raise DdspError(f"expected --sample-rate in {RATES} Hz, got {sample_rate!r}")
    for name, value in (("--example-seconds", example_seconds), ("--hop-seconds", hop_seconds)):
        ok = value is None and name == "--hop-seconds"
        ok = ok or (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and 0.05 <= value <= 60  # finite, and at least a few frames long
        )
        if not ok:
            raise DdspError(f"expected {name} in [0.05, 60] s, got {value!r}")
    n = int(round(example_seconds * sample_rate))
    hop = int(round((hop_seconds or example_seconds) * sample_rate))
    if n * frame_rate % sample_rate:
        raise DdspError(
            f"expected --example-seconds to be a whole number of frames at {frame_rate:g} "
            f"frames/s (a multiple of {1 / frame_rate:g} s), got {example_seconds}"
        )
    _check_data_folder(out)
    files = _sources(inputs)
    if not files:
        raise DdspError("no audio files to prepare")
    (out / "shards").mkdir(parents=True, exist_ok=True)
    old = _read_manifest(out)
    settings = {"sample_rate": sample_rate, "frame_rate": frame_rate, "n_samples": n, "hop": hop}
    reuse = old.get("settings") == settings and old.get("format_version") == FORMAT_VERSION
    sources, skipped = {}, []
    bar = Progress(len(files), "prepare", unit="file", enabled=progress)
    for path in files:
        bar.update(file=path.name)
        st = path.stat()
        stamp = {"size": st.st_size, "mtime": st.st_mtime}
        key = _key(path)
        prev = old.get("sources", {}).get(str(path))
        if reuse and prev and prev["stamp"] == stamp and (out / prev["shard"]).exists():
            sources[str(path)] = prev
            continue
        try:
            entry = _analyse(path, out, key, sample_rate, frame_rate, n, hop)
        except (DdspError, ValueError) as e:
            skipped.append({"file": str(path), "reason": str(e)})
            bar.write(f"warning: skipped {path}: {e}")
            continue
        entry["stamp"] = stamp
        sources[str(path)] = entry
    bar.close()
    if not sources:
        raise DdspError("no usable audio: every input was skipped (see the warnings)")
    manifest = {
        "format_version": FORMAT_VERSION,
        "settings": settings,
        "sources": sources,
        "skipped": skipped,
        "statistics": _statistics(out, sources, sample_rate),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with atomic_path(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    return manifest


def _check_data_folder(out: Path) -> None:
    """Refuse an ``out`` that is a file, or a folder holding anything but a data set."""
    if out.exists() and not out.is_dir():
        raise DdspError(f"--out {out} is a file, not a folder")
    entries = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    foreign = [e for e in entries if e not in ("manifest.json", "shards")]
    if foreign or (entries and "format_version" not in _read_manifest(out)):
        raise DdspError(
            f"--out {out} holds files that are not a prepared data set "
            f"({', '.join((foreign or entries)[:5])}): choose an empty or new folder "
            "(ddsp prepare writes manifest.json and shards/ there)"
        )


def _read_manifest(out: Path) -> dict:
    try:
        data = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _analyse(path, out, key, sample_rate, frame_rate, n, hop) -> dict:
    loaded = load_audio(path, sample_rate=sample_rate, mono=True)
    rate = loaded.file_rate
    mono = torch.from_numpy(loaded.audio[0])
    peak = float(mono.abs().max())
    if peak < 1e-4:
        raise AudioFileError("silent (peak below -80 dBFS)")
    examples = torch.from_numpy(_slice(mono.numpy(), n, hop))
    hz, conf = f0(examples, sample_rate, frame_rate)
    loud = loudness(examples, sample_rate, frame_rate)
    if float((conf > 0.5).float().mean()) < 0.01:
        raise DdspError("no voiced frames: nothing pitched to learn from")
    scale = 32767.0 / max(peak, 1.0)
    shard = f"shards/{key}.npz"
    with atomic_path(out / shard) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            audio=np.round(examples.numpy() * scale).astype(np.int16),
            audio_scale=np.float32(1.0 / scale),
            f0_hz=hz.numpy().astype(np.float32),
            f0_confidence=conf.numpy().astype(np.float16),
            loudness_db=loud.numpy().astype(np.float32),
        )
    return {"shard": shard, "examples": int(examples.shape[0]), "source_rate": int(rate)}


def _statistics(out: Path, sources: dict, sample_rate: int) -> dict:
    ex = load_examples(out, sources=sources)
    voiced = ex.f0_confidence > 0.5
    f0v = ex.f0_hz[voiced]
    loud = ex.loudness_db[ex.loudness_db > -80]
    midi = hz_to_midi(torch.from_numpy(f0v)).numpy() if f0v.size else np.zeros(1)
    return {
        "examples": int(ex.audio.shape[0]),
        "minutes": float(ex.audio.shape[0] * ex.audio.shape[1] / sample_rate / 60),
        "voiced_fraction": float(voiced.mean()),
        "f0_hz_min": float(np.percentile(f0v, 1)) if f0v.size else None,
        "f0_hz_max": float(np.percentile(f0v, 99)) if f0v.size else None,
        "f0_midi_mean": float(midi.mean()),
        "loudness_db_mean": float(loud.mean()) if loud.size else None,
        "loudness_db_std": float(loud.std()) if loud.size else None,
    }


@dataclass
class Examples:
    """All examples of a data folder in memory: audio ``(N, T)`` float32, features ``(N, F)``."""

    audio: np.ndarray
    f0_hz: np.ndarray
    f0_confidence: np.ndarray
    loudness_db: np.ndarray
    sample_rate: int
    frame_rate: float
    statistics: dict


def load_examples(data_dir: Path, sources: dict | None = None) -> Examples:
    """Read a prepared folder (see :func:`prepare`); clear errors for missing or stale data."""
    data_dir = Path(data_dir)
    manifest = _read_manifest(data_dir)
    if sources is None:
        if not manifest:
            raise DdspError(f"{data_dir} is not a prepared data folder (no manifest.json)")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise DdspError(
                f"{data_dir} has data format {manifest.get('format_version')}, this version "
                f"reads {FORMAT_VERSION}: run ddsp prepare again"
            )
        sources = manifest.get("sources")
    try:  # a shared data folder is checked like any input: structure, then values
        return _examples(data_dir, manifest, sources)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise DdspError(
            f"{data_dir} holds a damaged data set ({type(e).__name__}: {e}): run ddsp prepare again"
        ) from None


def _examples(data_dir: Path, manifest: dict, sources: dict) -> Examples:
    parts: dict[str, list] = {k: [] for k in ("audio", "f0_hz", "f0_confidence", "loudness_db")}
    for entry in sources.values():
        try:
            with np.load(data_dir / entry["shard"]) as z:
                parts["audio"].append(z["audio"].astype(np.float32) * float(z["audio_scale"]))
                for k in ("f0_hz", "f0_confidence", "loudness_db"):
                    parts[k].append(z[k].astype(np.float32))
        except (OSError, KeyError, ValueError) as e:
            raise DdspError(f"cannot read {entry['shard']} in {data_dir}: {e}") from None
    if not parts["audio"]:
        raise ValueError("no examples")
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    bad = [k for k, v in arrays.items() if not np.isfinite(v).all()]
    if bad:
        raise ValueError(f"NaN or infinite values in {', '.join(bad)}")
    settings = manifest.get("settings", {})
    return Examples(
        **arrays,
        sample_rate=int(settings.get("sample_rate", 16_000)),
        frame_rate=float(settings.get("frame_rate", 250.0)),
        statistics=manifest.get("statistics", {}),
    )
