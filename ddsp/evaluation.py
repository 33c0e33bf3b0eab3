"""Evaluation of resynthesis and transfer results: distances, errors and pictures.

Shared by ``ddsp resynth``, ``ddsp transfer`` and training's validation: the report of a
rendering against its original (spectral distance, also of a plain sine at the same f0
and loudness as a baseline; f0 and loudness errors) and a spectrogram picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .features import a_weighting_db, f0, loudness
from .functional import harmonic
from .io import atomic_path
from .losses import spectral_distance

__all__ = ["analyze", "amplitude_from_loudness", "sine_baseline", "report", "spectrogram_png"]

FRAME_RATE = 250.0


def analyze(audio: torch.Tensor, sample_rate: float) -> tuple[torch.Tensor, ...]:
    """f0 (Hz), voicing and loudness (dB) of ``(rows, time)`` audio at 250 frames/s."""
    hz, voicing = f0(audio, sample_rate, FRAME_RATE)
    loud = loudness(audio, sample_rate, FRAME_RATE)
    return hz, voicing, loud


def amplitude_from_loudness(loud_db: torch.Tensor, hz: torch.Tensor) -> torch.Tensor:
    """The sine amplitude whose A-weighted loudness is ``loud_db`` at ``hz``."""
    weight = a_weighting_db(hz).to(loud_db.dtype)
    return torch.sqrt(2 * 10 ** ((loud_db - weight) / 10)).clamp(1e-5, 1.5)


def sine_baseline(hz: torch.Tensor, loud: torch.Tensor, n_samples: int, sr: float) -> torch.Tensor:
    """A plain sine at ``hz`` whose A-weighted loudness follows ``loud`` (the baseline)."""
    amp = amplitude_from_loudness(loud, hz)
    return harmonic(hz, amp[..., None], sample_rate=sr, n_samples=n_samples)


def _cents_error(a: torch.Tensor, b: torch.Tensor, voiced: torch.Tensor) -> float:
    if not bool(voiced.any()):
        return float("nan")
    return float((1200 * torch.log2(a[voiced] / b[voiced])).abs().median())


def report(target: torch.Tensor, rendered: torch.Tensor, sample_rate: float) -> dict:
    """Distances and errors of ``rendered`` against the original ``target`` (both mono,
    any leading shape, at ``sample_rate``)."""
    flat_t = target.reshape(1, -1)
    flat_y = rendered.reshape(1, -1)[:, : flat_t.shape[1]]
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
