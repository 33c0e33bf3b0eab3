"""Resynthesis: fit a harmonic-plus-noise-plus-reverb model to a recording.

``ddsp resynth INPUT [-o OUT_DIR]`` analyses f0 and loudness, then fits per-frame
controls (harmonic amplitude and distribution, filtered-noise magnitudes) and a
parametric reverb (decay time, high-band ratio, mix) to the recording by gradient
descent on DDSP's multi-resolution spectral loss, within a time budget. It writes

* ``<name>.resynth.wav``: the resynthesis, at the input's sample rate;
* ``<name>.controls.npz``: the fitted controls, which ``ddsp render`` turns back into
  audio with edits (pitch shift, time stretch, harmonic/noise balance, no reverb);
* ``<name>.spectrograms.png``: original and resynthesis side by side;
* ``<name>.report.json``: spectral distances (also of a plain sine at the estimated f0
  with the original's loudness, the baseline), f0 and loudness errors, iterations, time.

Stereo input is downmixed (the model is monophonic); files longer than ``--chunk``
seconds are fitted in chunks, a group at a time, so memory stays bounded.
"""

from __future__ import annotations

import json
import math
import numbers
import sys
import time
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from .evaluation import FRAME_RATE, amplitude_from_loudness, analyze, report, spectrogram_png
from .functional import fft_convolve, filtered_noise, harmonic, noise_reverb_ir, resample
from .io import atomic_path, load_audio, write_audio
from .losses import MultiResolutionSTFTLoss
from .params import exp_sigmoid
from .progress import Progress

__all__ = ["Controls", "FitResult", "fit", "render", "resynthesize", "check_edits"]


@dataclass
class Controls:
    """Fitted synthesis controls (numpy arrays, one row per chunk)."""

    f0_hz: np.ndarray  # (chunks, frames)
    amplitude: np.ndarray  # (chunks, frames) overall harmonic amplitude
    distribution: np.ndarray  # (chunks, frames, harmonics), sums to 1 per frame
    noise: np.ndarray  # (chunks, frames, bands) linear magnitudes, 0 Hz .. Nyquist
    rt60_s: float
    high_rt60_ratio: float
    reverb_mix: float
    sample_rate: float
    frame_rate: float
    n_samples: int  # samples per chunk
    total_samples: int  # of the whole recording

    def save(self, path: str | Path) -> None:
        """Write as ``.npz``, atomically."""
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **{fl.name: np.asarray(getattr(self, fl.name)) for fl in fields(self)})

    @classmethod
    def load(cls, path: str | Path) -> Controls:
        """Read controls written by :meth:`save`; ValueError for anything else."""
        try:
            with np.load(path, allow_pickle=False) as data:
                values = {fl.name: data[fl.name] for fl in fields(cls)}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"cannot read controls {path}: {e}") from None
        try:
            for k in ("rt60_s", "high_rt60_ratio", "reverb_mix", "sample_rate", "frame_rate"):
                values[k] = float(values[k])
            for k in ("n_samples", "total_samples"):
                if values[k].dtype.kind not in "iu":
                    raise ValueError(f"{k} is not a whole number")
                values[k] = int(values[k])
        except (TypeError, ValueError) as e:  # arrays where numbers belong, or the reverse
            raise ValueError(f"cannot read controls {path}: {e}") from None
        c = cls(**values)
        c.check(str(path))
        return c

    def check(self, where: str = "controls") -> None:
        """Raise ValueError unless shapes agree and every value is finite and in range."""
        frames = np.shape(self.f0_hz)
        ok = len(frames) == 2 and np.shape(self.amplitude) == frames
        ok = ok and np.ndim(self.distribution) == 3 and np.shape(self.distribution)[:2] == frames
        ok = ok and np.ndim(self.noise) == 3 and np.shape(self.noise)[:2] == frames
        if not ok or frames[1] < 2 or np.shape(self.noise)[2] < 2:
            raise ValueError(
                f"{where}: expected f0_hz and amplitude (chunks, frames >= 2), distribution "
                "and noise (chunks, frames, n); got shapes "
                f"{[np.shape(a) for a in (self.f0_hz, self.amplitude, self.distribution)]} "
                f"and {np.shape(self.noise)}"
            )
        for name in ("f0_hz", "amplitude", "distribution", "noise"):
            a = np.asarray(getattr(self, name))
            if not (np.issubdtype(a.dtype, np.floating) and np.isfinite(a).all()):
                raise ValueError(f"{where}: expected finite numbers in {name}")
            if (a < 0).any():
                raise ValueError(f"{where}: expected {name} >= 0, got {float(a.min()):g}")
        ranges = {"rt60_s": (0.01, 60.0), "high_rt60_ratio": (0.01, 10.0),
                  "reverb_mix": (0.0, 1.0), "sample_rate": (1000.0, 768_000.0),
                  "frame_rate": (1.0, 10_000.0)}  # fmt: skip
        for name, (low, high) in ranges.items():
            v = getattr(self, name)
            if not (math.isfinite(v) and low <= v <= high):
                raise ValueError(f"{where}: expected {name} in [{low:g}, {high:g}], got {v!r}")
        if float(np.max(self.f0_hz)) >= self.sample_rate / 2:
            raise ValueError(f"{where}: expected f0_hz below Nyquist ({self.sample_rate / 2:g} Hz)")
        longest = 2 * frames[1] * self.sample_rate / self.frame_rate + self.sample_rate
        if not (
            1 <= self.n_samples <= longest and 1 <= self.total_samples <= frames[0] * self.n_samples
        ):
            raise ValueError(
                f"{where}: expected 1 <= total_samples <= chunks * n_samples, got "
                f"n_samples {self.n_samples}, total_samples {self.total_samples}"
            )


