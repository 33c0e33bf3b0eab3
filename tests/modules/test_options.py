"""Construction options and parameter values are checked when a processor is built.

Whole numbers must be ints (True and 2.5 are refused, not read as 1 and 2), numbers finite
and in range, flags real booleans; messages name the processor, the option, the range
and the value.
"""

from __future__ import annotations

import math

import pytest
import torch

import ddsp

SR = 16_000
NAN, INF = math.nan, math.inf

# (processor, option, bad values, text in the message)
OPTIONS = [
    ("Phaser", "stages", [0, 13, 2.5, True, "4", None], "[1, 12]"),
    ("FDNReverb", "n_lines", [3, 17, 8.0, True], "[4, 16]"),
    ("FDNReverb", "min_delay_ms", [0, -1, NAN, INF, True, "20"], "(0, 1000]"),
    ("FDNReverb", "max_delay_ms", [10.0, NAN, INF, 1001, False], "[20, 1000]"),
    ("FDNReverb", "seed", [-1, 2.5, True, 2**31, "0"], "seed"),
    ("NoiseReverb", "max_seconds", [0, -1, NAN, INF, 61, True], "(0, 60]"),
    ("NoiseReverb", "seed", [-1, 1.5, True], "seed"),
    ("ConvolutionReverb", "ir_seconds", [0, NAN, INF, 61, True, "1"], "(0, 60]"),
    ("Harmonic", "n_harmonics", [0, 4097, 8.5, True], "[1, 4096]"),
    ("Wavetable", "table_size", [2, 2**17, 64.0, True, 100], "table_size"),
    ("FilteredNoise", "seed", [-1, 2.5, True, "3"], "seed"),
    ("Compressor", "link_channels", ["no", 0, 1, None], "true or false"),
    ("ParametricEQ", "low_cut", ["no", 0, None], "true or false"),
    ("ParametricEQ", "high_cut", [1, "off"], "true or false"),
    ("Expander", "link_channels", ["yes"], "true or false"),
    ("Compressor", "detector", ["fast", 1], "detector"),
    ("Biquad", "kind", ["lopass", 3], "kind"),
    ("SVF", "mode", ["band"], "mode"),
    ("Distortion", "shape", ["fuzz"], "shape"),
    ("Oscillator", "shape", ["sawtooth"], "shape"),
    ("LFO", "shape", ["random"], "shape"),
]
OPTION_CASES = [(p, o, v, t) for p, o, values, t in OPTIONS for v in values]


@pytest.mark.parametrize(
    "proc, option, value, text", OPTION_CASES, ids=[f"{p}-{o}-{v!r}" for p, o, v, _ in OPTION_CASES]
)
def test_a_bad_option_is_refused_with_its_name_and_range(proc, option, value, text):
    with pytest.raises((ValueError, TypeError)) as e:
        ddsp.PROCESSORS[proc](SR, **{option: value})
    assert option in str(e.value) and text in str(e.value), str(e.value)


@pytest.mark.parametrize("value", [True, NAN, INF, -INF, "3", None, torch.tensor(NAN)])
@pytest.mark.parametrize("name", sorted(ddsp.PROCESSORS))
def test_a_bad_parameter_value_is_refused_by_every_processor(name, value):
    cls = ddsp.PROCESSORS[name]
    spec = cls.specs[0]
    with pytest.raises((ValueError, TypeError), match=spec.name):
        cls(SR, **{spec.name: value})


@pytest.mark.parametrize("name", sorted(ddsp.PROCESSORS))
def test_every_processor_accepts_both_ends_of_every_spec(name):
    cls = ddsp.PROCESSORS[name]
    for spec in cls.specs:
        for value in (spec.minimum, spec.maximum):
            proc = cls(SR, **{spec.name: value})
            assert float(getattr(proc, spec.name).detach()) == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("rate", [0, -1, NAN, INF, True, "16000", None])
def test_a_bad_sample_rate_is_refused(rate):
    with pytest.raises((ValueError, TypeError), match="sample_rate"):
        ddsp.Gain(rate)


