"""Dry/wet pairs: constant offsets found and removed, lengths reconciled, bad pairs refused."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp.match.pair import align_pair, find_offset

from ._signals import SR, hits


def _pair(offset: int, extra: int = 0):
    dry = hits(1.0, channels=2).numpy().astype(np.float32)
    wet = 0.5 * dry
    wet = np.pad(wet, ((0, 0), (offset, extra))) if offset >= 0 else wet[:, -offset:]
    return dry, wet


@pytest.mark.parametrize("offset", [0, 2, 37, -25, 300])
def test_a_constant_offset_is_found_to_the_sample(offset):
    dry, wet = _pair(offset)
    want = offset if abs(offset) >= 3 else 0  # a few samples are a filter's group delay
    assert find_offset(dry, wet, SR, max_offset_ms=20.0) == want


def test_an_offset_beyond_the_limit_is_left_alone():
    dry, wet = _pair(800)  # 50 ms
    assert find_offset(dry, wet, SR, max_offset_ms=20.0) == 0


def test_an_echo_stronger_than_the_direct_sound_is_not_taken_for_an_offset():
    dry = hits(1.0).numpy()
    lag = int(0.010 * SR)
    wet = 0.6 * dry + np.pad(0.9 * dry, ((0, 0), (lag, 0)))[:, : dry.shape[1]]
    assert find_offset(dry, wet, SR, max_offset_ms=20.0) == 0


def test_alignment_reports_the_offset_and_the_tail():
    dry, wet = _pair(40, extra=SR // 2)
    pair = align_pair(dry, wet, SR)
    assert pair.offset_samples == 40
    assert pair.dry.shape == pair.wet.shape
    assert np.allclose(pair.wet[:, : dry.shape[1]], 0.5 * dry, atol=1e-7)
    assert any("late" in n for n in pair.notes) and any("longer" in n for n in pair.notes)


@pytest.mark.parametrize(
    "wet, message",
    [
        (np.zeros((2, SR), np.float32), "silent"),
        (np.ones((2, SR // 4), np.float32), "lengths differ"),
    ],
)
def test_bad_pairs_are_refused_with_a_reason(wet, message):
    dry = hits(1.0, channels=2).numpy().astype(np.float32)
    with pytest.raises(ValueError, match=message):
        align_pair(dry, wet, SR)
