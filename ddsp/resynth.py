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

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from .features import a_weighting_db, f0, loudness
from .functional import fft_convolve, filtered_noise, harmonic, noise_reverb_ir
from .io import CommandError, atomic_path, read_audio, write_audio
from .losses import MultiResolutionSTFTLoss, spectral_distance
from .params import exp_sigmoid

__all__ = ["Controls", "analyze", "fit", "render", "sine_baseline", "main", "render_main"]

FRAME_RATE = 250.0


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
        try:
            data = np.load(path)
            values = {fl.name: data[fl.name] for fl in fields(cls)}
        except (OSError, ValueError, KeyError) as e:
            raise CommandError(f"cannot read controls {path}: {e}") from None
        for k in ("rt60_s", "high_rt60_ratio", "reverb_mix", "sample_rate", "frame_rate"):
            values[k] = float(values[k])
        for k in ("n_samples", "total_samples"):
            values[k] = int(values[k])
        return cls(**values)


def analyze(audio: torch.Tensor, sample_rate: float) -> tuple[torch.Tensor, ...]:
    """f0 (Hz), voicing and loudness (dB) of ``(rows, time)`` audio at 250 frames/s."""
    hz, voicing = f0(audio, sample_rate, FRAME_RATE)
    loud = loudness(audio, sample_rate, FRAME_RATE)
    return hz, voicing, loud


def _amplitude_from_loudness(loud_db: torch.Tensor, hz: torch.Tensor) -> torch.Tensor:
    """The sine amplitude whose A-weighted loudness is ``loud_db`` at ``hz``."""
    weight = a_weighting_db(hz).to(loud_db.dtype)
    return torch.sqrt(2 * 10 ** ((loud_db - weight) / 10)).clamp(1e-5, 1.5)


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
    """Audio ``(time,)`` from controls, with optional edits (semitones, stretch factor)."""
    if time_stretch <= 0:
        raise CommandError(f"expected --time-stretch > 0, got {time_stretch}")
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
    ir = noise_reverb_ir(rt60, n_ir, sample_rate, high_rt60_ratio=ratio, seed=1)[0]
    return (1 - mix) * y + mix * fft_convolve(y, ir.to(y.dtype))


def sine_baseline(hz: torch.Tensor, loud: torch.Tensor, n_samples: int, sr: float) -> torch.Tensor:
    """A plain sine at ``hz`` whose A-weighted loudness follows ``loud`` (the baseline)."""
    amp = _amplitude_from_loudness(loud, hz)
    return harmonic(hz, amp[..., None], sample_rate=sr, n_samples=n_samples)


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
    seconds: float = 60.0,
    max_steps: int = 2000,
    n_harmonics: int = 64,
    n_bands: int = 65,
    lr: float = 0.05,
    progress: bool = True,
) -> FitResult:
    """Fit controls to ``target (rows, time)`` (rows: chunks of one recording)."""
    n_rows, n_t = target.shape
    hz, voicing, loud = analyze(target, sample_rate)
    frames = hz.shape[1]
    amp0 = _amplitude_from_loudness(loud, hz) * 0.7
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
    shown = start

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

    while step < max_steps and time.perf_counter() - start < seconds:
        opt.zero_grad()
        y, _, _ = synth()
        loss = loss_fn(y, target)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        now = time.perf_counter()
        if progress and (now - shown > 0.5 or step == max_steps):
            shown = now
            _bar(step, max_steps, now - start, seconds, losses[-1])
    if progress:
        print(file=sys.stderr)
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


def _bar(step: int, max_steps: int, elapsed: float, budget: float, loss: float) -> None:
    done = min(1.0, max(step / max_steps, elapsed / budget))
    bar = "#" * int(30 * done)
    print(f"\rfit [{bar:<30}] step {step} loss {loss:.3f} {elapsed:5.1f}/{budget:.0f} s",
          end="", file=sys.stderr, flush=True)  # fmt: skip


def _cents_error(a: torch.Tensor, b: torch.Tensor, voiced: torch.Tensor) -> float:
    if not bool(voiced.any()):
        return float("nan")
    return float((1200 * torch.log2(a[voiced] / b[voiced])).abs().median())