def test_good_options_are_kept():
    assert ddsp.Phaser(SR, stages=6).stages == 6
    assert ddsp.Compressor(SR, link_channels=False).link_channels is False
    fdn = ddsp.FDNReverb(SR, n_lines=4, min_delay_ms=5, max_delay_ms=5, seed=3)
    assert fdn.options() == {"n_lines": 4, "min_delay_ms": 5.0, "max_delay_ms": 5.0, "seed": 3}
    assert ddsp.FilteredNoise(SR).seed is None


def test_an_eq_without_its_cuts_is_flat_at_its_defaults_and_streams_so():
    x = torch.randn(1, 2, 3000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with_cuts = ddsp.ParametricEQ(SR)
    without = ddsp.ParametricEQ(SR, low_cut=False, high_cut=False)
    with torch.no_grad():
        assert not torch.allclose(with_cuts(x), x, atol=1e-3)  # the 20 Hz / 7.2 kHz cuts act
        assert torch.allclose(without(x), x, atol=1e-9)
        shelf = ddsp.ParametricEQ(SR, high_cut=False, high_shelf_db=6.0)
        offline = shelf(x)
        stream = ddsp.Stream(shelf, channels=2, batch=1, dtype=torch.float64)
        streamed = torch.cat([stream.process(x[..., i : i + 700]) for i in range(0, 3000, 700)], -1)
    assert len(shelf.sections()) == ddsp.ParametricEQ.BANDS - 1
    assert torch.allclose(streamed, offline, atol=1e-9)
    # a default EQ saves no options; one without a cut says so, and loads back the same
    assert with_cuts.options() == {} and shelf.options() == {"high_cut": False}


def test_a_chorus_lfo_phase_starts_its_sweep_there_offline_in_crops_and_streamed():
    from ddsp.functional import chorus

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 4000, generator=gen, dtype=torch.float64)
    values = {"rate_hz": 3.0, "depth_ms": 2.0, "centre_ms": 8.0, "mix": 0.5}
    proc = ddsp.Chorus(SR, lfo_phase=0.3, **values)
    assert proc.options() == {"lfo_phase": 0.3} and ddsp.Chorus(SR).options() == {}
    with torch.no_grad():
        whole = proc(x)
        # a whole-signal sweep whose phase starts at 0.3: the functional form with that state
        line = ddsp.functional.delay_state(x, 20 * SR / 1000)
        want = chorus(x, sample_rate=SR, **values, state=(torch.tensor([0.3]), line))
        assert torch.allclose(whole, want, atol=1e-4)  # the processor holds float32 values
        assert not torch.allclose(whole, ddsp.Chorus(SR, **values)(x), atol=1e-3)
        # crops processed apart sweep as the whole did (once their line has filled)
        crops = proc.run_at(torch.cat([x[..., 1000:3000], x[..., 2000:4000]]), [1000, 2000])
        assert torch.allclose(crops[0, :, 500:], whole[0, :, 1500:3000], atol=1e-12)
        assert torch.allclose(crops[1, :, 500:], whole[0, :, 2500:4000], atol=1e-12)
        stream = ddsp.Stream(proc, channels=2, batch=1, dtype=torch.float64)
        streamed = torch.cat([stream.process(x[..., i : i + 512]) for i in range(0, 4000, 512)], -1)
        # a control given with the call is the one used
        faster = proc(x, rate_hz=torch.tensor([5.0], dtype=torch.float64))
        want = ddsp.Chorus(SR, lfo_phase=0.3, **{**values, "rate_hz": 5.0})(x)
    assert torch.allclose(streamed[..., : whole.shape[-1]], whole, atol=1e-9)
    assert torch.allclose(faster, want, atol=1e-3) and not torch.allclose(faster, whole, atol=0.05)


def test_an_envelope_detector_compressor_streams_as_it_runs_offline():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 3000, generator=gen, dtype=torch.float64) * 0.5
    proc = ddsp.Compressor(SR, detector="envelope", link_channels=False, threshold_db=-20.0)
    assert proc.options()["detector"] == "envelope"
    with torch.no_grad():
        offline = proc(x)
        stream = ddsp.Stream(proc, channels=2, batch=1, dtype=torch.float64)
        streamed = torch.cat([stream.process(x[..., i : i + 700]) for i in range(0, 3000, 700)], -1)
        peak = ddsp.Compressor(SR, link_channels=False, threshold_db=-20.0)(x)
    assert torch.allclose(streamed, offline, atol=1e-9)
    assert not torch.allclose(peak, offline, atol=1e-3)
