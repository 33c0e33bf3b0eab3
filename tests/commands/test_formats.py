"""Formats said before the work: suffixes and subtypes, channel counts per file, clipping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ddsp.cli import main
from ddsp.modules.chain import Chain
from tests.commands.test_bad_invocations import _controls

SR = 16_000


def _noise(channels: int, seconds: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(channels)
    return (0.1 * rng.standard_normal((int(SR * seconds), channels))).astype(np.float32)


def _never(*args, **kwargs):
    raise AssertionError("audio was processed although the output format was refused")


@pytest.mark.parametrize(
    "name, subtype, texts",
    [
        ("out.mp3", None, ["'.mp3'", ".wav, .flac"]),
        ("out", None, ["'(none)'"]),
        ("out.WAVE", None, ["'.wave'"]),
        ("out.flac", "FLOAT", ["FLAC", "FLOAT", "--subtype", "PCM_24"]),
        ("out.ogg", "PCM_16", ["OGG", "PCM_16", "--subtype", "VORBIS"]),
        ("out.wav", "PCM_17", ["PCM_17", "--subtype"]),
    ],
)
def test_an_output_format_that_cannot_be_written_is_refused_before_processing(
    tmp_path, capsys, monkeypatch, name, subtype, texts
):
    sf.write(tmp_path / "in.wav", _noise(1), SR)
    monkeypatch.setattr(Chain, "forward", _never)
    argv = ["process", str(tmp_path / "in.wav"), str(tmp_path / name), "--chain", "Gain"]
    assert main(argv + (["--subtype", subtype] if subtype else [])) == 2
    err = capsys.readouterr().err
    assert all(t in err for t in texts), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_a_folder_with_a_subtype_its_format_cannot_hold_is_refused_before_any_file(
    tmp_path, capsys, monkeypatch
):
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a.wav", _noise(1), SR)
    sf.write(tmp_path / "in" / "b.flac", _noise(1), SR)
    monkeypatch.setattr(Chain, "forward", _never)
    argv = ["process", str(tmp_path / "in"), str(tmp_path / "out"), "--chain", "Gain"]
    assert main([*argv, "--subtype", "FLOAT"]) == 2
    err = capsys.readouterr().err
    assert "b.flac" in err and "FLOAT" in err and "--subtype" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("effect", ["Panner", "StereoWidth", "PingPongDelay", "FDNReverb",
                                    "Freeverb"])  # fmt: skip
def test_a_folder_goes_on_past_a_file_with_too_many_channels(tmp_path, capsys, effect):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    channels = {"mono.wav": 1, "quad.wav": 4, "z_stereo.wav": 2}
    if effect == "StereoWidth":
        channels = {"a.wav": 2, "quad.wav": 4, "z_stereo.wav": 2}
    for name, n in channels.items():
        sf.write(src / name, _noise(n), SR)
    assert main(["process", str(src), str(out), "--chain", effect]) == 2
    err = capsys.readouterr().err
    assert f"quad.wav: {effect} (chain step 1): expected" in err and "got 4 channel" in err
    assert "processed 2 of 3 file(s)" in err and "1 of 3 file(s) failed" in err
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(n for n in channels if n != "quad.wav")
    assert "Traceback" not in err


def test_a_file_with_too_many_channels_is_one_message(tmp_path, capsys):
    sf.write(tmp_path / "quad.wav", _noise(4), SR)
    argv = ["process", str(tmp_path / "quad.wav"), str(tmp_path / "o.wav"), "--chain", "Freeverb"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Freeverb" in err and "got 4 channel" in err
    assert not (tmp_path / "o.wav").exists()


def _controls_file(tmp_path: Path) -> Path:
    path = tmp_path / "c.controls.npz"
    _controls().save(path)
    return path


def test_render_warns_when_the_output_clips(tmp_path, capsys):
    controls = _controls_file(tmp_path)
    out = tmp_path / "loud.wav"
    assert main(["render", str(controls), str(out), "--harmonic-gain", "24"]) == 0
    err = capsys.readouterr().err
    assert "warning: loud.wav peaks at +" in err and "will clip" in err
    assert "--harmonic-gain" in err
    assert sf.info(out).frames == 3200


def test_render_does_not_warn_when_the_output_fits(tmp_path, capsys):
    controls = _controls_file(tmp_path)
    assert main(["render", str(controls), str(tmp_path / "quiet.wav")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_process_warns_when_the_output_clips(tmp_path, capsys):
    sf.write(tmp_path / "in.wav", _noise(1), SR, subtype="PCM_16")
    argv = ["process", str(tmp_path / "in.wav"), str(tmp_path / "o.wav"), "--chain",
            "Gain(gain_db=24)"]  # fmt: skip
    assert main(argv) == 0
    assert "will clip in PCM_16" in capsys.readouterr().err
