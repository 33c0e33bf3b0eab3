"""Scripting: Chain over numpy arrays, and the ``ddsp process`` command."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

import ddsp
from ddsp.cli import main as cli
from ddsp.presets import parse_chain_spec as parse_chain


@pytest.fixture()
def wav(tmp_path):
    path = tmp_path / "in.wav"
    audio = (np.random.default_rng(0).standard_normal((22_050, 2)) * 0.1).astype(np.float32)
    sf.write(path, audio, 22_050, subtype="PCM_16")
    return path


def test_chain_runs_on_numpy_with_explicit_layout_and_tail():
    chain = ddsp.Chain(
        [ddsp.Gain(16_000, gain_db=-6.0), ddsp.Delay(16_000, delay_ms=100.0, mix=0.5)]
    )
    stereo = np.random.default_rng(1).standard_normal((2, 1600)).astype(np.float32)
    out = chain(stereo, sample_rate=16_000, tail_seconds=0.25)
    assert isinstance(out, np.ndarray) and out.shape == (2, 1600 + 4000) and out.dtype == np.float32
    want = chain(torch.from_numpy(stereo)[None], tail_seconds=0.25)[0].detach().numpy()
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-7)
    assert chain(np.zeros(800), sample_rate=16_000).shape == (800,)  # mono in, mono out
    with pytest.raises(ValueError, match="sample rate 16000 Hz, got 44100"):
        chain(stereo, sample_rate=44_100)
    with pytest.raises(ValueError, match="sample_rate="):
        chain(stereo)
    with pytest.raises(ValueError, match=r"\(channels, time\)"):
        chain(np.zeros((1, 2, 3)), sample_rate=16_000)


def test_chain_of_identities_is_the_identity():
    x = torch.randn(2, 2, 500)
    chain = ddsp.Chain([ddsp.Gain(8000), ddsp.Distortion(8000, mix=0.0, output_db=0.0)])
    torch.testing.assert_close(chain(x), x)


def test_parse_chain_reads_numbers_options_and_negative_values():
    steps = parse_chain(
        "Compressor(threshold_db=-20, ratio=4) | Biquad(kind=lowpass, cutoff_hz=8e3)"
    )
    assert steps == [
        {"processor": "Compressor", "params": {"threshold_db": -20.0, "ratio": 4.0}},
        {"processor": "Biquad", "options": {"kind": "lowpass"}, "params": {"cutoff_hz": 8000.0}},
    ]


def test_process_a_file_with_a_preset_and_with_a_chain(wav, tmp_path):
    out = tmp_path / "out.wav"
    assert cli(["process", str(wav), str(out), "--preset", "chains/vocal_chain"]) == 0
    info = sf.info(out)
    assert info.samplerate == 22_050 and info.channels == 2 and info.subtype == "PCM_16"
    assert info.frames == 22_050
    out2 = tmp_path / "out2.flac"
    args = [
        "process",
        str(wav),
        str(out2),
        "--chain",
        "Gain(gain_db=-3) | Delay(delay_ms=50)",
        "--tail",
        "0.5",
    ]
    assert cli(args) == 0
    assert sf.info(out2).frames == 22_050 + 11_025


def test_process_a_folder(wav, tmp_path):
    sub = wav.parent / "more"
    sub.mkdir()
    sf.write(sub / "mono.flac", np.zeros(8000, np.float32) + 0.01, 8000)
    out = tmp_path / "out_dir"
    assert cli(["process", str(wav.parent), str(out), "--preset", "chains/slapback"]) == 0
    assert (out / "in.wav").exists() and (out / "more" / "mono.flac").exists()
    assert sf.info(out / "more" / "mono.flac").samplerate == 8000


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "no_such"], "unknown preset"),
        (["--chain", "Fuzz(drive=3)"], "unknown processor 'Fuzz'"),
        (["--chain", "Compressor(ratio=400)"], "ratio in [1, 20]"),
        (["--chain", "Compressor(ratio="], "cannot read"),
        (["--preset", "voices/saw_lead"], "instrument voice"),
    ],
)
def test_bad_requests_exit_non_zero_with_a_message_and_write_nothing(
    wav, tmp_path, capsys, args, message
):
    out = tmp_path / "never.wav"
    assert cli(["process", str(wav), str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_unreadable_empty_and_missing_inputs_fail_cleanly(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"junk")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 8000)
    for src, message in (
        (bad, "cannot read"),
        (empty, "no audio"),
        (tmp_path / "missing.wav", "no such file"),
    ):
        out = tmp_path / "o.wav"
        assert cli(["process", str(src), str(out), "--preset", "chains/slapback"]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
