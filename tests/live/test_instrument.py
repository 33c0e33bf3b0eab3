"""Instruments: files (float16, plain data), the shipped violin, runs to plugins, and the
commands that play them (``ddsp transfer --stream``, ``ddsp export RUN``)."""

from __future__ import annotations

import io
import lzma
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ddsp.cli import main
from ddsp.errors import CheckpointError
from ddsp.live import INSTRUMENTS, load_instrument, save_instrument
from ddsp.live.instrument import INSTRUMENT_FILE, _from_bytes
from ddsp.training.checkpoints import save_checkpoint
from tests.live.test_pipeline import SR, melody, play, tiny


def _run_folder(root: Path, rate: int = SR) -> Path:
    inst = tiny(rate=rate)
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    save_checkpoint(run / "checkpoints" / "best.pt", {
        "model": inst.model.state_dict(),
        "config": {"model": inst.model.config.as_dict()},
        "sample_rate": rate, "frame_rate": 250.0, "step": 1,
        "statistics": {"f0_midi_mean": 60.0, "loudness_db_mean": -30.0, "loudness_db_std": 6.0},
    })  # fmt: skip
    return run


def test_an_instrument_file_is_float16_plain_data_and_plays_like_the_model(tmp_path):
    inst = tiny()
    path = save_instrument(
        inst.model, {"sample_rate": SR, "frame_rate": 250.0}, tmp_path / "i.pt.xz"
    )
    data = torch.load(io.BytesIO(lzma.decompress(path.read_bytes())), weights_only=True)
    assert {v.dtype for v in data["model"].values()} == {torch.float16}
    again = _from_bytes(path.read_bytes(), str(path), "again")
    x = melody(0.5)
    a, b = play(inst.pipeline(), x, [512]), play(again.pipeline(), x, [512])
    assert float((a - b).abs().max()) < 2e-2 * max(float(a.abs().max()), 1e-3)


@pytest.mark.parametrize(
    "damage", [b"", b"not a torch file", b"\x80\x04K\x01.", b"\xfd7zXZ\x00 cut short"]
)
def test_a_damaged_instrument_file_is_a_clear_error(damage):
    with pytest.raises(CheckpointError, match="instrument"):
        _from_bytes(damage, "the instrument file x.pt", "x")


def test_the_shipped_violin_is_small_and_documented():
    folder = resources.files("ddsp.instruments").joinpath("violin")
    size = len(folder.joinpath(INSTRUMENT_FILE).read_bytes())
    assert size <= 2 * 1024 * 1024  # small enough to ship in the repository
    for name in ("README.md", "config.toml", "train_command.sh", "val_loss.csv", "val_loss.png"):
        assert folder.joinpath(name).is_file(), name
    violin = load_instrument("violin")
    assert "violin" in INSTRUMENTS and violin.model.config.z_dim == 0
    assert violin.sample_rate == 16_000


def test_the_violin_plays_a_melody_at_48k():
    violin = load_instrument("violin")
    pipe = violin.pipeline(sample_rate=48_000)
    y = play(pipe, melody(0.6, rate=48_000, start=3000), [512])
    assert bool(torch.isfinite(y).all()) and float(y.abs().max()) > 1e-3


def test_transfer_stream_renders_through_the_live_pipeline(tmp_path, capsys):
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    x = melody(0.8)[0].numpy()
    sf.write(src, np.stack([x[0], x[0]], 1), SR)  # stereo: mixed down, said once
    run = _run_folder(tmp_path)
    assert main(["transfer", str(run), str(src), str(out), "--stream", "--block-size", "256"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("playing their mix") == 1
    assert '"stream": true' in captured.out
    y, rate = sf.read(out)
    assert rate == SR and len(y) == x.shape[-1] and np.isfinite(y).all()


def test_export_of_a_run_folder_declares_the_pipelines_latency(tmp_path, capsys):
    run = _run_folder(tmp_path)
    out = tmp_path / "live.ts"
    assert main(["export", str(run), "-o", str(out), "--sample-rate", "16000"]) == 0
    text = capsys.readouterr().out
    hop, latency = 64, tiny().pipeline().latency
    assert f"latency {latency} samples" in text and latency > hop
    model = torch.jit.load(str(out))
    y = model.forward(torch.zeros(1, 1, 512))
    assert y.shape == (1, 1, 512) and float(y.abs().max()) == 0.0  # silence stays silent


def test_a_rate_below_the_models_is_refused_by_export(tmp_path, capsys):
    run = _run_folder(tmp_path)
    assert main(["export", str(run), "-o", str(tmp_path / "x.ts"), "--sample-rate", "8000"]) == 2
    assert "trained at 16000 Hz" in capsys.readouterr().err
