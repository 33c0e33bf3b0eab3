"""Analysis-based starts: each kind reads its parameters off the pair; undetermined and
unused parameters are said to be so; new processors can bring their own."""

from __future__ import annotations

from typing import ClassVar

import torch

import ddsp
from ddsp.match.initializers import (
    INITIALIZERS,
    Context,
    Finding,
    _freeverb_room,
    initialise_chain,
    initializer_for,
    register_initializer,
)
from ddsp.match.objective import SpectralObjective

from ._signals import SR, hits, run


def _analyse(chain, dry, wet):
    obj = SpectralObjective(dry, wet, crop=8192, context=4000)
    ctx = Context(dry, wet, SR, chain, obj, obj.spread_starts(2))
    return initialise_chain(ctx)


def test_delay_time_feedback_and_mix_are_measured():
    dry = hits(2.0)
    wet = run(ddsp.Chain([ddsp.Delay(SR, delay_ms=123.4, feedback=0.45, mix=0.35)]), dry)
    chain = ddsp.Chain([ddsp.Delay(SR)])
    found = _analyse(chain, dry, wet)[0]
    v = chain[0].parameter_values()
    assert abs(v["delay_ms"] - 123.4) < 0.05  # under a sample
    assert abs(v["feedback"] - 0.45) < 0.08 and abs(v["mix"] - 0.35) < 0.03
    assert found["delay_ms"].how == "measured"


def test_eq_bands_the_response_does_not_need_are_unused_and_flat():
    dry = hits(2.0)
    target = ddsp.ParametricEQ(SR, high_shelf_hz=3000.0, high_shelf_db=5.0, low_cut=False,
                               high_cut=False)  # fmt: skip
    wet = run(ddsp.Chain([target]), dry)
    chain = ddsp.Chain([ddsp.ParametricEQ(SR, peak2_db=7.0)])
    found = _analyse(chain, dry, wet)[0]
    v = chain[0].parameter_values()
    assert abs(v["high_shelf_db"] - 5.0) < 0.5
    assert found["peak2_db"].how == "unused" and v["peak2_db"] == 0.0
    assert all(abs(v[f"peak{i}_db"]) < 1.0 for i in (1, 2, 3))
    # no cut in the response: the EQ's cuts are switched off (a cut at its range end is
    # not flat near Nyquist or DC)
    assert found["high_cut_hz"].how == "unused" and found["low_cut_hz"].how == "unused"
    assert chain[0].high_cut is False and chain[0].low_cut is False
    assert "cut" not in found["high_shelf_db"].note  # the bands' note is their own


def test_a_compressor_that_never_engages_is_undetermined_and_leaves_the_audio_alone():
    dry = hits(2.0, channels=2, level_db=-30.0)
    wet = run(ddsp.Chain([ddsp.Compressor(SR, threshold_db=-6.0), ddsp.Gain(SR, gain_db=-4)]), dry)
    chain = ddsp.Chain([ddsp.Compressor(SR, threshold_db=-40.0), ddsp.Gain(SR)])
    found = _analyse(chain, dry, wet)
    assert found[0]["threshold_db"].how == "undetermined"
    assert found[0]["ratio"].how == "undetermined"
    assert chain[0].parameter_values()["threshold_db"] == 0.0  # out of the way
    assert abs(chain[1].parameter_values()["gain_db"] + 4.0) < 0.5


def test_a_reverb_after_an_idle_compressor_does_not_make_it_engage():
    # the tail lifts quiet frames a little: a "compressor" with a ratio near 1 fits that,
    # but one whose gain hardly moves is no compressor at work
    dry = hits(3.0, channels=2, level_db=-6.0)
    target = [ddsp.Compressor(SR, threshold_db=0.0, knee_db=0.0),
              ddsp.Freeverb(SR, room_size=0.6, damping=0.4, mix=0.2)]  # fmt: skip
    wet = run(ddsp.Chain(target), dry)
    chain = ddsp.Chain([ddsp.Compressor(SR), ddsp.Freeverb(SR)])
    found = _analyse(chain, dry, wet)[0]
    assert found["threshold_db"].how == "undetermined", found["threshold_db"]
    assert "dB from the quietest frames" in found["threshold_db"].note
    # and one at work on the same material engages
    target[0] = ddsp.Compressor(SR, threshold_db=-24.0, ratio=4.0, knee_db=0.0)
    wet = run(ddsp.Chain(target), dry)
    chain = ddsp.Chain([ddsp.Compressor(SR), ddsp.Freeverb(SR)])
    found = _analyse(chain, dry, wet)[0]
    assert found["threshold_db"].how == "measured", found["threshold_db"]


