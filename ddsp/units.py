"""Unit conversions. Converters read ``a_to_b``; all work on floats and tensors."""

from __future__ import annotations

import math

import torch

__all__ = ["db_to_amp", "amp_to_db", "hz_to_midi", "hz_to_midi_tensor", "midi_to_hz", "ms_to_coef"]

Number = float | torch.Tensor


def db_to_amp(db: Number) -> Number:
    """Decibels to linear amplitude, ``10^(db/20)``."""
    return torch.pow(10.0, db / 20.0) if isinstance(db, torch.Tensor) else 10.0 ** (db / 20.0)


def amp_to_db(amp: Number, floor_db: float = -200.0) -> Number:
    """Linear amplitude to decibels, ``20 log10(amp)``, floored at ``floor_db``."""
    floor = 10.0 ** (floor_db / 20.0)
    if isinstance(amp, torch.Tensor):
        return 20.0 * torch.log10(amp.abs().clamp_min(floor))
    return 20.0 * math.log10(max(abs(amp), floor))


def hz_to_midi(hz: Number) -> Number:
    """Frequency in Hz to MIDI note number (A4 = 440 Hz = 69)."""
    if isinstance(hz, torch.Tensor):
        return hz_to_midi_tensor(hz)
    return 69.0 + 12.0 * math.log2(hz / 440.0)


def hz_to_midi_tensor(hz: torch.Tensor) -> torch.Tensor:
    """:func:`hz_to_midi` of a tensor, scriptable (TorchScript cannot take the union)."""
    return 69.0 + 12.0 * torch.log2(hz / 440.0)


def midi_to_hz(midi: Number) -> Number:
    """MIDI note number to frequency in Hz (A4 = 69 = 440 Hz)."""
    if isinstance(midi, torch.Tensor):
        return 440.0 * torch.pow(2.0, (midi - 69.0) / 12.0)
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def ms_to_coef(ms: Number, sample_rate: float) -> Number:
    """One-pole coefficient whose step response rises 10% -> 90% in ``ms`` milliseconds.

    ``c = exp(-ln(9) / (ms * sample_rate / 1000))`` for ``y[t] = c y[t-1] + (1 - c) x[t]``.
    """
    samples = ms * (sample_rate / 1000.0)
    if isinstance(samples, torch.Tensor):
        return torch.exp(-math.log(9.0) / samples)
    return math.exp(-math.log(9.0) / samples)
