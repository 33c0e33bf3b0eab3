"""The whole match: analysis, search, gradient phase and report on short pairs."""

from __future__ import annotations

import math

import pytest
import torch

import ddsp
from ddsp.functional import gain_curve_db
from ddsp.match import match_chain

from ._signals import SR, hits, run


def test_analysis_alone_recovers_a_chain_of_the_library():
    dry = hits(2.0, channels=2)
    target = ddsp.Chain(
        [
            ddsp.ParametricEQ(SR, peak2_hz=1200.0, peak2_db=-6.0, peak2_q=2.0),
            ddsp.Delay(SR, delay_ms=75.0, feedback=0.3, mix=0.25),
            ddsp.Gain(SR, gain_db=-5.0),
        ]
    )
    wet = run(target, dry)
    chain = ddsp.presets.load_chain("ParametricEQ | Delay | Gain", SR)
    res = match_chain(chain, dry, wet, steps=0, eval_crops=2, progress=False)
    assert res.distance_analysis < 0.2 * res.distance_before
    assert res.verdict == "good"
    v = [p.parameter_values() for p in chain]
    assert abs(v[1]["delay_ms"] - 75.0) < 0.05
    assert abs(v[2]["gain_db"] + 5.0) < 1.0
    peak = min((1, 2, 3), key=lambda i: abs(math.log(v[0][f"peak{i}_hz"] / 1200.0)))
    assert abs(v[0][f"peak{peak}_db"] + 6.0) < 1.0
    assert res.determination[1]["delay_ms"].status == "determined"


def test_an_unrelated_wet_file_gets_a_poor_verdict_not_confident_numbers():
    dry = hits(2.0)
    gen = torch.Generator().manual_seed(3)
    other = torch.randn(dry.shape, generator=gen, dtype=torch.float64) * 0.1
    chain = ddsp.presets.load_chain("Compressor | Delay | Gain", SR)
    res = match_chain(chain, dry, other, steps=5, eval_crops=2, progress=False)
    assert res.verdict == "poor"
    assert "poor fit" in res.message and "related" in res.message


@pytest.mark.slow
def test_the_gradient_phase_improves_on_the_analysis_and_never_ends_worse():
    dry = hits(3.0, channels=2)
    target = ddsp.Chain(
        [
            ddsp.Compressor(SR, threshold_db=-22.0, ratio=3.0, attack_ms=5.0, release_ms=80.0),
            ddsp.ParametricEQ(SR, high_shelf_hz=3000.0, high_shelf_db=4.0),
            ddsp.Gain(SR, gain_db=2.0),
        ]
    )
    wet = run(target, dry)
    chain = ddsp.presets.load_chain("Compressor | ParametricEQ | Gain", SR)
    res = match_chain(chain, dry, wet, steps=40, eval_crops=2, progress=False)
    assert res.distance_after <= res.distance_analysis
    assert res.reduction > 0.8
    # the static curves agree over the levels the signal has (threshold and ratio trade off
    # against each other where few frames sit near the threshold)
    v = chain[0].parameter_values()
    levels = torch.linspace(-20.0, 0.0, 21, dtype=torch.float64)
    want = gain_curve_db(levels, -22.0, 3.0, 6.0)
    got = gain_curve_db(levels, v["threshold_db"], v["ratio"], v["knee_db"])
    assert float((got - want).abs().max()) < 1.5
    assert abs(chain[1].parameter_values()["high_shelf_db"] - 4.0) < 1.0


def test_a_compressor_that_never_engages_is_reported_undetermined_not_found():
    dry = hits(1.5, channels=2, level_db=-30.0)
    wet = run(ddsp.Chain([ddsp.Compressor(SR, threshold_db=-6.0), ddsp.Gain(SR, gain_db=3)]), dry)
    chain = ddsp.presets.load_chain("Compressor | Gain", SR)
    res = match_chain(chain, dry, wet, steps=3, eval_crops=2, progress=False)
    status = {n: d.status for n, d in res.determination[0].items()}
    assert status["threshold_db"] == status["ratio"] == "undetermined"
    assert res.determination[1]["gain_db"].status == "determined"
    assert abs(chain[1].parameter_values()["gain_db"] - 3.0) < 0.5
