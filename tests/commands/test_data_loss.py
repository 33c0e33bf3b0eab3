"""Nothing lost: no command overwrites its own input, a run, or leaves a temporary file.

Outputs that resolve to an input -- the same path, a ``../`` spelling of it, a symbolic
link or a hard link to it, a folder onto itself -- are refused before any work, and the
inputs' bytes are unchanged afterwards (hashes). A failed or refused write leaves no
``.part`` file anywhere. New files get the permissions the umask gives, an overwritten
file keeps its mode, and a symbolic link output keeps the link and replaces its target.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import ddsp.io
import ddsp.process
from ddsp.cli import main
from ddsp.errors import OutputError
from tests.commands.test_bad_invocations import _controls

SR = 16_000


def _tone(seconds: float = 0.5, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (links followed), by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".part" in p.name or p.name.startswith(".")]


def _never(what: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} ran although the outputs were refused")

    return fail


@pytest.fixture()
def d(tmp_path) -> Path:
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a.wav", _tone(), SR, subtype="PCM_16")
    sf.write(tmp_path / "in" / "b.wav", _tone(0.4, 330.0), SR, subtype="PCM_16")
    _controls().save(tmp_path / "in" / "c.controls.npz")
    (tmp_path / "sub").mkdir()
    return tmp_path


def _aliases(d: Path, target: Path) -> dict[str, Path]:
    """Paths that are ``target`` under another name: ../ spelling, symlink, hard link."""
    link, hard = d / "sub" / "link.wav", d / "sub" / "hard.wav"
    link.symlink_to(target)
    os.link(target, hard)
    return {
        "same": target,
        "dotdot": d / "sub" / ".." / target.relative_to(d),
        "symlink": link,
        "hardlink": hard,
    }


ALIASES = ["same", "dotdot", "symlink", "hardlink"]


def _refused(d: Path, capsys, argv: list[str], *texts: str) -> None:
    before = _hashes(d)
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(t in err for t in texts), err
    assert _hashes(d) == before, "an input changed"
    assert not _temporaries(d)


# --------------------------------------------------------------------------- outputs onto inputs


@pytest.mark.parametrize("alias", ALIASES)
def test_process_refuses_to_write_over_its_input(d, capsys, alias):
    out = _aliases(d, d / "in" / "a.wav")[alias]
    _refused(d, capsys, ["process", d / "in" / "a.wav", out, "--chain", "Gain"], "refusing")


@pytest.mark.parametrize("spelling", ["same", "dotdot", "symlink"])
def test_process_refuses_a_folder_onto_itself(d, capsys, spelling):
    out = {"same": d / "in", "dotdot": d / "sub" / ".." / "in", "symlink": d / "sub" / "lnk"}
    (d / "sub" / "lnk").symlink_to(d / "in", target_is_directory=True)
    _refused(d, capsys, ["process", d / "in", out[spelling], "--chain", "Gain"], "refusing")


def test_process_refuses_a_folder_whose_output_file_links_to_an_input(d, capsys):
    (d / "out").mkdir()
    (d / "out" / "b.wav").symlink_to(d / "in" / "b.wav")
    _refused(d, capsys, ["process", d / "in", d / "out", "--chain", "Gain"], "refusing", "b.wav")
    assert not (d / "out" / "a.wav").exists()  # refused before any file was processed


@pytest.mark.parametrize("alias", ALIASES)
def test_transfer_refuses_to_write_over_its_input_before_loading_the_model(
    d, capsys, alias, monkeypatch
):
    module = importlib.import_module("ddsp.training.transfer")  # the package exports a function
    monkeypatch.setattr(module, "load_run", _never("loading the model"))
    out = _aliases(d, d / "in" / "a.wav")[alias]
    _refused(d, capsys, ["transfer", d / "run", d / "in" / "a.wav", out], "refusing")


@pytest.mark.parametrize("alias", ALIASES)
def test_render_refuses_to_write_over_its_controls(d, capsys, alias):
    out = _aliases(d, d / "in" / "c.controls.npz")[alias]
    _refused(d, capsys, ["render", d / "in" / "c.controls.npz", out], "refusing")


@pytest.mark.parametrize("alias", ["symlink", "hardlink"])
@pytest.mark.parametrize(
    "output", ["resynth.wav", "controls.npz", "spectrograms.png", "report.json"]
)
def test_resynth_refuses_outputs_that_are_its_input_before_the_fit(
    d, capsys, alias, output, monkeypatch
):
    import ddsp.resynth

    monkeypatch.setattr(ddsp.resynth, "fit", _never("the fit"))
    out = d / "out"
    out.mkdir()
    dst = out / f"a.{output}"
    if alias == "symlink":
        dst.symlink_to(d / "in" / "a.wav")
    else:
        os.link(d / "in" / "a.wav", dst)
    _refused(d, capsys, ["resynth", d / "in" / "a.wav", "-o", out, "--steps", "2"], "refusing")


@pytest.mark.parametrize("which", ["dry", "wet"])
@pytest.mark.parametrize("output", ["toml", "npz", "report.json"])
def test_match_refuses_outputs_that_are_its_inputs_before_the_fit(
    d, capsys, which, output, monkeypatch
):
    import ddsp.match

    monkeypatch.setattr(ddsp.match, "fit_chain", _never("the fit"))
    src = d / "in" / ("a.wav" if which == "dry" else "b.wav")
    (d / "sub" / f"fit.{output}").symlink_to(src)
    argv = ["match", d / "in" / "a.wav", d / "in" / "b.wav", "--chain", "Gain",
            "-o", d / "sub" / "fit.toml"]  # fmt: skip
    _refused(d, capsys, argv, "refusing")


def test_match_refuses_an_output_that_is_not_a_preset(d, capsys):
    argv = ["match", d / "in" / "a.wav", d / "in" / "b.wav", "--chain", "Gain",
            "-o", d / "in" / "a.wav"]  # fmt: skip
    _refused(d, capsys, argv, ".toml")


def test_prepare_refuses_a_folder_that_is_not_a_data_set(d, capsys):
    (d / "in" / "manifest.json").write_text('{"mine": true}')
    _refused(d, capsys, ["prepare", d / "in", "--out", d / "in"], "not a prepared data set")


# --------------------------------------------------------------------------- runs


def _fake_run(run: Path) -> None:
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_00000500.pt").write_bytes(b"old checkpoint")
    (run / "checkpoints" / "best.pt").write_bytes(b"old best")
    (run / "metrics.csv").write_text("step,loss\n500,0.1\n")
    (run / "config.toml").write_text("[train]\nsteps = 500\n")


def test_train_refuses_a_folder_holding_a_run_and_leaves_it_untouched(d, capsys):
    _fake_run(d / "run")
    _refused(d, capsys, ["train", d / "in", "--out", d / "run"], "--resume", "--overwrite")


def test_train_overwrite_refuses_to_delete_files_it_did_not_write(d, capsys):
    _fake_run(d / "run")
    (d / "run" / "notes.txt").write_text("mine")
    _refused(d, capsys, ["train", d / "in", "--out", d / "run", "--overwrite"], "notes.txt")


def test_train_overwrite_deletes_nothing_when_the_data_cannot_be_used(d, capsys):
    _fake_run(d / "run")
    _refused(d, capsys, ["train", d / "in", "--out", d / "run", "--overwrite"], "not a prepared")


def test_overwrite_clears_only_the_run_files(d):
    from ddsp.training.train import prepare_run_folder

    _fake_run(d / "run")
    (d / "run" / "val").mkdir()
    (d / "run" / "val" / "step_00000500.wav").write_bytes(b"x")
    prepare_run_folder(d / "run", resume=False, overwrite=True)
    assert list((d / "run").iterdir()) == []
    assert (d / "in" / "a.wav").exists()


# --------------------------------------------------------------------------- folders, temporaries


def test_an_output_where_a_folder_stands_is_refused_by_every_command(d, capsys, monkeypatch):
    import ddsp.match
    import ddsp.resynth

    monkeypatch.setattr(ddsp.resynth, "fit", _never("the fit"))
    monkeypatch.setattr(ddsp.match, "fit_chain", _never("the fit"))
    (d / "out" / "a.resynth.wav").mkdir(parents=True)
    (d / "dir.wav").mkdir()
    (d / "fit.report.json").mkdir()
    a, c = d / "in" / "a.wav", d / "in" / "c.controls.npz"
    cases = [
        ["process", a, d / "dir.wav", "--chain", "Gain"],
        ["render", c, d / "dir.wav"],
        ["transfer", d / "run", a, d / "dir.wav"],
        ["resynth", a, "-o", d / "out", "--steps", "2"],
        ["match", a, d / "in" / "b.wav", "--chain", "Gain", "-o", d / "fit.toml"],
    ]
    for argv in cases:
        _refused(d, capsys, argv, "folder")


def test_a_failed_write_leaves_no_temporary_file(d, monkeypatch):
    def broken(file, *args, **kwargs):
        Path(file).write_bytes(b"half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(ddsp.io.sf, "write", broken)
    with pytest.raises(OutputError, match="disk full"):
        ddsp.io.write_audio(d / "out.wav", np.zeros((1, 10), np.float32), SR, "PCM_16")
    assert not (d / "out.wav").exists() and not _temporaries(d)


def test_a_failed_command_leaves_no_temporary_file(d, capsys, monkeypatch):
    written = []

    def broken(self, data):  # `ddsp process` writes block by block: the first one fails
        written.append(self.name)
        raise RuntimeError("disk full")

    monkeypatch.setattr(ddsp.process.sf.SoundFile, "write", broken)
    argv = ["process", d / "in" / "a.wav", d / "out.wav", "--chain", "Gain"]
    assert main([str(a) for a in argv]) == 2
    assert "disk full" in capsys.readouterr().err
    assert written and not (d / "out.wav").exists() and not _temporaries(d)


def test_atomic_path_refuses_a_folder_and_leaves_nothing(d):
    (d / "dir.txt").mkdir()
    with pytest.raises(OutputError, match="folder"):
        with ddsp.io.atomic_path(d / "dir.txt") as tmp:
            tmp.write_text("x")
    assert not _temporaries(d)


# --------------------------------------------------------------------------- modes and links


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask, want", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_follow_the_umask(d, capsys, umask, want):
    old = os.umask(umask)
    try:
        argv = ["process", d / "in" / "a.wav", d / "out.wav", "--chain", "Gain"]
        assert main([str(a) for a in argv]) == 0
        ddsp.io.write_audio(d / "direct.flac", np.zeros((1, 10), np.float32), SR, "PCM_16")
        _controls().save(d / "c.npz")
    finally:
        os.umask(old)
    for name in ("out.wav", "direct.flac", "c.npz"):
        assert _mode(d / name) == want, (name, oct(_mode(d / name)))


@pytest.mark.parametrize("mode", [0o640, 0o600, 0o664])
def test_an_overwritten_file_keeps_its_mode(d, capsys, mode):
    out = d / "out.wav"
    sf.write(out, _tone(0.1), SR)
    out.chmod(mode)
    argv = ["process", d / "in" / "a.wav", out, "--chain", "Gain(gain_db=-6)"]
    assert main([str(a) for a in argv]) == 0
    assert _mode(out) == mode and sf.info(out).frames == len(_tone())


def test_a_symlinked_output_keeps_the_link_and_replaces_its_target(d, capsys):
    target = d / "sub" / "target.wav"
    sf.write(target, _tone(0.1), SR)
    target.chmod(0o640)
    link = d / "out.wav"
    link.symlink_to(target)
    argv = ["process", d / "in" / "a.wav", link, "--chain", "Gain(gain_db=-6)"]
    assert main([str(a) for a in argv]) == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert sf.info(target).frames == len(_tone()) and _mode(target) == 0o640
    assert not _temporaries(d)
