"""Scripting: Chain over numpy arrays, and the ``ddsp process`` command."""

from __future__ import annotations

import subprocess
import sys

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


@pytest.mark.parametrize("block", [1000, 4097, 65536])
def test_a_file_streamed_in_blocks_equals_the_chain_on_the_whole_file(tmp_path, block):
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal((2, 20_000)) * 0.2).astype(np.float32)
    sf.write(tmp_path / "in.wav", audio.T, 16_000, subtype="FLOAT")
    spec = (
        "ParametricEQ(peak2_db=6) | Compressor(threshold_db=-20) | Delay(delay_ms=40)"
        " | NoiseReverb(max_seconds=0.3)"
    )
    out = tmp_path / "out.wav"
    argv = ["process", str(tmp_path / "in.wav"), str(out), "--chain", spec, "--tail", "0.5"]
    assert cli([*argv, "--block-size", str(block)]) == 0
    got, rate = sf.read(out, dtype="float32", always_2d=True)
    want = ddsp.presets.load_chain(spec, 16_000)(audio, sample_rate=16_000, tail_seconds=0.5)
    assert rate == 16_000 and got.T.shape == want.shape == (2, 28_000)
    assert float(np.abs(got.T - want).max()) < 1e-5


def test_a_nan_in_a_late_block_writes_nothing(tmp_path):
    audio = np.zeros((50_000, 1), np.float32) + 0.1
    audio[40_000] = np.nan
    sf.write(tmp_path / "in.wav", audio, 16_000, subtype="FLOAT")
    out = tmp_path / "out.wav"
    assert cli(["process", str(tmp_path / "in.wav"), str(out), "--chain", "Gain"]) == 2
    assert not out.exists() and not list(tmp_path.glob(".*part*"))


@pytest.mark.slow
def test_thirty_minutes_of_stereo_48k_stream_in_bounded_memory(tmp_path):
    # 30 min x 48 kHz x 2 channels: one float32 copy is 691 MB; the process must stay far below
    src, dst = tmp_path / "long.wav", tmp_path / "out.wav"
    code = f"""
import resource, sys
import numpy as np, soundfile as sf
rate, block, total = 48_000, 1 << 16, 30 * 60 * 48_000
rng = np.random.default_rng(0)
with sf.SoundFile({str(src)!r}, "w", rate, 2, "PCM_16") as f:
    done = 0
    while done < total:
        n = min(block, total - done)
        f.write((rng.standard_normal((n, 2)) * 0.1).astype(np.float32))
        done += n
import ddsp.process
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ddsp.process.process_file({str(src)!r}, {str(dst)!r}, "Gain(gain_db=-6) | Biquad(kind=lowpass)")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    growth = int(run.stdout.strip().splitlines()[-1])
    copy = 30 * 60 * 48_000 * 2 * 4
    assert growth < copy / 10, f"peak memory grew by {growth / 1e6:.0f} MB"
    assert sf.info(str(dst)).frames == 30 * 60 * 48_000
