"""ddsp match on bad input: clear errors naming what is wrong, inputs untouched, nothing
written; offsets aligned and reported; an unrelated wet file reported as a poor fit."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import soundfile as sf

from ddsp.cli import main

SR = 16_000


def _hits(seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    env = np.exp(-((t * 4) % 1) * 6)
    x = 0.4 * env * rng.standard_normal((channels, t.shape[0]))
    return x.astype(np.float32)


def _write(path, audio, rate=SR):
    sf.write(path, audio.T, rate, subtype="FLOAT")
    return path


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _match(tmp_path, dry, wet, *extra):
    argv = ["match", str(dry), str(wet), "-o", str(tmp_path / "f.toml"), *extra]
    return main(argv)


@pytest.mark.parametrize(
    "make_wet, chain, message",
    [
        (lambda d: _write_rate(d, 22_050), "Gain", "sample rates differ"),
        (lambda d: np.repeat(d, 2, 0), "Gain", "channel counts do not fit"),
        (lambda d: d[:, : d.shape[1] // 3], "Gain", "lengths differ too much"),
        (lambda d: np.zeros_like(d), "Gain", "silent"),
        (lambda d: 0.5 * d, "", "names no processor"),
        (lambda d: 0.5 * d, " | ", "names no processor"),
        (lambda d: 0.5 * d, "Gain | ", "cannot read chain step"),
        (lambda d: 0.5 * d, "NoSuchEffect", "unknown"),
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_touched(
    tmp_path, capsys, make_wet, chain, message
):
    dry = _hits(1.0)
    dry_path = _write(tmp_path / "dry.wav", dry)
    wet = make_wet(dry)
    wet_path = tmp_path / "wet.wav"
    if isinstance(wet, tuple):
        _write(wet_path, *wet)
    else:
        _write(wet_path, wet)
    before = (_digest(dry_path), _digest(wet_path))
    code = _match(tmp_path, dry_path, wet_path, "--chain", chain, "--steps", "1")
    assert code == 2
    assert message in capsys.readouterr().err
    assert (_digest(dry_path), _digest(wet_path)) == before
    assert not (tmp_path / "f.toml").exists() and not (tmp_path / "f.report.json").exists()


def _write_rate(dry, rate):
    return (dry, rate)


@pytest.mark.parametrize(
    "option, value",
    [("--steps", "-1"), ("--lr", "0"), ("--max-offset-ms", "nan"), ("--threads", "0")],
)
def test_options_are_validated(tmp_path, capsys, option, value):
    dry = _write(tmp_path / "dry.wav", _hits(1.0))
    code = _match(tmp_path, dry, dry, "--chain", "Gain", option, value)
    assert code == 2
    assert option in capsys.readouterr().err


def test_an_output_over_an_input_is_refused_before_any_work(tmp_path, capsys):
    dry = _write(tmp_path / "dry.wav", _hits(1.0))
    wet = tmp_path / "wet.toml"  # an odd name, but an input
    sf.write(wet, _hits(1.0).T, SR, format="WAV", subtype="FLOAT")
    code = main(["match", str(dry), str(wet), "--chain", "Gain", "-o", str(wet)])
    assert code == 2 and "refusing to write" in capsys.readouterr().err


def test_an_offset_is_aligned_and_reported(tmp_path, capsys):
    dry = _hits(1.5)
    wet = np.pad(0.5 * dry, ((0, 0), (48, 0)))  # 3 ms late, and 3 ms longer
    dry_path, wet_path = _write(tmp_path / "d.wav", dry), _write(tmp_path / "w.wav", wet)
    assert _match(tmp_path, dry_path, wet_path, "--chain", "Gain", "--steps", "2") == 0
    report = json.loads((tmp_path / "f.report.json").read_text())
    assert report["alignment"]["offset_samples"] == 48
    assert abs(report["processors"][0]["parameters"]["gain_db"]["value"] + 6.02) < 0.3
    assert "late" in capsys.readouterr().err


def test_a_wet_file_that_is_not_made_from_the_dry_one_is_called_a_poor_fit(tmp_path, capsys):
    dry_path = _write(tmp_path / "d.wav", _hits(1.5, seed=0))
    other = _write(tmp_path / "w.wav", _hits(1.5, seed=9)[:, ::-1].copy())
    code = _match(tmp_path, dry_path, other, "--chain", "Compressor | Gain", "--steps", "2")
    assert code == 0
    report = json.loads((tmp_path / "f.report.json").read_text())
    assert report["verdict"] == "poor"
    assert "poor fit" in capsys.readouterr().out
