"""Ctrl-C in the long commands: exit 130, one line saying what was saved and how to go on.

Ctrl-C is simulated by a KeyboardInterrupt raised from inside the work after some of it
is done (an optimiser step, or the processing of the second file), never by timing.
Nothing half-written is left behind, and no traceback is shown.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ddsp.cli import main

SR = 16_000


def _tone(seconds: float = 0.6, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    vibrato = 1 + 0.01 * np.sin(2 * np.pi * 4 * t)
    return (0.3 * np.sin(2 * np.pi * hz * t * vibrato)).astype(np.float32)


def _ctrl_c_at_optimizer_step(monkeypatch, n: int) -> list[int]:
    """Raise KeyboardInterrupt in the ``n``-th Adam step (steps 1..n-1 complete)."""
    calls = [0]
    real = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    return calls


def _one_line(err: str, *texts: str) -> str:
    """The interrupt message: the last line, the only one saying "interrupted"."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    said = [line for line in lines if "interrupted" in line]
    assert said == [lines[-1]], err
    assert all(t in lines[-1] for t in texts), lines[-1]
    return lines[-1]


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".part" in p.name]


def test_ctrl_c_in_resynth_writes_nothing_and_says_so(tmp_path, capsys, monkeypatch):
    sf.write(tmp_path / "a.wav", _tone(), SR)
    calls = _ctrl_c_at_optimizer_step(monkeypatch, 3)
    argv = ["resynth", str(tmp_path / "a.wav"), "-o", str(tmp_path / "out"), "--steps", "20"]
    assert main(argv) == 130
    assert calls[0] == 3
    _one_line(capsys.readouterr().err, "nothing was written", "run the command again")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not _temporaries(tmp_path)


def test_ctrl_c_in_match_writes_nothing_and_says_so(tmp_path, capsys, monkeypatch):
    sf.write(tmp_path / "dry.wav", _tone(), SR)
    sf.write(tmp_path / "wet.wav", 0.5 * _tone(), SR)
    calls = _ctrl_c_at_optimizer_step(monkeypatch, 3)
    argv = ["match", str(tmp_path / "dry.wav"), str(tmp_path / "wet.wav"), "--chain", "Gain",
            "-o", str(tmp_path / "fit.toml"), "--steps", "20"]  # fmt: skip
    assert main(argv) == 130
    assert calls[0] == 3
    _one_line(capsys.readouterr().err, "nothing was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dry.wav", "wet.wav"]


def test_ctrl_c_in_process_over_a_folder_reports_the_finished_files(tmp_path, capsys, monkeypatch):
    import ddsp.process

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for name in ("a.wav", "b.wav", "c.wav"):
        sf.write(src / name, _tone(0.2), SR)
    real, calls = ddsp.process.process_file, [0]

    def process_file(s, d, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 2:  # Ctrl-C while b.wav is being written: its temporary file exists
            Path(d).parent.mkdir(parents=True, exist_ok=True)
            with ddsp.io.atomic_path(d) as tmp:
                tmp.write_bytes(b"half")
                raise KeyboardInterrupt
        return real(s, d, *args, **kwargs)

    monkeypatch.setattr(ddsp.process, "process_file", process_file)
    assert main(["process", str(src), str(out), "--chain", "Gain"]) == 130
    _one_line(capsys.readouterr().err, "1 of 3 file(s) finished", str(out), "run the command again")
    assert sorted(p.name for p in out.iterdir()) == ["a.wav"]
    assert sf.info(out / "a.wav").frames == len(_tone(0.2))
    assert not _temporaries(tmp_path)


def test_ctrl_c_in_process_on_one_file_keeps_the_old_output(tmp_path, capsys, monkeypatch):
    import ddsp.process

    sf.write(tmp_path / "a.wav", _tone(0.2), SR)
    sf.write(tmp_path / "out.wav", np.zeros(10, np.float32), SR)
    before = (tmp_path / "out.wav").read_bytes()

    def process_file(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ddsp.process, "process_file", process_file)
    argv = ["process", str(tmp_path / "a.wav"), str(tmp_path / "out.wav"), "--chain", "Gain"]
    assert main(argv) == 130
    _one_line(capsys.readouterr().err, "nothing was written", "out.wav")
    assert (tmp_path / "out.wav").read_bytes() == before


TINY = ["--set", "model.hidden=8", "--set", "model.gru=8", "--set", "model.layers=1",
        "--set", "model.n_harmonics=4", "--set", "model.n_bands=5",
        "--set", "model.reverb_seconds=0.05", "--set", "train.batch_size=2",
        "--set", "train.checkpoint_every=1", "--set", "train.val_every=100",
        "--set", "train.log_every=1"]  # fmt: skip


@pytest.mark.slow
def test_ctrl_c_in_train_says_what_was_saved_and_resume_continues(tmp_path, capsys, monkeypatch):
    sf.write(tmp_path / "tone.wav", _tone(2.0), SR)
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["prepare", str(tmp_path / "tone.wav"), "--out", str(data),
                 "--example-seconds", "0.5"]) == 0  # fmt: skip
    capsys.readouterr()  # the prepare report
    calls = _ctrl_c_at_optimizer_step(monkeypatch, 3)
    argv = ["train", str(data), "--out", str(run), *TINY, "--set", "train.steps=4"]
    assert main(argv) == 130
    assert calls[0] == 3
    line = _one_line(capsys.readouterr().err, "interrupted at step 2", "saved: step 2")
    assert f"ddsp train {data} --out {run} --resume" in line
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "best.pt", "step_00000001.pt", "step_00000002.pt"
    ]  # fmt: skip
    assert not _temporaries(tmp_path)
    monkeypatch.undo()
    assert main(["train", str(data), "--out", str(run), "--resume"]) == 0
    steps = [int(r["step"]) for r in csv.DictReader(open(run / "metrics.csv"))]
    assert steps == [1, 2, 3, 4]
