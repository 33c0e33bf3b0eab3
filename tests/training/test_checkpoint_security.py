"""A checkpoint is data, not code: a crafted pickle never runs, whichever command reads it.

A malicious file's ``__reduce__`` would run ``os.system`` to create a marker file. Placed
as ``best.pt`` (read by ``ddsp transfer`` and ``ddsp resynth --model``) or as the newest
``step_*.pt`` (read by ``ddsp train --resume``), it must be refused with exit status 2 and
a message saying so, and the marker must not exist. Plain data of the wrong structure and
checkpoints of the old format get their own clear messages; a genuine checkpoint loads.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ddsp.cli import main
from ddsp.errors import CheckpointError
from ddsp.training import Autoencoder, load_checkpoint
from ddsp.training.checkpoints import CHECKPOINT_FORMAT, save_checkpoint
from ddsp.training.config import Config

SR = 16_000


class _Payload:
    """Unpickling this calls ``function(*args)``: what a hostile checkpoint would do."""

    def __init__(self, function, *args) -> None:
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _payloads(marker: Path) -> dict[str, _Payload]:
    return {
        "os.system": _Payload(os.system, f"touch {marker}"),
        "subprocess": _Payload(subprocess.check_call, ["touch", str(marker)]),
        "eval": _Payload(eval, f"open({str(marker)!r}, 'w').close()"),
    }


def _tone(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _genuine_state() -> dict:
    """A checkpoint as ``ddsp train`` writes it, for a tiny untrained model."""
    cfg = Config.from_dict(
        {
            "model": {
                "hidden": 8,
                "gru": 8,
                "layers": 1,
                "n_harmonics": 4,
                "n_bands": 5,
                "reverb_seconds": 0.05,
            }
        }
    )
    model = Autoencoder(cfg.model, SR, 250.0)
    stats = {"f0_midi_mean": 57.0, "loudness_db_mean": -30.0, "loudness_db_std": 6.0}
    return {"model": model.state_dict(), "config": cfg.as_dict(), "sample_rate": SR,
            "frame_rate": 250.0, "statistics": stats, "step": 1, "best": 1.0}  # fmt: skip


def _write_evil(path: Path, payload: _Payload, *, legacy: bool = False, nested: bool = False):
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": CHECKPOINT_FORMAT, **_genuine_state()}
    if nested:  # hidden deep inside otherwise plain data
        state["optimizer"] = {"state": {0: {"exp_avg": [torch.zeros(1), payload]}}}
    else:
        state["model"] = payload
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)


@pytest.fixture()
def src(tmp_path) -> Path:
    path = tmp_path / "melody.wav"
    sf.write(path, _tone(), SR)
    return path


def _refused(capsys, argv: list, marker: Path, *texts: str) -> None:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert all(t in err for t in texts), err
    assert not marker.exists(), "the checkpoint ran code"


CASES = [
    (name, legacy, nested)
    for name in ("os.system", "subprocess", "eval")
    for legacy, nested in ((False, False), (True, False), (False, True))
]


@pytest.mark.parametrize("payload, legacy, nested", CASES)
def test_transfer_refuses_a_crafted_best_checkpoint(tmp_path, src, capsys, payload, legacy, nested):
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    _write_evil(run / "checkpoints" / "best.pt", _payloads(marker)[payload], legacy=legacy,
                nested=nested)  # fmt: skip
    out = tmp_path / "out.wav"
    _refused(capsys, ["transfer", run, src, out], marker, "refusing to load checkpoint",
             "not plain data")  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize("payload", ["os.system", "subprocess", "eval"])
def test_resynth_with_a_model_refuses_a_crafted_checkpoint(tmp_path, src, capsys, payload):
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    _write_evil(run / "checkpoints" / "best.pt", _payloads(marker)[payload])
    argv = ["resynth", src, "-o", tmp_path / "rs", "--model", run]
    _refused(capsys, argv, marker, "refusing to load checkpoint")
    assert not (tmp_path / "rs").exists() or not any((tmp_path / "rs").iterdir())


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    sf.write(root / "tone.wav", _tone(1.0), SR)
    assert main(["prepare", str(root / "tone.wav"), "--out", str(root / "data"),
                 "--example-seconds", "0.5"]) == 0  # fmt: skip
    return root / "data"


@pytest.mark.parametrize("payload", ["os.system", "subprocess", "eval"])
def test_train_resume_refuses_a_crafted_newest_checkpoint(tmp_path, data, capsys, payload):
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    state = _genuine_state()
    save_checkpoint(run / "checkpoints" / "step_00000001.pt", state)  # an honest older one
    _write_evil(run / "checkpoints" / "step_00000002.pt", _payloads(marker)[payload])
    (run / "config.toml").write_text(Config.from_dict({"model": state["config"]["model"]})
                                     .to_toml())  # fmt: skip
    capsys.readouterr()
    _refused(capsys, ["train", data, "--out", run, "--resume"], marker,
             "refusing to load checkpoint", "step_00000002.pt")  # fmt: skip


def test_a_genuine_checkpoint_loads_and_plays(tmp_path, src, capsys):
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints" / "best.pt", _genuine_state())
    assert main(["transfer", str(run), str(src), str(tmp_path / "out.wav")]) == 0
    y, rate = sf.read(tmp_path / "out.wav")
    assert rate == SR and np.isfinite(y).all()


BROKEN = [
    ("a list", lambda p: torch.save([1, 2, 3], p), "holds a list"),
    ("no fields", lambda p: torch.save({"format": CHECKPOINT_FORMAT}, p), "lacks"),
    (
        "model is a string",
        lambda p: torch.save({"format": CHECKPOINT_FORMAT, **_genuine_state(), "model": "x"}, p),
        "does not hold a usable model",
    ),
    (
        "model of another size",
        lambda p: torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                **_genuine_state(),
                "config": {"model": {"hidden": 16}, "train": {}},
            },
            p,
        ),
        "does not hold a usable model",
    ),
    (
        "config out of range",
        lambda p: torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                **_genuine_state(),
                "config": {"model": {"hidden": 0}, "train": {}},
            },
            p,
        ),
        "model.hidden",
    ),
    ("old format", lambda p: torch.save(_genuine_state(), p), "no format number"),
    (
        "a future format",
        lambda p: torch.save({**_genuine_state(), "format": CHECKPOINT_FORMAT + 1}, p),
        f"format {CHECKPOINT_FORMAT + 1}",
    ),
    ("garbage", lambda p: p.write_bytes(b"not a checkpoint at all"), "cannot read checkpoint"),
    ("empty", lambda p: p.write_bytes(b""), "cannot read checkpoint"),
]


@pytest.mark.parametrize("what, write, text", BROKEN, ids=[b[0] for b in BROKEN])
def test_plain_data_of_the_wrong_structure_is_refused_clearly(
    tmp_path, src, capsys, what, write, text
):
    best = tmp_path / "run" / "checkpoints" / "best.pt"
    best.parent.mkdir(parents=True)
    write(best)
    assert main(["transfer", str(tmp_path / "run"), str(src), str(tmp_path / "o.wav")]) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err, err
    assert not (tmp_path / "o.wav").exists()


def test_the_old_format_with_pickled_objects_is_refused_without_running_them(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "old.pt"
    torch.save({**_genuine_state(), "python": _payloads(marker)["os.system"]}, path)
    with pytest.raises(CheckpointError, match="not plain data"):
        load_checkpoint(path)
    assert not marker.exists()
