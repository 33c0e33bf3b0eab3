"""Measurements on a dry/wet pair: echoes, decay, direct response, coherence."""

from __future__ import annotations

import math

import torch

import ddsp
from ddsp.match.analysis import (
    coherence,
    decay_rt60,
    estimate_response,
    find_echoes,
    log_frequencies,
    transfer_db,
)
from ddsp.match.eq import response_db

from ._signals import SR, hits, run

LAG_TOL_MS = 0.05  # sub-sample: a twentieth of a millisecond is under a sample at 16 kHz
DB_TOL = 0.5


def test_echoes_are_found_with_their_lag_and_gain():
    dry = hits(2.0)
    wet = run(ddsp.Chain([ddsp.Delay(SR, delay_ms=40.0, feedback=0.5, mix=0.3)]), dry)
    echoes = find_echoes(estimate_response(dry, wet, SR))
    first, second = sorted(echoes[:2], key=lambda e: e.lag_ms)
    assert abs(first.lag_ms - 40.0) < LAG_TOL_MS and abs(second.lag_ms - 80.0) < LAG_TOL_MS
    assert abs(first.gain - 0.3 / 0.7) < 0.01  # mix / (1 - mix)
    assert abs(second.gain / first.gain - 0.5) < 0.01  # the feedback


def test_decay_rt60_of_an_exponential_noise_tail():
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(SR, dtype=torch.float64) / SR
    tail = torch.randn(SR, generator=gen, dtype=torch.float64) * 10 ** (-3 * t / 0.4)
    rt, energy = decay_rt60(tail, SR)
    assert abs(rt / 0.4 - 1) < 0.05 and energy > 0


def test_transfer_reads_a_shelf_within_half_a_db():
    dry = hits(2.0)
    wet = run(ddsp.Chain([ddsp.Biquad(SR, kind="highshelf", cutoff_hz=2000.0, gain_db=6.0,
                                      q=0.7071)]), dry)  # fmt: skip
    freqs = log_frequencies(SR, 40, low_hz=100.0)
    got, coh, _ = transfer_db(dry, wet, SR, freqs)
    want = response_db("highshelf", 2000.0, 0.7071, 6.0, freqs, SR)
    assert (got - want).abs().max() < DB_TOL
    assert float(coh.min()) > 0.9


def test_coherence_tells_processed_from_unrelated_audio():
    dry = hits(2.0)
    wet = run(ddsp.Chain([ddsp.Compressor(SR, threshold_db=-20.0), ddsp.Delay(SR)]), dry)
    gen = torch.Generator().manual_seed(7)
    other = torch.randn(dry.shape, generator=gen, dtype=torch.float64)  # unrelated noise
    other = other * torch.linspace(0.2, 1.0, dry.shape[-1], dtype=torch.float64)
    assert coherence(dry, wet, SR) > 0.5
    assert coherence(dry, other, SR) < 0.1
    assert not math.isnan(coherence(dry, wet, SR))