# name: (low, high, unit) of the edits of :func:`render`
EDIT_RANGES = {
    "pitch_shift": (-48.0, 48.0, "semitones"),
    "time_stretch": (0.05, 20.0, "x"),
    "harmonic_gain_db": (-120.0, 24.0, "dB"),
    "noise_gain_db": (-120.0, 24.0, "dB"),
}


def check_edits(**edits: float) -> None:
    """Raise ``ValueError`` unless every edit is a finite number in its :data:`EDIT_RANGES`."""
    for name, value in edits.items():
        low, high, unit = EDIT_RANGES[name]
        if isinstance(value, bool) or not (
            isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high
        ):
            raise ValueError(f"expected {name} in [{low:g}, {high:g}] {unit}, got {value!r}")


def render(
    c: Controls,
    *,
    pitch_shift: float = 0.0,
    time_stretch: float = 1.0,
    harmonic_gain_db: float = 0.0,
    noise_gain_db: float = 0.0,
    reverb: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Audio ``(time,)`` from controls, with optional edits (semitones, stretch factor).

    Raises ``ValueError`` for edits outside :data:`EDIT_RANGES`.
    """
    check_edits(
        pitch_shift=pitch_shift,
        time_stretch=time_stretch,
        harmonic_gain_db=harmonic_gain_db,
        noise_gain_db=noise_gain_db,
    )
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float()  # noqa: E731
    hz = t(c.f0_hz) * 2 ** (pitch_shift / 12)
    amp = t(c.amplitude)[..., None] * t(c.distribution) * 10 ** (harmonic_gain_db / 20)
    noise = t(c.noise) * 10 ** (noise_gain_db / 20)
    n = max(1, int(round(c.n_samples * time_stretch)))
    with torch.no_grad():
        y = _synth(hz, amp, noise, n, c.sample_rate, seed)
        if reverb and c.reverb_mix > 0:
            y = _reverb(y, torch.tensor(c.rt60_s), torch.tensor(c.high_rt60_ratio),
                        torch.tensor(c.reverb_mix), c.sample_rate)  # fmt: skip
    total = int(round(c.total_samples * time_stretch))
    return y.reshape(-1)[:total].numpy()


def _synth(hz, amp, noise, n_samples, sample_rate, seed):
    harm = harmonic(hz, amp, sample_rate=sample_rate, n_samples=n_samples,
                    amplitude_interpolation="window")  # fmt: skip
    return harm + filtered_noise(noise, n_samples, seed=seed)


def _reverb(y, rt60, ratio, mix, sample_rate):
    n_ir = int(min(2.0, 1.2 * float(rt60.detach())) * sample_rate) + 1
    ir = noise_reverb_ir(rt60, n_ir, sample_rate=sample_rate, high_rt60_ratio=ratio, seed=1)[0]
    return (1 - mix) * y + mix * fft_convolve(y, ir.to(y.dtype))


# setting: (low, high, whole number?) of the fit's settings
_SETTINGS = {
    "rate": (8000, 192_000, True),
    "seconds": (0.0, math.inf, False),
    "steps": (1, math.inf, True),
    "max_steps": (1, math.inf, True),
    "chunk_s": (0.25, 3600.0, False),
    "group": (1, 1024, True),
    "lr": (0.0, 10.0, False),
    "n_harmonics": (1, 1024, True),
    "n_bands": (2, 1025, True),
}


def _check_settings(**settings: object) -> None:
    """ValueError naming the setting unless each is finite, in range (seconds and lr: > 0)
    and whole where a count is meant; ``seconds=None`` means no time limit."""
    for name, value in settings.items():
        if name == "seconds" and value is None:
            continue
        low, high, whole = _SETTINGS[name]
        kind = numbers.Integral if whole else numbers.Real
        ok = isinstance(value, kind) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and low <= value <= high
        ok = ok and not (name in ("seconds", "lr") and value <= 0)
        if not ok:
            what = "a whole number" if whole else "a finite number"
            hi = "inf" if math.isinf(high) else f"{high:g}"
            lo = f"({low:g}" if name in ("seconds", "lr") else f"[{low:g}"
            raise ValueError(f"expected {name} as {what} in {lo}, {hi}], got {value!r}")


@dataclass
class FitResult:
    controls: Controls
    audio: torch.Tensor  # (rows, time), the resynthesis at the model rate
    iterations: int
    seconds: float
    losses: list[float]


def fit(
    target: torch.Tensor,
    sample_rate: float,
    *,
    seconds: float | None = 60.0,
    max_steps: int = 2000,
    n_harmonics: int = 64,
    n_bands: int = 65,
    lr: float = 0.05,
    progress: bool = True,
) -> FitResult:
    """Fit controls to ``target (rows, time)`` (rows: chunks of one recording).

    Runs ``max_steps`` Adam steps, or fewer if the time budget ``seconds`` runs out first
    (None: no time limit, so the result depends on the step count alone).
    """
    _check_settings(seconds=seconds, max_steps=max_steps, lr=lr, n_harmonics=n_harmonics,
                    n_bands=n_bands)  # fmt: skip
    n_rows, n_t = target.shape
    hz, voicing, loud = analyze(target, sample_rate)
    frames = hz.shape[1]
    amp0 = amplitude_from_loudness(loud, hz) * 0.7
    # raw parameters: exp_sigmoid(raw) is the amplitude (DDSP's map), softmax the shape
    u = (amp0 / 2).clamp(1e-6, 1 - 1e-6) ** (1 / math.log(10.0))
    amp_raw = torch.logit(u).requires_grad_()
    k = torch.arange(1, n_harmonics + 1, dtype=torch.float32)
    dist_raw = (-1.5 * torch.log(k)).expand(n_rows, frames, n_harmonics).clone().requires_grad_()
    noise_raw = torch.full((n_rows, frames, n_bands), -6.0, requires_grad=True)
    rev_raw = torch.tensor([math.log(0.5), 0.0, -2.0], requires_grad=True)  # rt60, ratio, mix
    opt = torch.optim.Adam([amp_raw, dist_raw, noise_raw, rev_raw], lr=lr)
    loss_fn = MultiResolutionSTFTLoss()
    start, losses, step = time.perf_counter(), [], 0
    budget = math.inf if seconds is None else seconds

    def build(raw_rev):
        rt60 = torch.exp(raw_rev[0]).clamp(0.05, 4.0)
        ratio = torch.sigmoid(raw_rev[1]) * 0.9 + 0.1
        mix = torch.sigmoid(raw_rev[2]) * 0.8
        return rt60, ratio, mix

    def synth():
        amp = exp_sigmoid(amp_raw)[..., None] * torch.softmax(dist_raw, -1)
        noise = exp_sigmoid(noise_raw) * 0.05
        y = _synth(hz, amp, noise, n_t, sample_rate, seed=0)
        return _reverb(y, *build(rev_raw), sample_rate), amp, noise

    with Progress(max_steps, "fit", enabled=progress) as bar:
        while step < max_steps and time.perf_counter() - start < budget:
            opt.zero_grad()
            y, _, _ = synth()
            loss = loss_fn(y, target)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(loss=losses[-1])
    with torch.no_grad():
        y, amp, noise = synth()
        rt60, ratio, mix = build(rev_raw)
    controls = Controls(
        f0_hz=hz.numpy(),
        amplitude=exp_sigmoid(amp_raw).detach().numpy(),
        distribution=torch.softmax(dist_raw, -1).detach().numpy(),
        noise=noise.numpy(),
        rt60_s=float(rt60),
        high_rt60_ratio=float(ratio),
        reverb_mix=float(mix),
        sample_rate=float(sample_rate),
        frame_rate=FRAME_RATE,
        n_samples=n_t,
        total_samples=n_rows * n_t,
    )
    return FitResult(controls, y.detach(), step, time.perf_counter() - start, losses)


def _chunks(audio: torch.Tensor, n: int) -> torch.Tensor:
    pad = (-audio.shape[-1]) % n
    return torch.nn.functional.pad(audio, (0, pad)).reshape(-1, n)


def output_paths(src: Path, out_dir: Path) -> dict[str, Path]:
    """The files :func:`resynthesize` writes for ``src`` into ``out_dir``."""
    stem = Path(src).stem
    return {
        "audio": out_dir / f"{stem}.resynth.wav",
        "controls": out_dir / f"{stem}.controls.npz",
        "picture": out_dir / f"{stem}.spectrograms.png",
        "report": out_dir / f"{stem}.report.json",
    }


def resynthesize(
    src: Path,
    out_dir: Path,
    *,
    rate: int = 22_050,
    seconds: float | None = 60.0,
    steps: int = 2000,
    chunk_s: float = 8.0,
    group: int = 8,
    progress: bool = True,
) -> tuple[dict, list[Path]]:
    """Fit, render and report ``src``; write :func:`output_paths` into ``out_dir``.

    The recording is downmixed and resampled to ``min(rate, its rate)``; files longer than
    ``chunk_s`` seconds are fitted in chunks, ``group`` chunks at a time, sharing the step
    count and the time budget. Returns the report and the paths written.
    """
    _check_settings(rate=rate, seconds=seconds, steps=steps, chunk_s=chunk_s, group=group)
    loaded = load_audio(src, mono=True)
    in_rate = loaded.sample_rate
    mono = torch.from_numpy(loaded.audio[0])
    if loaded.channels > 1 and progress:
        print(
            f"note: {src.name} has {loaded.channels} channels; fitting their mix", file=sys.stderr
        )
    rate = min(rate, in_rate)
    if in_rate != rate:
        mono = resample(mono, in_rate, rate)
    if mono.shape[-1] < rate * 0.05:
        raise ValueError(f"{src} is too short to resynthesize (under 50 ms)")
    if float(mono.abs().max()) < 1e-6:
        raise ValueError(f"{src} is silent: nothing to resynthesize")
    n_chunk = max(1, int(chunk_s * rate))
    rows = _chunks(mono, n_chunk) if mono.shape[-1] > n_chunk else mono[None]
    groups = [rows[i : i + group] for i in range(0, rows.shape[0], group)]
    results = []
    for gi, g in enumerate(groups):
        if len(groups) > 1 and progress:
            print(f"chunk group {gi + 1}/{len(groups)}", file=sys.stderr)
        budget = None if seconds is None else seconds / len(groups)
        n_steps = max(1, steps // len(groups))
        results.append(fit(g, rate, seconds=budget, max_steps=n_steps, progress=progress))
    controls = _merge([r.controls for r in results], mono.shape[-1])
    y = torch.cat([r.audio for r in results]).reshape(-1)[: mono.shape[-1]]
    rep = report(mono[None], y[None], rate)
    rep.update(
        {
            "iterations": sum(r.iterations for r in results),
            "fit_seconds": round(sum(r.seconds for r in results), 2),
            "final_loss": results[-1].losses[-1] if results[-1].losses else None,
        }
    )
    paths = output_paths(src, out_dir)
    out = y if in_rate == rate else resample(y, rate, in_rate)
    out = out.numpy()
    peak = float(np.abs(out).max())
    if peak > 0.99:
        out = out * (0.99 / peak)
    write_audio(paths["audio"], out[None], in_rate, "PCM_16")
    controls.save(paths["controls"])
    spectrogram_png(paths["picture"], mono.numpy(), y.numpy(), rate)
    rep.update({"input": str(src), "input_sample_rate": in_rate, "channels": loaded.channels})
    with atomic_path(paths["report"]) as tmp:
        tmp.write_text(json.dumps(rep, indent=2))
    return rep, list(paths.values())


def _merge(parts: list[Controls], total: int) -> Controls:
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    first = parts[0]
    return Controls(
        f0_hz=cat("f0_hz"),
        amplitude=cat("amplitude"),
        distribution=cat("distribution"),
        noise=cat("noise"),
        rt60_s=float(np.mean([p.rt60_s for p in parts])),
        high_rt60_ratio=float(np.mean([p.high_rt60_ratio for p in parts])),
        reverb_mix=float(np.mean([p.reverb_mix for p in parts])),
        sample_rate=first.sample_rate,
        frame_rate=first.frame_rate,
        n_samples=first.n_samples,
        total_samples=total,
    )
