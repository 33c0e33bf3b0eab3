"""prepare / train / transfer: data, loss going down, exact resume, DDP, errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ddsp.cli import main

pytestmark = pytest.mark.slow  # training, DDP, matching: minutes on a busy machine

SR = 16_000
TINY = ["--set", "model.hidden=24", "--set", "model.gru=24", "--set", "model.layers=1",
        "--set", "model.n_harmonics=16", "--set", "model.n_bands=17",
        "--set", "model.reverb_seconds=0.1", "--set", "train.batch_size=2",
        "--set", "train.log_every=1"]  # fmt: skip


def _tone(seconds, hz, rate=SR, vibrato=0.3):
    t = np.arange(int(rate * seconds)) / rate
    inst = hz * 2 ** (vibrato * np.sin(2 * np.pi * 5 * t) / 12)
    phase = 2 * np.pi * np.cumsum(inst) / rate
    env = 0.5 + 0.4 * np.sin(2 * np.pi * 0.5 * t)
    return (env * sum(0.3 / k * np.sin(k * phase) for k in range(1, 6))).astype(np.float32)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    src = root / "audio"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "a.wav", _tone(5.0, 220.0), SR)
    sf.write(src / "sub" / "b.flac", np.stack([_tone(3.0, 330.0, 44_100)] * 2, 1), 44_100)
    sf.write(
        src / "noise.wav", np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1, SR
    )
    sf.write(src / "silent.wav", np.zeros(SR, np.float32), SR)
    (src / "broken.wav").write_bytes(b"RIFF but not really")
    out = root / "data"
    assert main(["prepare", str(src), "--out", str(out), "--example-seconds", "1"]) == 0
    return root, out


def test_prepare_reports_skips_and_statistics_and_reuses_work(data, capsys):
    root, out = data
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["statistics"]["examples"] == 8  # 5 one-second examples + 3
    skipped = {Path(s["file"]).name: s["reason"] for s in manifest["skipped"]}
    assert set(skipped) == {"noise.wav", "silent.wav", "broken.wav"}
    assert "no voiced" in skipped["noise.wav"] and "silent" in skipped["silent.wav"]
    stats = manifest["statistics"]
    assert 200 < stats["f0_hz_min"] < 240 and 300 < stats["f0_hz_max"] < 360
    shards = {p: p.stat().st_mtime_ns for p in (out / "shards").glob("*.npz")}
    assert main(["prepare", str(root / "audio"), "--out", str(out), "--example-seconds", "1"]) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "shards").glob("*.npz")} == shards


def test_prepare_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["prepare", str(tmp_path / "empty"), "--out", str(tmp_path / "d")]) == 2
    assert "no audio files" in capsys.readouterr().err
    sf.write(tmp_path / "s.wav", np.zeros(SR, np.float32), SR)
    assert main(["prepare", str(tmp_path / "s.wav"), "--out", str(tmp_path / "d")]) == 2
    assert "no usable audio" in capsys.readouterr().err


def _losses(run: Path) -> list[float]:
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    return [float(r["loss"]) for r in rows]


def test_a_few_steps_reduce_the_loss(data, tmp_path):
    _, d = data
    run = tmp_path / "run"
    args = ["train", str(d), "--out", str(run), *TINY, "--set", "train.steps=25",
            "--set", "train.lr=0.01", "--set", "train.val_every=25"]  # fmt: skip
    assert main(args) == 0
    losses = _losses(run)
    assert len(losses) == 25 and np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5])
    assert (run / "checkpoints" / "best.pt").exists() and list((run / "val").glob("*.png"))


def test_resume_continues_exactly(data, tmp_path):
    _, d = data
    common = [*TINY, "--set", "train.checkpoint_every=3", "--set", "train.val_every=3"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert main(["train", str(d), "--out", str(full), *common, "--set", "train.steps=6"]) == 0
    assert main(["train", str(d), "--out", str(part), *common, "--set", "train.steps=4"]) == 0
    # interrupted after step 4: the checkpoint is at step 3 (and 4, the last); drop step 4
    (part / "checkpoints" / "step_00000004.pt").unlink()
    assert main(["train", str(d), "--out", str(part), "--resume", *common,
                 "--set", "train.steps=6"]) == 0  # fmt: skip
    assert _losses(part) == _losses(full)
    assert len(list((part / "checkpoints").glob("step_*.pt"))) <= 3


def test_two_process_ddp_keeps_ranks_identical(data, tmp_path):
    _, d = data
    run = tmp_path / "ddp"
    # --standalone: torchrun picks a free port itself (no fixed port to collide on)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "ddsp.cli", "train", str(d), "--out", str(run),
           *TINY, "--set", "train.steps=4", "--set", "train.val_every=4"]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    digests = json.loads((run / "ddp_check.json").read_text())
    assert len(digests) == 2 and digests[0] == digests[1]
    assert len(_losses(run)) == 4


def test_transfer_writes_audio_and_bad_inputs_fail_clearly(data, tmp_path, capsys):
    root, d = data
    run = tmp_path / "run"
    assert main(["train", str(d), "--out", str(run), *TINY, "--set", "train.steps=2"]) == 0
    src = tmp_path / "melody.wav"
    sf.write(src, _tone(1.5, 500.0, 22_050), 22_050)
    out = tmp_path / "out.wav"
    assert main(["transfer", str(run), str(src), str(out)]) == 0
    y, rate = sf.read(out)
    assert rate == SR and y.shape == (24_000,) and np.isfinite(y).all()
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["octaves"] == -1  # 500 Hz toward the training set's ~250 Hz
    assert main(["resynth", str(src), "-o", str(tmp_path / "rs"), "--model", str(run)]) == 0
    assert sf.read(tmp_path / "rs" / "melody.resynth.wav")[0].shape == (24_000,)
    rep = json.loads((tmp_path / "rs" / "melody.report.json").read_text())
    assert np.isfinite(rep["spectral_distance"]) and rep["model"] == str(run)
    capsys.readouterr()
    sf.write(tmp_path / "quiet.wav", np.zeros(SR, np.float32), SR)
    assert main(["transfer", str(run), str(tmp_path / "quiet.wav"), str(out)]) == 2
    assert "silent" in capsys.readouterr().err
    for ck in (run / "checkpoints").glob("*.pt"):
        ck.write_bytes(b"garbage")
    assert main(["transfer", str(run), str(src), str(tmp_path / "x.wav")]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_config_typos_are_errors(data, tmp_path, capsys):
    _, d = data
    assert main(["train", str(d), "--out", str(tmp_path / "r"), "--set", "train.stepz=3"]) == 2
    assert "unknown config key train.stepz" in capsys.readouterr().err
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nhiden = 3\n")
    assert main(["train", str(d), "--out", str(tmp_path / "r"), "--config", str(cfg)]) == 2
    assert "unknown config key model.hiden" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "not a prepared data folder" in capsys.readouterr().err


def test_the_z_encoder_variant_trains_and_transfers(data, tmp_path):
    _, d = data
    run = tmp_path / "z"
    args = ["train", str(d), "--out", str(run), *TINY, "--set", "model.z_dim=4",
            "--set", "model.n_mfcc=8", "--set", "train.steps=3"]  # fmt: skip
    assert main(args) == 0
    src = tmp_path / "m.wav"
    sf.write(src, _tone(1.0, 260.0), SR)
    assert main(["transfer", str(run), str(src), str(tmp_path / "o.wav")]) == 0
    y, rate = sf.read(tmp_path / "o.wav")
    assert rate == SR and y.shape == (SR,) and np.isfinite(y).all()