def report(target: torch.Tensor, result: FitResult, sample_rate: float) -> dict:
    """Distances and errors of the resynthesis against the original (at the model rate)."""
    flat_t = target.reshape(1, -1)
    flat_y = result.audio.reshape(1, -1)[:, : flat_t.shape[1]]
    hz_t, v_t, loud_t = analyze(flat_t, sample_rate)
    hz_y, v_y, loud_y = analyze(flat_y, sample_rate)
    sine = sine_baseline(hz_t, loud_t, flat_t.shape[1], sample_rate)
    d_fit = float(spectral_distance(flat_y, flat_t))
    d_sine = float(spectral_distance(sine, flat_t))
    both = (v_t > 0.5) & (v_y > 0.5)
    audible = loud_t > -60
    return {
        "spectral_distance": d_fit,
        "sine_baseline_spectral_distance": d_sine,
        "ratio_to_baseline": d_fit / d_sine if d_sine > 0 else None,
        "f0_median_abs_cents": _cents_error(hz_y[0], hz_t[0], both[0]),
        "voiced_frames_compared": int(both.sum()),
        "loudness_mean_abs_db": float((loud_y - loud_t)[audible].abs().mean())
        if bool(audible.any())
        else None,
        "iterations": result.iterations,
        "fit_seconds": round(result.seconds, 2),
        "final_loss": result.losses[-1] if result.losses else None,
        "model_sample_rate": sample_rate,
    }


