"""Processor contract suite over the registry, parameters in physical units, presets."""

from __future__ import annotations

import math

import pytest
import torch

import ddsp
from ddsp import PROCESSORS, Biquad, Chain, Harmonic, Processor, load_preset, save_preset
from ddsp.presets import preset_data

SR = 16_000

# How to build and call each registered processor with audio in and audio out.
EFFECTS = {
    "Biquad": lambda: Biquad(SR, kind="peaking", cutoff_hz=900.0, gain_db=4.0),
    "SVF": lambda: ddsp.SVF(SR, mode="bandpass", cutoff_hz=700.0, resonance=0.5),
    "Gain": lambda: ddsp.Gain(SR, gain_db=-3.0),
    "Compressor": lambda: ddsp.Compressor(
        SR, threshold_db=-6.0, ratio=4.0, knee_db=12.0, makeup_db=3.0
    ),
    "Limiter": lambda: ddsp.Limiter(SR, threshold_db=-12.0, knee_db=3.0, makeup_db=1.0),
    "Expander": lambda: ddsp.Expander(SR, threshold_db=-5.0, ratio=3.0, makeup_db=1.0),
    "ParametricEQ": lambda: ddsp.ParametricEQ(
        SR,
        low_cut_hz=40.0,
        low_shelf_db=2.0,
        peak1_db=3.0,
        peak2_db=-2.0,
        peak3_db=4.0,
        high_shelf_hz=4000.0,
        high_shelf_db=-3.0,
        high_cut_hz=6000.0,
    ),
    "Distortion": lambda: ddsp.Distortion(SR, shape="asymmetric", bias=0.2, mix=0.8),
    "Panner": lambda: ddsp.Panner(SR, position=0.3),
    "StereoWidth": lambda: ddsp.StereoWidth(SR, width=1.4),
    "Tremolo": lambda: ddsp.Tremolo(SR, rate_hz=7.0, depth=0.4),
    "Delay": lambda: ddsp.Delay(SR, delay_ms=3.3, feedback=0.5, mix=0.4),
    "Chorus": lambda: ddsp.Chorus(SR, rate_hz=8.0, depth_ms=2.0, centre_ms=6.0, feedback=0.2),
    "Flanger": lambda: ddsp.Flanger(SR, rate_hz=4.0),
    "NoiseReverb": lambda: ddsp.NoiseReverb(SR, max_seconds=0.05, rt60_s=0.3, mix=0.5),
    "ConvolutionReverb": lambda: ddsp.ConvolutionReverb(SR, ir_seconds=0.02, mix=0.5),
    "PingPongDelay": lambda: ddsp.PingPongDelay(SR, delay_ms=2.0, feedback=0.5, mix=0.5),
    "Phaser": lambda: ddsp.Phaser(SR, rate_hz=5.0, stages=6),
    "FDNReverb": lambda: ddsp.FDNReverb(
        SR, n_lines=4, min_delay_ms=1.0, max_delay_ms=3.0, pre_delay_ms=1.0, rt60_s=0.2
    ),
    "Freeverb": lambda: ddsp.Freeverb(SR // 4, room_size=0.7, damping=0.3, width=0.8, mix=0.5),
}

# effects that need exactly these many input channels
CHANNELS = {"StereoWidth": 2, "Panner": 1, "PingPongDelay": 2, "FDNReverb": 1, "Freeverb": 2}


# Sources and modulators: how to call each, and the shape it returns.
F0 = torch.full((2, 10), 220.0)
SOURCES = {
    "Oscillator": (lambda: ddsp.Oscillator(SR, shape="pulse", width=0.3), lambda: (F0, 800)),
    "FM": (lambda: ddsp.FM(SR, ratio=2.0, index=3.0), lambda: (F0, 800)),
    "Wavetable": (lambda: ddsp.Wavetable(SR, table_size=64), lambda: (F0, 800)),
    "FilteredNoise": (lambda: ddsp.FilteredNoise(SR, seed=3), lambda: (torch.rand(2, 10, 17), 800)),
    "ADSR": (
        lambda: ddsp.ADSR(SR, attack_ms=5.0, decay_ms=10.0, release_ms=10.0),
        lambda: (torch.cat([torch.ones(2, 500), torch.zeros(2, 300)], 1),),
    ),
    "LFO": (lambda: ddsp.LFO(SR, shape="triangle", rate_hz=30.0), lambda: (800, 2)),
}


def test_every_registered_processor_is_covered_by_the_contract_suite():
    assert set(PROCESSORS) == set(EFFECTS) | set(SOURCES) | {"Harmonic"}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_source_contract_shapes_finite_gradients_repr_and_presets(name, tmp_path):
    make, args = SOURCES[name]
    proc = make()
    y = proc(*args())
    assert y.shape in ((2, 1, 800), (2, 800)) and torch.isfinite(y).all() and y.abs().max() > 0
    y.square().mean().backward()
    for pname, p in proc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    text = repr(proc)
    assert all(f"{spec.name}=" in text for spec in proc.specs)
    proc.to_preset(tmp_path / "p.toml")
    again = load_preset(tmp_path / "p.toml")
    assert type(again) is type(proc) and again.options() == proc.options()
    assert again.parameter_values() == proc.parameter_values()


@pytest.mark.parametrize("name", sorted(EFFECTS))
def test_effect_contract_shapes_finite_gradients_and_repr(name):
    proc = EFFECTS[name]()
    x = torch.randn(2, CHANNELS.get(name, 3), 800)
    y = proc(x)
    assert y.shape[::2] == x.shape[::2] and y.dtype == x.dtype and torch.isfinite(y).all()
    y.square().mean().backward()
    for pname, p in proc.named_parameters():
        if pname.removeprefix("raw_") in proc.nondifferentiable:
            continue  # documented: e.g. a delay in whole samples
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    text = repr(proc)
    for spec in proc.specs:
        assert f"{spec.name}=" in text
    for spec in proc.specs:  # physical values with their units, not raw parameters
        assert spec.unit in text


def test_harmonic_contract_shapes_finite_gradients():
    h = Harmonic(SR, n_harmonics=12)
    f0 = torch.full((2, 20), 220.0, requires_grad=True)
    amp = torch.full((2, 20), 0.5, requires_grad=True)
    dist = torch.rand(2, 20, 12, requires_grad=True)
    y = h(f0, amp, dist, 1600)
    assert y.shape == (2, 1, 1600) and torch.isfinite(y).all()
    y.square().sum().backward()
    for t in (f0, amp, dist):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_harmonic_drops_harmonics_above_nyquist_and_normalises_the_distribution():
    h = Harmonic(8000, n_harmonics=4)
    # at 1500 Hz only harmonics 1 and 2 are below 4 kHz; the distribution renormalises
    y = h(torch.full((1, 2), 1500.0), torch.ones(1, 2), torch.ones(1, 2, 4), 8000)
    t = torch.arange(8000, dtype=torch.float64) / 8000
    want = 0.5 * torch.sin(2 * math.pi * 1500 * t) + 0.5 * torch.sin(2 * math.pi * 3000 * t)
    assert float((y[0, 0] - want).abs().max()) < 1e-4


def test_parameters_are_set_and_read_in_physical_units_and_stay_in_range():
    b = Biquad(SR, cutoff_hz=500.0)
    assert float(b.cutoff_hz.detach()) == pytest.approx(500.0, rel=1e-5)
    b.cutoff_hz = 2000.0
    assert float(b.cutoff_hz.detach()) == pytest.approx(2000.0, rel=1e-5)
    with torch.no_grad():  # whatever the optimiser does, the value stays inside the spec
        b.raw_cutoff_hz.fill_(1e4)
    assert b.spec("cutoff_hz").minimum <= float(b.cutoff_hz.detach()) <= b.spec("cutoff_hz").maximum
    with pytest.raises(ValueError, match=r"cutoff_hz in \[20, 20000\], got 5"):
        b.cutoff_hz = 5.0
    with pytest.raises(ValueError, match="unknown parameter"):
        Biquad(SR, cutof_hz=100.0)
    with pytest.raises(ValueError, match="kind in"):
        Biquad(SR, kind="lopass")
    with pytest.raises(ValueError, match="sample_rate"):
        Biquad(0)


def test_controls_override_parameters_per_item_and_per_frame():
    b = Biquad(SR, kind="lowpass")
    x = torch.randn(2, 1, 400)
    per_item = b(x, cutoff_hz=torch.tensor([300.0, 3000.0]))
    for i, fc in enumerate((300.0, 3000.0)):
        ref = ddsp.functional.biquad(x[i], "lowpass", fc, float(b.q.detach()), sample_rate=SR)
        torch.testing.assert_close(per_item[i], ref, rtol=1e-5, atol=1e-5)
    per_frame = b(x, cutoff_hz=torch.tensor([[300.0, 600.0, 900.0], [3000.0, 2000.0, 1000.0]]))
    assert per_frame.shape == x.shape
    normalized = b.forward_normalized(x, cutoff_hz=torch.tensor([0.5, 0.5]))
    mid = b.spec("cutoff_hz").to_physical(0.5)
    torch.testing.assert_close(normalized, b(x, cutoff_hz=torch.tensor([mid, mid])))
    with pytest.raises(ValueError, match="unknown control"):
        b(x, cutof_hz=100.0)
    with pytest.raises(ValueError, match=r"\(batch, channels, time\)"):
        b(torch.randn(400))


def test_a_learnable_filter_fits_a_target_cutoff():
    torch.manual_seed(1)
    x = torch.randn(4, 1, 4000)
    target = ddsp.functional.biquad(x, "lowpass", 2500.0, 0.7071, sample_rate=SR)
    b = Biquad(SR, kind="lowpass", cutoff_hz=400.0)
    opt = torch.optim.Adam(b.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        loss = (b(x) - target).square().mean()
        loss.backward()
        opt.step()
    assert float(b.cutoff_hz.detach()) == pytest.approx(2500.0, rel=0.05)


def test_chain_is_list_like_and_rejects_mixed_sample_rates():
    c = Chain([Biquad(SR), ddsp.SVF(SR)])
    assert len(c) == 2 and isinstance(c[1], ddsp.SVF) and [type(p) for p in c] == [Biquad, ddsp.SVF]
    x = torch.randn(1, 2, 300)
    torch.testing.assert_close(c(x), c[1](c[0](x)))
    with pytest.raises(ValueError, match="sample_rate 16000"):
        c.append(Biquad(48_000))
    with pytest.raises(TypeError, match="Processor"):
        c.append(torch.nn.Identity())


VOICE_INPUTS = {
    "f0_hz": torch.tensor([[220.0] * 10, [330.0] * 10]),
    "gate": torch.cat([torch.ones(2, 6000), torch.zeros(2, 3600)], 1),
}


@pytest.mark.parametrize("name", ddsp.list_presets())
def test_every_shipped_preset_loads_and_renders(name):
    module = load_preset(name)
    if isinstance(module, ddsp.Graph):
        y = module(9600, **VOICE_INPUTS)
        assert y.shape == (2, 1, 9600)
    else:
        y = module(torch.randn(1, 2, 4800))
    assert torch.isfinite(y).all() and y.abs().max() > 0


def test_at_least_six_instrument_presets_ship():
    assert len([n for n in ddsp.list_presets() if n.startswith("voices/")]) >= 6


def test_voice_envelope_sweeps_the_filter_and_shapes_the_level():
    voice = load_preset("voices/saw_lead", sample_rate=SR)
    gate = torch.cat([torch.ones(1, 8000), torch.zeros(1, 8000)], 1)
    with torch.no_grad():
        y = voice(16_000, f0_hz=torch.full((1, 4), 110.0), gate=gate)[0, 0]

    def centroid(seg):
        spec = torch.fft.rfft(seg * torch.hann_window(seg.shape[0])).abs()
        freqs = torch.fft.rfftfreq(seg.shape[0], 1 / SR)
        return float((spec * freqs).sum() / spec.sum())

    early, late = y[200:1200], y[6000:7000]  # envelope peak vs sustain: cutoff lower later
    assert centroid(early) > 1.5 * centroid(late)
    assert float(y[15000:].abs().max()) < 1e-3  # released to silence


def test_graph_gradients_reach_node_parameters_and_wiring_errors_are_clear():
    osc = ddsp.Oscillator(SR, shape="saw")
    filt = ddsp.SVF(SR, cutoff_hz=500.0)
    env = ddsp.ADSR(SR)
    graph = ddsp.Graph(
        {
            "osc": ddsp.Node(osc, {"f0_hz": "$f0_hz"}),
            "env": ddsp.Node(env, {"gate": "$gate"}),
            "filt": ddsp.Node(filt, {"x": "osc"}, {"cutoff_hz": ddsp.Modulation("env", 0.3)}),
        },
        output="filt",
    )
    y = graph(800, f0_hz=torch.full((1, 2), 200.0), gate=torch.ones(1, 800))
    y.square().mean().backward()
    for p in (filt.raw_cutoff_hz, filt.raw_resonance, env.raw_attack_ms, osc.raw_gain_db):
        assert p.grad is not None and torch.isfinite(p.grad) and p.grad != 0
    with pytest.raises(ValueError, match="not an earlier node"):
        ddsp.Graph({"filt": ddsp.Node(ddsp.SVF(SR), {"x": "osc"})}, output="filt")
    with pytest.raises(ValueError, match="has no input 'audio'"):
        ddsp.Graph({"filt": ddsp.Node(ddsp.SVF(SR), {"audio": "$x"})}, output="filt")
    with pytest.raises(ValueError, match="output to name a node"):
        ddsp.Graph({"filt": ddsp.Node(ddsp.SVF(SR), {"x": "$x"})}, output="amp")
    with pytest.raises(KeyError, match="no parameter 'cutoff'"):
        ddsp.Graph(
            {
                "e": ddsp.Node(env, {"gate": "$g"}),
                "f": ddsp.Node(ddsp.SVF(SR), {"x": "$x"}, {"cutoff": ddsp.Modulation("e", 1.0)}),
            },
            output="f",
        )
    with pytest.raises(ValueError, match="graph input 'gate' is needed"):
        graph(800, f0_hz=torch.full((1, 2), 200.0))


def test_graph_presets_round_trip(tmp_path):
    voice = load_preset("voices/pwm_pad")
    save_preset(voice, tmp_path / "pad.toml")
    again = load_preset(tmp_path / "pad.toml")
    assert preset_data(again) == preset_data(voice)
    with torch.no_grad():
        torch.testing.assert_close(again(9600, **VOICE_INPUTS), voice(9600, **VOICE_INPUTS))


def test_presets_round_trip_through_toml(tmp_path):
    chain = Chain([Biquad(SR, kind="highshelf", gain_db=-3.5), ddsp.SVF(SR, mode="notch")])
    save_preset(chain, tmp_path / "c.toml")
    again = load_preset(tmp_path / "c.toml")
    assert preset_data(again) == preset_data(chain)
    svf = ddsp.SVF(SR, resonance=0.8)
    svf.to_preset(tmp_path / "s.toml")
    assert (
        ddsp.SVF.from_preset(str(tmp_path / "s.toml")).parameter_values() == svf.parameter_values()
    )
    with pytest.raises(ValueError, match="describes SVF, not Biquad"):
        Biquad.from_preset(str(tmp_path / "s.toml"))


@pytest.mark.parametrize(
    "text, match",
    [
        ('format = 2\nsample_rate = 16000.0\nprocessor = "SVF"\n', "format = 1"),
        ('format = 1\nsample_rate = 16000.0\nprocessor = "Fuzz"\n', "unknown processor 'Fuzz'"),
        (
            'format = 1\nsample_rate = 16000.0\nprocessor = "SVF"\ncolour = 1\n',
            r"unknown key\(s\) \['colour'\]",
        ),
        (
            'format = 1\nsample_rate = 16000.0\nprocessor = "SVF"\n[params]\ncutoff = 3.0\n',
            "unknown parameter 'cutoff'",
        ),
        (
            'format = 1\nsample_rate = 16000.0\nprocessor = "SVF"\n[params]\nresonance = 1.5\n',
            r"resonance in \[0, 0.99\]",
        ),
        (
            'format = 1\nsample_rate = 16000.0\nprocessor = "SVF"\n[options]\nmode = "peak"\n',
            "mode in",
        ),
        ('format = 1\nprocessor = "SVF"\n', "sample_rate"),
        ("format = = 1", "not valid TOML"),
    ],
)
def test_bad_presets_get_clear_errors(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_preset(path)
    with pytest.raises(ValueError, match="unknown preset"):
        load_preset("SVF/no_such_preset")


def test_processor_base_is_exported():
    assert issubclass(Biquad, Processor)
