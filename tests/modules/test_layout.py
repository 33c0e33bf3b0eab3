"""Layouts said, not guessed: numpy audio is (channels, time), stereo-only effects say so."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ddsp
from ddsp.presets import load_chain

SR = 16_000
STEREO_ONLY = ["Panner", "StereoWidth", "PingPongDelay", "FDNReverb", "Freeverb"]


@pytest.mark.parametrize("shape", [(4800, 2), (4800, 1), (9, 4800), (3, 2), (16, 100_000)], ids=str)
def test_chain_refuses_numpy_audio_that_looks_like_time_by_channels(shape):
    chain = ddsp.Chain([ddsp.Gain(SR)])
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match=r"\(channels, time\).*x\.T") as e:
        chain(x, sample_rate=SR)
    assert str(shape) in str(e.value)


@pytest.mark.parametrize("shape", [(1, 4800), (2, 4800), (8, 4800), (2, 2), (4800,)], ids=str)
def test_chain_takes_channels_by_time(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = ddsp.Chain([ddsp.Gain(SR, gain_db=-6.0)])(x, sample_rate=SR)
    assert y.shape == x.shape and np.allclose(y, x * 10 ** (-6 / 20), atol=1e-6)


def test_the_transposed_array_is_what_the_message_asks_for():
    frames = np.random.default_rng(1).standard_normal((4800, 2)).astype(np.float32)
    y = ddsp.Chain([ddsp.Gain(SR)])(frames.T, sample_rate=SR)
    assert y.shape == (2, 4800)


@pytest.mark.parametrize("tail", [float("nan"), float("inf"), -1.0, True, "1", 3601.0])
def test_chain_refuses_a_bad_tail(tail):
    with pytest.raises(ValueError, match=r"tail_seconds in \[0, 3600\] s"):
        ddsp.Chain([ddsp.Gain(SR)])(torch.zeros(1, 1, 100), tail_seconds=tail)


@pytest.mark.parametrize("name", ["Oscillator", "FM", "Wavetable", "FilteredNoise", "ADSR", "LFO",
                                  "Harmonic"])  # fmt: skip
def test_a_chain_refuses_sources_with_one_message(name):
    with pytest.raises(ValueError, match=f"{name} is a source"):
        ddsp.Chain([ddsp.PROCESSORS[name](SR)])
    with pytest.raises(ValueError, match=f"{name} is a source"):
        load_chain(name, SR)


@pytest.mark.parametrize("name", STEREO_ONLY)
@pytest.mark.parametrize("channels", [3, 4, 6])
def test_more_than_two_channels_into_a_stereo_effect_is_one_clear_message(name, channels):
    chain = load_chain(f"Gain | {name}", SR)
    x = torch.randn(1, channels, 800)
    with pytest.raises(ValueError) as e:
        chain(x)
    message = str(e.value)
    assert message.startswith(f"{name} (chain step 2): expected ")
    assert "stereo" in message and f"got {channels} channel" in message
    with pytest.raises(ValueError, match=f"got {channels} channel"):
        chain(x[0].numpy(), sample_rate=SR)