def spectrogram_png(path: Path, original: np.ndarray, resynth: np.ndarray, sr: float) -> None:
    """Original and resynthesis log spectrograms, side by side, as a PNG (atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, sig, title in ((axes[0], original, "original"), (axes[1], resynth, "resynthesis")):
        with np.errstate(divide="ignore"):
            ax.specgram(sig + 1e-9, NFFT=1024, Fs=sr, noverlap=768, cmap="magma", vmin=-120)
        ax.set_title(title)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (Hz)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _chunks(audio: torch.Tensor, n: int) -> torch.Tensor:
    pad = (-audio.shape[-1]) % n
    return torch.nn.functional.pad(audio, (0, pad)).reshape(-1, n)


def resynthesize(
    src: Path, out_dir: Path, *, rate: int, seconds: float, chunk_s: float, group: int
) -> dict:
    audio, in_rate, _ = read_audio(src)
    mono = torch.from_numpy(audio.mean(0))
    if audio.shape[0] > 1:
        print(f"note: {src.name} has {audio.shape[0]} channels; fitting their mix", file=sys.stderr)
    rate = min(rate, in_rate)
    if in_rate != rate:
        import torchaudio.functional as taf

        mono = taf.resample(mono, in_rate, rate)
    if mono.shape[-1] < rate * 0.05:
        raise CommandError(f"{src} is too short to resynthesize (under 50 ms)")
    if float(mono.abs().max()) < 1e-6:
        raise CommandError(f"{src} is silent: nothing to resynthesize")
    n_chunk = int(chunk_s * rate)
    rows = _chunks(mono, n_chunk) if mono.shape[-1] > n_chunk else mono[None]
    groups = [rows[i : i + group] for i in range(0, rows.shape[0], group)]
    results = []
    for gi, g in enumerate(groups):
        if len(groups) > 1:
            print(f"chunk group {gi + 1}/{len(groups)}", file=sys.stderr)
        results.append(fit(g, rate, seconds=seconds / len(groups)))
    controls = _merge([r.controls for r in results], mono.shape[-1])
    y = torch.cat([r.audio for r in results]).reshape(-1)[: mono.shape[-1]]
    merged = FitResult(
        controls,
        y[None],
        sum(r.iterations for r in results),
        sum(r.seconds for r in results),
        [v for r in results for v in r.losses],
    )
    rep = report(mono[None], merged, rate)
    stem = src.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    out = y.numpy()
    if in_rate != rate:
        import torchaudio.functional as taf

        out = taf.resample(y, rate, in_rate).numpy()
    peak = float(np.abs(out).max())
    if peak > 0.99:
        out = out * (0.99 / peak)
    write_audio(out_dir / f"{stem}.resynth.wav", out[None], in_rate, "PCM_16")
    controls.save(out_dir / f"{stem}.controls.npz")
    spectrogram_png(out_dir / f"{stem}.spectrograms.png", mono.numpy(), y.numpy(), rate)
    rep.update({"input": str(src), "input_sample_rate": in_rate, "channels": audio.shape[0]})
    with atomic_path(out_dir / f"{stem}.report.json") as tmp:
        tmp.write_text(json.dumps(rep, indent=2))
    return rep


def resynthesize_with_model(run: Path, src: Path, out_dir: Path) -> dict:
    """Resynthesis by a trained autoencoder (no fitting, no adaptation): audio, picture
    and report in ``out_dir``."""
    from .training.transfer import transfer

    start = time.perf_counter()
    y, sr, info = transfer(run, src, octaves=0, loudness_shift=0.0)
    mono = info["input_audio"]  # the input as the model heard it (mono, model rate)
    result = FitResult(None, torch.from_numpy(y)[None], 0, time.perf_counter() - start, [])  # type: ignore[arg-type]
    rep = report(mono, result, sr)
    stem = src.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    write_audio(out_dir / f"{stem}.resynth.wav", y[None], sr, "PCM_16")
    spectrogram_png(out_dir / f"{stem}.spectrograms.png", mono[0].numpy(), y, sr)
    rep.update({"input": str(src), "model": str(run)})
    with atomic_path(out_dir / f"{stem}.report.json") as tmp:
        tmp.write_text(json.dumps(rep, indent=2))
    return rep


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


def main(argv: list[str] | None = None) -> int:
    """``ddsp resynth``."""
    p = argparse.ArgumentParser(prog="ddsp resynth", description=__doc__.splitlines()[0])
    p.add_argument("input", type=Path, help="audio file (mono or stereo)")
    p.add_argument("-o", "--out", type=Path, default=Path("out/resynth"), help="output folder")
    p.add_argument("--seconds", type=float, default=60.0, help="time budget of the fit")
    p.add_argument("--rate", type=int, default=22_050, help="model sample rate (Hz)")
    p.add_argument("--chunk", type=float, default=8.0, help="seconds per chunk (long files)")
    p.add_argument("--group", type=int, default=8, help="chunks fitted at once")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--model", type=Path, help="a run folder of ddsp train: resynthesize with it")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.model is not None:
            rep = resynthesize_with_model(args.model, args.input, args.out)
            print(json.dumps(rep, indent=2))
            return 0
        if args.seconds <= 0 or args.chunk <= 0 or args.group < 1 or args.rate < 8000:
            raise CommandError("expected --seconds > 0, --chunk > 0, --group >= 1, --rate >= 8000")
        rep = resynthesize(args.input, args.out, rate=args.rate, seconds=args.seconds,
                           chunk_s=args.chunk, group=args.group)  # fmt: skip
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(rep, indent=2))
    print(f"wrote {args.out}/{args.input.stem}.resynth.wav, .controls.npz, .spectrograms.png, "
          ".report.json")  # fmt: skip
    return 0


def render_main(argv: list[str] | None = None) -> int:
    """``ddsp render CONTROLS OUT``: re-render fitted controls, with edits."""
    p = argparse.ArgumentParser(prog="ddsp render", description=render_main.__doc__)
    p.add_argument("controls", type=Path, help="a .controls.npz written by ddsp resynth")
    p.add_argument("output", type=Path, help="audio file to write")
    p.add_argument("--pitch-shift", type=float, default=0.0, help="semitones")
    p.add_argument("--time-stretch", type=float, default=1.0, help="duration factor")
    p.add_argument("--harmonic-gain", type=float, default=0.0, help="dB")
    p.add_argument("--noise-gain", type=float, default=0.0, help="dB")
    p.add_argument("--no-reverb", action="store_true")
    args = p.parse_args(argv)
    try:
        c = Controls.load(args.controls)
        y = render(c, pitch_shift=args.pitch_shift, time_stretch=args.time_stretch,
                   harmonic_gain_db=args.harmonic_gain, noise_gain_db=args.noise_gain,
                   reverb=not args.no_reverb)  # fmt: skip
        write_audio(args.output, y[None], int(c.sample_rate), "PCM_16")
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
