"""ddsp resynth / render: outputs, report, editable controls, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from ddsp.cli import main
from ddsp.features import f0
from ddsp.resynth import Controls, fit, render

SR = 16_000


def _tone(seconds=1.0, hz=220.0, rate=SR):
    t = np.arange(int(rate * seconds)) / rate
    env = np.minimum(1, t / 0.05) * np.minimum(1, (seconds - t) / 0.1)
    x = sum(0.3 / k * np.sin(2 * np.pi * k * hz * t) for k in range(1, 8))
    return (env * x + 0.002 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)


def test_fit_reduces_the_spectral_loss():
    target = torch.from_numpy(_tone(0.6))[None]
    result = fit(target, SR, seconds=None, max_steps=40, progress=False)
    assert result.iterations == 40 and result.losses[-1] < 0.7 * result.losses[0]
    assert result.audio.shape == target.shape and torch.isfinite(result.audio).all()


def test_resynth_command_writes_audio_controls_picture_and_report(tmp_path, capsys):
    src = tmp_path / "tone.wav"
    x = _tone(1.0, rate=22_050)
    sf.write(src, np.stack([x, x], 1), 22_050)  # stereo: downmixed
    code = main(["resynth", str(src), "-o", str(tmp_path / "out"), "--steps", "30"])
    assert code == 0
    out = tmp_path / "out"
    audio, rate = sf.read(out / "tone.resynth.wav")
    assert rate == 22_050 and audio.shape == (22_050,) and np.isfinite(audio).all()
    assert (out / "tone.spectrograms.png").read_bytes()[:4] == b"\x89PNG"
    rep = json.loads((out / "tone.report.json").read_text())
    for key in ("spectral_distance", "sine_baseline_spectral_distance", "f0_median_abs_cents",
                "loudness_mean_abs_db", "iterations", "fit_seconds"):  # fmt: skip
        assert key in rep
    assert rep["channels"] == 2 and rep["iterations"] > 0
    assert "fitting their mix" in capsys.readouterr().err


def test_controls_round_trip_and_render_with_edits(tmp_path):
    target = torch.from_numpy(_tone(0.5))[None]
    c = fit(target, SR, seconds=None, max_steps=5, progress=False).controls
    c.save(tmp_path / "c.npz")
    back = Controls.load(tmp_path / "c.npz")
    assert np.array_equal(back.f0_hz, c.f0_hz) and back.rt60_s == c.rt60_s
    plain = render(back, reverb=False)
    assert plain.shape == (8000,)
    slow = render(back, time_stretch=2.0)
    assert slow.shape == (16_000,)
    up = render(back, pitch_shift=12.0, reverb=False, noise_gain_db=-120.0)
    hz_up = f0(torch.from_numpy(up), SR)[0][0, 20:-20].median()
    hz = f0(torch.from_numpy(plain), SR)[0][0, 20:-20].median()
    assert abs(1200 * math.log2(float(hz_up / hz)) - 1200) < 20
    assert main(["render", str(tmp_path / "c.npz"), str(tmp_path / "r.wav"), "--no-reverb"]) == 0
    assert sf.read(tmp_path / "r.wav")[0].shape == (8000,)


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "no such file"),
        (b"not audio", "cannot read"),
        ("empty", "no audio"),
        ("silent", "silent"),
        ("short", "too short"),
    ],
)
def test_resynth_bad_inputs_fail_clearly_without_outputs(tmp_path, capsys, content, message):
    src = tmp_path / "in.wav"
    if isinstance(content, bytes):
        src.write_bytes(content)
    elif content == "empty":
        sf.write(src, np.zeros((0, 1), np.float32), SR)
    elif content == "silent":
        sf.write(src, np.zeros(SR, np.float32), SR)
    elif content == "short":
        sf.write(src, _tone(0.01), SR)
    assert main(["resynth", str(src), "-o", str(tmp_path / "out"), "--steps", "5"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    "kind,rate",
    [("noise", 16_000), ("clipped", 16_000), ("tone", 8000), ("tone", 96_000)],
)
def test_resynth_copes_with_noise_clipping_and_extreme_rates(tmp_path, kind, rate):
    x = _tone(0.8, rate=rate)
    if kind == "noise":
        x = (0.2 * np.random.default_rng(1).standard_normal(x.size)).astype(np.float32)
    elif kind == "clipped":
        x = np.clip(4 * x, -0.5, 0.5)
    src = tmp_path / f"{kind}.wav"
    sf.write(src, x, rate)
    assert main(["resynth", str(src), "-o", str(tmp_path), "--steps", "20"]) == 0
    y, out_rate = sf.read(tmp_path / f"{kind}.resynth.wav")
    assert out_rate == rate and y.shape == x.shape and np.isfinite(y).all()
    rep = json.loads((tmp_path / f"{kind}.report.json").read_text())
    assert np.isfinite(rep["spectral_distance"])


def test_long_files_are_fitted_in_chunk_groups(tmp_path, capsys):
    src = tmp_path / "long.wav"
    sf.write(src, _tone(1.5), SR)
    argv = ["resynth", str(src), "-o", str(tmp_path), "--steps", "20", "--chunk", "0.5"]
    assert main([*argv, "--group", "2"]) == 0
    assert "chunk group 2/2" in capsys.readouterr().err
    c = Controls.load(tmp_path / "long.controls.npz")
    assert c.f0_hz.shape[0] == 3 and render(c).shape == (24_000,)