def test_an_idle_compressor_leaves_the_eq_analysis_every_frame():
    # the quietest frames, where a working compressor leaves the gain alone, are a
    # reverb's tail in the pauses: with the compressor idle the EQ reads every frame
    dry = hits(3.0, channels=2, level_db=-12.0)
    dry = dry * ((torch.arange(dry.shape[-1]) / SR * 2) % 1 < 0.5)  # pauses
    target = [ddsp.ParametricEQ(SR, peak1_hz=2000.0, peak1_db=5.0, peak1_q=2.0, low_cut=False,
                                high_cut=False),
              ddsp.Compressor(SR, threshold_db=0.0, knee_db=0.0),
              ddsp.Freeverb(SR, room_size=0.6, damping=0.4, mix=0.25)]  # fmt: skip
    wet = run(ddsp.Chain(target), dry)
    chain = ddsp.Chain([ddsp.ParametricEQ(SR), ddsp.Compressor(SR), ddsp.Freeverb(SR)])
    found = _analyse(chain, dry, wet)
    assert found[1]["threshold_db"].how == "undetermined"
    v = chain[0].parameter_values()
    gains = {n: v[f"{n}_db"] for n in ("low_shelf", "peak1", "peak2", "peak3", "high_shelf")}
    best = max(gains, key=gains.get)
    assert abs(gains.pop(best) - 5.0) < 0.5 and abs(v[f"{best}_hz"] / 2000 - 1) < 0.05, v
    assert all(abs(g) < 1.5 for g in gains.values()), v  # no band the chain lacks


def test_freeverb_size_damping_and_mix_are_found_before_the_level_is():
    # the chain's gain comes last: the reverb's searches compare at matched level, with a
    # second of context (its tail), and size and mix together (they trade)
    dry = hits(2.5, channels=2)
    truth = ddsp.Freeverb(SR, room_size=0.7, damping=0.3, mix=0.15)
    wet = run(ddsp.Chain([truth, ddsp.Gain(SR, gain_db=5.0)]), dry)
    chain = ddsp.Chain([ddsp.Freeverb(SR), ddsp.Gain(SR)])
    _analyse(chain, dry, wet)
    v = chain[0].parameter_values()
    assert abs(v["room_size"] - 0.7) < 0.05 and abs(v["mix"] - 0.15) < 0.03, v
    assert abs(v["damping"] - 0.3) < 0.15, v


def test_a_chorus_sweep_is_read_off_the_delay_track():
    # rate, centre, depth and the LFO's phase from a sine through the frame-by-frame lag
    # of the delayed copy, then phase and rate polished on the loss
    dry = hits(3.0, channels=2)
    truth = dict(rate_hz=0.7, depth_ms=2.0, centre_ms=10.0, mix=0.5, lfo_phase=0.3)
    wet = run(ddsp.Chain([ddsp.Chorus(SR, **truth)]), dry)
    chain = ddsp.Chain([ddsp.Chorus(SR)])
    found = _analyse(chain, dry, wet)[0]
    v = chain[0].parameter_values()
    assert found["rate_hz"].how == "searched" and found["centre_ms"].how == "measured"
    assert abs(v["rate_hz"] - 0.7) < 0.01 and abs(v["centre_ms"] - 10.0) < 0.1, v
    assert abs(v["depth_ms"] - 2.0) < 0.1 and abs(v["mix"] - 0.5) < 0.06, v
    assert abs((chain[0].lfo_phase - 0.3 + 0.5) % 1.0 - 0.5) < 0.01, chain[0].lfo_phase


def test_a_compressor_that_smooths_its_level_is_found_so():
    # JUCE's detector (pedalboard's): the level smoothed, not the gain; the analysis tries
    # both detectors and keeps the one whose settings, polished on the loss, fit best
    dry = hits(3.0, channels=2)
    target = ddsp.Compressor(SR, detector="envelope", link_channels=False, threshold_db=-18.0,
                             ratio=4.0, knee_db=0.0, attack_ms=2.0, release_ms=40.0)  # fmt: skip
    wet = run(ddsp.Chain([target]), dry)
    chain = ddsp.Chain([ddsp.Compressor(SR)])
    found = _analyse(chain, dry, wet)[0]
    v = chain[0].parameter_values()
    assert chain[0].detector == "envelope" and "envelope detector" in found["ratio"].note
    assert abs(v["threshold_db"] + 18.0) < 1.5 and abs(v["ratio"] - 4.0) < 1.0, v


def test_freeverb_room_size_follows_the_measured_decay():
    from ddsp.match.analysis import decay_rt60

    for room in (0.3, 0.7, 0.9):
        proc = ddsp.Freeverb(44_100, room_size=room, damping=0.0, mix=1.0, width=1.0)
        x = torch.zeros(1, 1, 3 * 44_100)
        x[..., 0] = 1.0
        with torch.no_grad():
            ir = proc(x)[0].mean(0).double()
        rt = decay_rt60(ir, 44_100)[0]
        assert abs(_freeverb_room(rt) - room) < 0.05


class _Fuzz(ddsp.Processor):
    """A processor the library does not know: its initializer comes with it."""

    specs: ClassVar = (ddsp.ParamSpec("amount", "", 0.0, 1.0, 0.5),)

    def forward(self, x):
        return x * (1 - self.amount)


def test_a_new_processor_kind_registers_its_own_initializer():
    @register_initializer(_Fuzz, stage="level", linear=True)
    def _init(proc, index, ctx):
        proc.amount = 0.25
        return {"amount": Finding(0.25, "measured", "test")}

    try:
        assert initializer_for(_Fuzz(SR)).stage == 5
        dry = hits(1.0)
        chain = ddsp.Chain([_Fuzz(SR)])
        found = _analyse(chain, dry, 0.75 * dry)
        assert found[0]["amount"].how == "measured"
        assert abs(chain[0].parameter_values()["amount"] - 0.25) < 1e-6
    finally:
        del INITIALIZERS[_Fuzz]
        ddsp.PROCESSORS.pop("_Fuzz", None)
