"""Presets: every processor saved and loaded sounds the same, chains and voices round
trip, bad presets get clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ddsp
from ddsp import PROCESSORS, Biquad, Chain, load_preset, save_preset
from ddsp.presets import load_chain, parse_chain_spec, preset_data
from tests.helpers import SR, build, max_rel_err, render


def _perturb(proc: ddsp.Processor, gen: torch.Generator) -> None:
    """Move every parameter to a random value inside its range, and every learned tensor."""
    for spec in proc.specs:
        u = 0.1 + 0.8 * float(torch.rand((), generator=gen))
        setattr(proc, spec.name, spec.to_physical(u))
    with torch.no_grad():
        for t in proc.learned_tensors().values():
            t.add_(0.3 * torch.randn(t.shape, generator=gen) * (t.abs().mean() + 0.1))


@pytest.mark.parametrize("name", sorted(PROCESSORS))
def test_a_saved_and_loaded_processor_sounds_the_same_after_everything_was_perturbed(
    name, tmp_path
):
    proc = build(name)
    x = torch.randn(2, 1 if name in ("Panner", "FDNReverb") else 2, 800)

    def out(p):  # sources draw their random inputs anew: the same ones each time
        torch.manual_seed(7)
        return render(p, x).detach()

    unperturbed = out(proc)
    _perturb(proc, torch.Generator().manual_seed(sum(map(ord, name))))
    written = save_preset(proc, tmp_path / "p.toml")
    again = load_preset(tmp_path / "p.toml")
    assert type(again) is type(proc) and again.options() == proc.options()
    want, got = out(proc), out(again)
    assert max_rel_err(got, want) < 1e-5, name
    assert max_rel_err(unperturbed, want) > 1e-3, "the perturbation changed nothing"
    # what was learned beyond the specs travels in an .npz beside the TOML
    assert [p.suffix for p in written] == [".toml", ".npz"][: 1 + bool(proc.learned_tensors())]


def test_learned_tensors_are_what_the_specs_do_not_hold():
    fdn = ddsp.FDNReverb(SR, n_lines=4)
    assert set(fdn.learned_tensors()) == {"matrix_weight", "input_gains", "output_gains"}
    assert set(ddsp.ConvolutionReverb(SR).learned_tensors()) == {"ir"}
    assert set(ddsp.Wavetable(SR).learned_tensors()) == {"table"}
    assert ddsp.Biquad(SR).learned_tensors() == {}


def test_tensors_of_the_wrong_shape_or_name_are_refused(tmp_path):
    fdn = ddsp.FDNReverb(SR, n_lines=4)
    save_preset(fdn, tmp_path / "f.toml")
    arrays = dict(np.load(tmp_path / "f.npz"))
    np.savez(tmp_path / "f.npz", **{**arrays, "input_gains": np.zeros(5, np.float32)})
    with pytest.raises(ValueError, match="input_gains: expected shape"):
        load_preset(tmp_path / "f.toml")
    np.savez(tmp_path / "f.npz", **arrays, extra=np.zeros(2))
    with pytest.raises(ValueError, match="unknown \\['extra'\\]"):
        load_preset(tmp_path / "f.toml")
    (tmp_path / "f.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read tensors"):
        load_preset(tmp_path / "f.toml")


def test_a_learned_ir_loads_at_another_rate_resampled(tmp_path):
    rev = ddsp.ConvolutionReverb(16_000, ir_seconds=0.1)
    save_preset(Chain([rev]), tmp_path / "c.toml")
    again = load_preset(tmp_path / "c.toml", sample_rate=32_000)
    assert again[0].ir.shape == (3200,)


def test_range_ends_survive_save_and_load(tmp_path):
    svf = ddsp.SVF(SR, resonance=0.99, cutoff_hz=20_000.0)
    assert svf.preset_values()["resonance"] == 0.99
    save_preset(svf, tmp_path / "s.toml")
    assert load_preset(tmp_path / "s.toml").preset_values() == svf.preset_values()


def test_chain_specs_read_numbers_options_and_negative_values():
    steps = parse_chain_spec("Compressor(threshold_db=-20, ratio=4) | Biquad(kind=lowpass)")
    assert steps == [
        {"processor": "Compressor", "params": {"threshold_db": -20.0, "ratio": 4.0}},
        {"processor": "Biquad", "options": {"kind": "lowpass"}},
    ]
    for bad in ("Fuzz", "Gain(gain_db=loud)", "Gain(3)", "Gain(gain_db=1 + 2)", ""):
        with pytest.raises(ValueError):
            load_chain(bad, SR)
    with pytest.raises(ValueError, match="voice"):
        load_chain("voices/saw_lead", SR)


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
    save_preset(svf, tmp_path / "s.toml")
    again = load_preset(tmp_path / "s.toml")
    assert isinstance(again, ddsp.SVF) and again.parameter_values() == svf.parameter_values()


@pytest.mark.parametrize(
    "text, match",
    [
        ('format = 3\nsample_rate = 16000.0\nprocessor = "SVF"\n', "expected format in"),
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
