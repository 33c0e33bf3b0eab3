"""ddsp match: parameters recovered from library-made targets; peer-made targets matched."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

import ddsp
from ddsp.cli import main
from ddsp.match import fit_chain

pytestmark = pytest.mark.slow  # training, DDP, matching: minutes on a busy machine

SR = 16_000


def _dry(seconds=1.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(SR * seconds)) / SR
    env = torch.exp(-((t * 4) % 1) * 6)  # four decaying hits per second
    noise = torch.randn(t.shape, generator=gen)
    return (0.5 * env * noise + 0.3 * env * torch.sin(2 * math.pi * 220 * t))[None, None]


def _recover(target, start, steps=100):
    dry = _dry()
    with torch.no_grad():
        wet = target(dry)
    res = fit_chain(start, dry, wet, seconds=None, max_steps=steps, progress=False)
    assert res.distance_after < 0.2 * res.distance_before
    return start[0]


def test_recovers_gain():
    got = _recover(ddsp.Chain([ddsp.Gain(SR, gain_db=-6.0)]), ddsp.Chain([ddsp.Gain(SR)]))
    assert abs(got.parameter_values()["gain_db"] + 6.0) < 0.5


def test_recovers_eq_band_gains():
    kw = dict(peak1_hz=300.0, peak2_hz=2000.0)
    target = ddsp.Chain([ddsp.ParametricEQ(SR, peak1_db=6.0, peak2_db=-4.0, **kw)])
    got = _recover(target, ddsp.Chain([ddsp.ParametricEQ(SR, **kw)]))
    v = got.parameter_values()
    assert abs(v["peak1_db"] - 6.0) < 1.0 and abs(v["peak2_db"] + 4.0) < 1.0


def test_recovers_compressor_threshold_and_ratio():
    target = ddsp.Chain([ddsp.Compressor(SR, threshold_db=-20.0, ratio=4.0)])
    got = _recover(target, ddsp.Chain([ddsp.Compressor(SR, threshold_db=-10.0, ratio=2.0)]))
    v = got.parameter_values()
    assert abs(v["threshold_db"] + 20.0) < 3.0 and abs(v["ratio"] - 4.0) < 1.0


def test_recovers_reverb_decay():
    make = lambda rt: ddsp.Chain([ddsp.NoiseReverb(SR, rt60_s=rt, mix=0.4, max_seconds=1.0)])  # noqa: E731
    got = _recover(make(0.8), make(0.3))
    assert abs(got.parameter_values()["rt60_s"] / 0.8 - 1) < 0.15


def test_match_against_pedalboard_targets_cuts_the_distance_by_70_percent(tmp_path):
    pb = pytest.importorskip("pedalboard")
    dry = _dry(2.0, seed=1)[0].numpy().repeat(2, 0)  # stereo in, stereo out (Freeverb)
    board = pb.Pedalboard(
        [
            pb.PeakFilter(1000.0, 6.0, 1.0),
            pb.Compressor(threshold_db=-18.0, ratio=4.0, attack_ms=5.0, release_ms=80.0),
            pb.Reverb(room_size=0.6, damping=0.4, wet_level=0.3, dry_level=0.8, width=0.0),
        ]
    )
    wet = board(dry, SR)
    sf.write(tmp_path / "dry.wav", dry.T, SR, subtype="FLOAT")
    sf.write(tmp_path / "wet.wav", wet.T, SR, subtype="FLOAT")
    spec = "ParametricEQ | Compressor | Freeverb(width=0) | Gain"
    out = tmp_path / "fitted.toml"
    files = [str(tmp_path / "dry.wav"), str(tmp_path / "wet.wav")]
    code = main(["match", *files, "--chain", spec, "-o", str(out), "--steps", "60"])
    assert code == 0
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["reduction"] >= 0.7, report
    assert report["verdict"] == "good"
    d = report["distance"]
    assert d["after_fit"] <= d["after_analysis"] < d["before"]
    eq = report["processors"][0]["parameters"]
    peak = max(("peak1", "peak2", "peak3"), key=lambda p: eq[f"{p}_db"]["value"])
    assert abs(eq[f"{peak}_db"]["value"] - 6.0) < 1.5
    # what the analysis chose besides values: no cuts (pedalboard's filters have none),
    # JUCE's detector, which smooths the level
    assert report["processors"][0]["options"] == {"low_cut": False, "high_cut": False}
    assert report["processors"][1]["options"]["detector"] == "envelope"
    fitted = ddsp.load_preset(str(out))
    assert isinstance(fitted, ddsp.Chain) and len(fitted) == 4


def test_match_errors_are_clear(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.zeros((SR, 1), np.float32) + 0.1, SR)
    sf.write(tmp_path / "b.wav", np.zeros((SR, 1), np.float32) + 0.1, 22_050)
    sf.write(tmp_path / "st.wav", np.zeros((SR, 2), np.float32) + 0.1, SR)
    cases = [
        (["b.wav"], "sample rates differ"),
        (["st.wav"], "channel"),
        (["a.wav", "--chain", "NoSuchEffect()"], "unknown processor"),
        (["a.wav", "--chain", "chains/no_such_preset"], "unknown preset"),
    ]
    for args, message in cases:
        argv = ["match", str(tmp_path / "a.wav"), str(tmp_path / args[0])]
        argv += args[1:] if len(args) > 1 else ["--chain", "Gain"]
        argv += ["-o", str(tmp_path / "f.toml"), "--steps", "1"]
        assert main(argv) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "f.toml").exists()
