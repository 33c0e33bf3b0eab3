"""Bad invocations of every command, table-driven: exit status 2, one message naming the option.

Each case is an argument list (``{d}`` is a folder of small inputs shared by the module)
and the texts its message must hold: the option, and for numbers the expected range.
Every case fails before any heavy work (no fit, no training) and writes nothing: the
folder's listing is the same afterwards. Cases that need a trained run are at the end,
marked slow (one tiny run per module).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ddsp.cli import main
from ddsp.resynth import Controls
from ddsp.training.config import MODEL_RANGES, TRAIN_RANGES, Config

SR = 16_000


def _tone(seconds: float = 0.5, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _controls(frames: int = 51, n_samples: int = 3200) -> Controls:
    rng = np.random.default_rng(0)
    dist = rng.random((1, frames, 8)).astype(np.float32)
    return Controls(
        f0_hz=np.full((1, frames), 220.0, np.float32),
        amplitude=np.full((1, frames), 0.2, np.float32),
        distribution=dist / dist.sum(-1, keepdims=True),
        noise=np.full((1, frames, 9), 0.01, np.float32),
        rt60_s=0.5,
        high_rt60_ratio=0.5,
        reverb_mix=0.2,
        sample_rate=float(SR),
        frame_rate=250.0,
        n_samples=n_samples,
        total_samples=n_samples,
    )


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad")
    sf.write(root / "mono.wav", _tone(), SR, subtype="PCM_16")
    sf.write(root / "stereo.wav", np.stack([_tone(), _tone()], 1), SR, subtype="PCM_16")
    sf.write(root / "mono.flac", _tone(), SR)
    _controls().save(root / "c.controls.npz")
    bad = _controls()
    bad.f0_hz[0, 3] = np.nan
    np.savez(root / "nan.controls.npz", **vars(bad))
    (root / "empty").mkdir()
    (root / "busy").mkdir()
    (root / "busy" / "notes.txt").write_text("mine")
    (root / "run_empty").mkdir()
    (root / "bad.toml").write_text("[train\nsteps = 3\n")
    (root / "bool_steps.toml").write_text("[train]\nsteps = true\n")
    (root / "float_steps.toml").write_text("[train]\nsteps = 7.9\n")
    (root / "bad_table.toml").write_text("[trian]\nsteps = 3\n")
    (root / "preset_bool_rate.toml").write_text(
        'format = 2\nsample_rate = true\nprocessor = "Gain"\n'
    )
    (root / "preset_bool_gain.toml").write_text(
        'format = 2\nsample_rate = 16000\nprocessor = "Gain"\nparams = { gain_db = true }\n'
    )
    (root / "preset_nan_option.toml").write_text(
        'format = 2\nsample_rate = 16000\nprocessor = "NoiseReverb"\n'
        "options = { max_seconds = nan }\n"
    )
    return root


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _check(d: Path, capsys, argv: list[str], texts: list[str]) -> None:
    before = _listing(d)
    args = [a.format(d=d) for a in argv]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, (args, err)
    assert "Traceback" not in err, err
    for text in texts:
        assert text in err, (args, text, err)
    assert _listing(d) == before, f"{args} wrote files"


def _numbers(base: list[str], option: str, span: str, bad: list[str]) -> list:
    # option=value: argparse would take "-inf" after a space for an option of its own
    return [(base + [f"{option}={v}"], [option, span]) for v in bad]


# tables: (argument list, texts the message must hold)
NUMBER = ["nan", "inf", "-inf", "x", ""]  # never valid for a number
MONO, OUT = "{d}/mono.wav", "{d}/out.wav"

PROCESS = [
    *_numbers(
        ["process", MONO, OUT, "--chain", "Gain"],
        "--tail",
        "[0, 3600] s",
        [*NUMBER, "-1", "3601", "1e9"],
    ),
    (["process", MONO, OUT, "--chain", "Gain", "--preset", "chains/hall"], ["--preset", "--chain"]),
    (["process", MONO, OUT], ["--preset", "--chain"]),
    (["process", MONO], ["output"]),
    (["process", "{d}/missing.wav", OUT, "--chain", "Gain"], ["no such file", "missing.wav"]),
    (["process", MONO, MONO, "--chain", "Gain"], ["refusing", "mono.wav"]),
    (["process", MONO, "{d}/out.mp3", "--chain", "Gain"], ["'.mp3'", "out.mp3"]),
    (["process", MONO, "{d}/out", "--chain", "Gain"], ["'(none)'"]),
    (["process", MONO, "{d}/empty", "--chain", "Gain"], ["folder", "empty"]),
    (
        ["process", "{d}/mono.flac", "{d}/o.flac", "--chain", "Gain", "--subtype", "FLOAT"],
        ["--subtype", "FLAC", "FLOAT", "PCM_24"],
    ),
    (["process", MONO, OUT, "--chain", "Gain", "--subtype", "NOPE"], ["--subtype", "NOPE"]),
    (["process", "{d}/empty", "{d}/o", "--chain", "Gain"], ["no audio files"]),
    (["process", "{d}", "{d}", "--chain", "Gain"], ["refusing", "input folder"]),
    (["process", "{d}", MONO, "--chain", "Gain"], ["is a file", "output folder"]),
    (["process", MONO, OUT, "--preset", "no_such"], ["unknown preset", "no_such"]),
    (["process", MONO, OUT, "--preset", "{d}/preset_bool_rate.toml"], ["sample_rate", "True"]),
    (["process", MONO, OUT, "--preset", "{d}/preset_bool_gain.toml"], ["gain_db", "True"]),
    (
        ["process", MONO, OUT, "--preset", "{d}/preset_nan_option.toml"],
        ["max_seconds", "(0, 60]", "nan"],
    ),
    (["process", MONO, OUT, "--chain", "Gain(gain_db=nan)"], ["gain_db", "nan"]),
    (["process", MONO, OUT, "--chain", "Gain(gain_db=inf)"], ["gain_db", "inf"]),
    (["process", MONO, OUT, "--chain", "Gain(gain_db=True)"], ["gain_db", "True"]),
    (["process", MONO, OUT, "--chain", "Gain(gain_db=25)"], ["gain_db", "[-60, 24]", "25"]),
    (["process", MONO, OUT, "--chain", "SVF(resonance=1)"], ["resonance", "[0, 0.99]"]),
    (["process", MONO, OUT, "--chain", "Phaser(stages=0)"], ["stages", "[1, 12]", "0"]),
    (["process", MONO, OUT, "--chain", "Phaser(stages=2.5)"], ["stages", "[1, 12]", "2.5"]),
    (["process", MONO, OUT, "--chain", "Phaser(stages=true)"], ["stages", "[1, 12]", "True"]),
    (["process", MONO, OUT, "--chain", "FDNReverb(n_lines=3)"], ["n_lines", "[4, 16]"]),
    (["process", MONO, OUT, "--chain", "FDNReverb(min_delay_ms=0)"], ["min_delay_ms", "(0, "]),
    (["process", MONO, OUT, "--chain", "FDNReverb(seed=-1)"], ["seed", "[0, "]),
    (["process", MONO, OUT, "--chain", "NoiseReverb(max_seconds=inf)"], ["max_seconds", "(0, 60]"]),
    (["process", MONO, OUT, "--chain", "NoiseReverb(seed=1.5)"], ["seed", "1.5"]),
    (
        ["process", MONO, OUT, "--chain", "ConvolutionReverb(ir_seconds=0)"],
        ["ir_seconds", "(0, 60]"],
    ),
    (
        ["process", MONO, OUT, "--chain", "Compressor(link_channels=no)"],
        ["link_channels", "true or false", "'no'"],
    ),
    (["process", MONO, OUT, "--chain", "Compressor(detector=fast)"], ["detector", "'fast'"]),
    (["process", MONO, OUT, "--chain", "Biquad(kind=lopass)"], ["kind", "'lopass'"]),
    (["process", MONO, OUT, "--chain", "Gain(gian_db=3)"], ["gian_db", "gain_db"]),
    (["process", MONO, OUT, "--chain", "Gain(gain_db=-6, gain_db=3)"], ["gain_db", "twice"]),
    (
        ["process", MONO, OUT, "--chain", "Compressor(detector=rms, detector=peak)"],
        ["detector", "twice"],
    ),
    (["process", MONO, OUT, "--chain", "Gain(gain_db=1e400)"], ["gain_db", "inf"]),
    (["process", MONO, OUT, "--chain", "Gain(-6)"], ["key=value"]),
    (["process", MONO, OUT, "--chain", "Gain", "--subtype="], ["--subtype", "''"]),
    (["process", MONO, OUT, "--chain", "Oscillator"], ["Oscillator", "source"]),
    (["process", MONO, OUT, "--chain", "Gain |"], ["chain step"]),
    (["process", MONO, OUT, "--chain", "Fuzz(drive=3)"], ["unknown processor 'Fuzz'"]),
]

FIT = ["{d}/mono.wav", "-o", "{d}/rs"]
RESYNTH = [
    *_numbers(["resynth", *FIT], "--seconds", "(0, 86400] s", [*NUMBER, "0", "-1", "86401"]),
    *_numbers(
        ["resynth", *FIT], "--steps", "[1, 1e+07]", [*NUMBER, "0", "-5", "7.9", "true", "10000001"]
    ),
    *_numbers(
        ["resynth", *FIT], "--rate", "[8000, 192000] Hz", [*NUMBER, "7999", "192001", "22050.5"]
    ),
    *_numbers(["resynth", *FIT], "--chunk", "[0.25, 3600] s", [*NUMBER, "0", "0.001", "3601"]),
    *_numbers(["resynth", *FIT], "--group", "[1, 1024]", [*NUMBER, "0", "1025", "1.5"]),
    *_numbers(["resynth", *FIT], "--threads", "[1, 1024]", [*NUMBER, "0", "-1", "2.5"]),
    (["resynth", *FIT, "--model", "{d}/run_empty", "--steps", "3"], ["--model", "--steps"]),
    (["resynth", *FIT, "--model", "{d}/run_empty", "--seconds", "3"], ["--model", "--seconds"]),
    (["resynth", *FIT, "--model", "{d}/run_empty", "--rate", "16000"], ["--model", "--rate"]),
    (["resynth", *FIT, "--model", "{d}/run_empty", "--chunk", "4"], ["--model", "--chunk"]),
    (["resynth", *FIT, "--model", "{d}/run_empty", "--group", "2"], ["--model", "--group"]),
    (["resynth", *FIT, "--model", "{d}/run_empty"], ["no checkpoint", "run_empty"]),
    (["resynth", *FIT, "--model", "{d}/no_run"], ["not a run folder", "no_run"]),
    (["resynth", "{d}/missing.wav", "-o", "{d}/rs"], ["no such file", "missing.wav"]),
    (["resynth", "{d}/empty", "-o", "{d}/rs"], ["no such file", "empty"]),
    (["resynth", MONO, "-o", MONO, "--steps", "1"], ["--out", "mono.wav", "not a folder"]),
    (["resynth", MONO, "-o", "{d}/mono.wav/sub", "--steps", "1"], ["mono.wav", "not a folder"]),
]

CONTROLS = "{d}/c.controls.npz"
RENDER = [
    *_numbers(
        ["render", CONTROLS, OUT], "--pitch-shift", "[-48, 48] semitones", [*NUMBER, "49", "-48.5"]
    ),
    *_numbers(
        ["render", CONTROLS, OUT],
        "--time-stretch",
        "[0.05, 20] x",
        [*NUMBER, "0", "1e-9", "-1", "21"],
    ),
    *_numbers(
        ["render", CONTROLS, OUT], "--harmonic-gain", "[-120, 24] dB", [*NUMBER, "25", "-121"]
    ),
    *_numbers(["render", CONTROLS, OUT], "--noise-gain", "[-120, 24] dB", [*NUMBER, "25", "-121"]),
    (["render", CONTROLS], ["output"]),
    (["render", "{d}/missing.npz", OUT], ["no such file", "missing.npz"]),
    (["render", MONO, OUT], ["cannot read controls", "mono.wav"]),
    (["render", "{d}/nan.controls.npz", OUT], ["f0_hz", "finite"]),
    (["render", CONTROLS, CONTROLS], ["refusing", "c.controls.npz"]),
    (["render", CONTROLS, "{d}/out.mp3"], ["'.mp3'"]),
    (["render", CONTROLS, "{d}/out"], ["'(none)'"]),
    (["render", CONTROLS, "{d}/empty"], ["folder", "empty"]),
]

PAIR = ["{d}/mono.wav", "{d}/stereo.wav", "--chain", "Gain", "-o", "{d}/fit.toml"]
MATCH = [
    *_numbers(["match", *PAIR], "--seconds", "(0, 86400] s", [*NUMBER, "0", "-1", "86401"]),
    *_numbers(["match", *PAIR], "--steps", "[0, 1e+07]", [*NUMBER, "-1", "-5", "7.9", "true"]),
    *_numbers(["match", *PAIR], "--lr", "(0, 10]", [*NUMBER, "0", "-1", "11"]),
    (["match", *PAIR, "--loss", "l3"], ["--loss", "'l3'"]),
    (["match", "{d}/mono.wav", "{d}/stereo.wav", "--chain", "Gain"], ["-o/--out"]),
    (["match", "{d}/mono.wav", "{d}/stereo.wav", "-o", "{d}/fit.toml"], ["--chain"]),
    (
        ["match", "{d}/mono.wav", "{d}/stereo.wav", "--chain", "Gain", "-o", "{d}/mono.wav"],
        ["-o/--out", ".toml"],
    ),
    (
        ["match", "{d}/mono.wav", "{d}/stereo.wav", "--chain", "Gain", "-o", "{d}/fit.json"],
        ["-o/--out", ".toml"],
    ),
    (
        ["match", "{d}/missing.wav", "{d}/stereo.wav", "--chain", "Gain", "-o", "{d}/f.toml"],
        ["no such file", "missing.wav"],
    ),
    (
        [
            "match",
            "{d}/mono.wav",
            "{d}/stereo.wav",
            "--chain",
            "Gain(gain_db=nan)",
            "-o",
            "{d}/f.toml",
        ],
        ["gain_db"],
    ),
    (
        ["match", "{d}/mono.wav", "{d}/stereo.wav", "--chain", "Fuzz", "-o", "{d}/f.toml"],
        ["unknown preset 'Fuzz'"],
    ),
]

PREP = ["prepare", MONO, "--out", "{d}/data"]
PREPARE = [
    *_numbers(PREP, "--example-seconds", "[0.25, 60] s", [*NUMBER, "0", "-1", "0.2", "61"]),
    *_numbers(PREP, "--hop-seconds", "[0.05, 60] s", [*NUMBER, "0", "-1", "61"]),
    *[(PREP + ["--sample-rate", v], ["--sample-rate"]) for v in ("1000", "16000.5", "nan", "")],
    (PREP + ["--example-seconds", "0.251"], ["--example-seconds", "whole number of frames"]),
    (["prepare", MONO], ["--out"]),
    (["prepare", "--out", "{d}/data"], ["inputs"]),
    (["prepare", MONO, "--out", MONO], ["--out", "mono.wav", "not a folder"]),
    (["prepare", MONO, "--out", "{d}/busy"], ["--out", "busy", "not a prepared data set"]),
    (["prepare", "{d}/missing.wav", "--out", "{d}/data"], ["missing.wav", "no audio files"]),
    (["prepare", "{d}/empty", "--out", "{d}/data"], ["no audio files"]),
]


def _config_cases() -> list:
    """Every numeric key of the training config, with values out of range or of the wrong
    kind, through --set (and a few through --config)."""
    cases = []
    defaults = Config().as_dict()
    for table, ranges in (("model", MODEL_RANGES), ("train", TRAIN_RANGES)):
        for key, (low, high, open_low) in ranges.items():
            name = f"{table}.{key}"
            span = f"{'(' if open_low else '['}{low:g}, {'inf' if high is None else f'{high:g}'}]"
            whole = isinstance(defaults[table][key], int)
            bad = ["nan", "inf", "-inf", "true", '"3"']
            bad.append(f"{low - 1:g}" if whole else f"{low - 0.5:g}")
            if open_low:
                bad.append(f"{low:g}")
            if high is not None:
                bad.append(f"{high + 1:g}")
            if whole:
                bad.append(f"{low + 0.5:g}")
            for v in bad:
                cases.append((["--set", f"{name}={v}"], [name, span]))
    return cases


TRAIN_BASE = ["train", "{d}/empty", "--out", "{d}/run"]
TRAIN = [
    *[(TRAIN_BASE + args, texts) for args, texts in _config_cases()],
    *_numbers(TRAIN_BASE, "--threads", "[1, 1024]", [*NUMBER, "0", "1.5"]),
    (TRAIN_BASE + ["--set", "train.stepz=3"], ["train.stepz", "unknown config key"]),
    (TRAIN_BASE + ["--set", "trian.steps=3"], ["[trian]", "unknown config table"]),
    (TRAIN_BASE + ["--set", "steps=3"], ["--set", "table.key=value"]),
    (TRAIN_BASE + ["--set", "train.steps"], ["--set", "table.key=value"]),
    (TRAIN_BASE + ["--set", "train.device=tpu"], ["train.device", "'tpu'"]),
    (TRAIN_BASE + ["--set", "train.device=3"], ["train.device", "3"]),
    (TRAIN_BASE + ["--set", "train.seed=2147483648"], ["train.seed", "2.14748e+09"]),
    (TRAIN_BASE + ["--config", "{d}/missing.toml"], ["config", "missing.toml"]),
    (TRAIN_BASE + ["--config", "{d}/bad.toml"], ["config", "bad.toml"]),
    (TRAIN_BASE + ["--config", "{d}/bool_steps.toml"], ["train.steps", "[1, inf]", "True"]),
    (TRAIN_BASE + ["--config", "{d}/float_steps.toml"], ["train.steps", "[1, inf]", "7.9"]),
    (TRAIN_BASE + ["--config", "{d}/bad_table.toml"], ["[trian]"]),
    (TRAIN_BASE + ["--resume", "--overwrite"], ["--resume", "--overwrite"]),
    (TRAIN_BASE, ["empty", "not a prepared data folder"]),
    (["train", "{d}/missing", "--out", "{d}/run"], ["missing", "not a prepared data folder"]),
    (["train", "{d}/empty", "--out", MONO], ["--out", "mono.wav", "not a run folder"]),
    (["train", "{d}/empty", "--out", "{d}/busy"], ["busy", "--resume", "--overwrite"]),
    (["train", "{d}/empty", "--out", "{d}/busy", "--overwrite"], ["notes.txt", "refusing"]),
    (["train", "{d}/empty", "--out", "{d}/run_empty", "--resume"], ["--resume", "checkpoint"]),
    (["train", "{d}/empty"], ["--out"]),
]
if not torch.cuda.is_available():
    TRAIN.append((TRAIN_BASE + ["--set", "train.device=cuda"], ["train.device", "no CUDA GPU"]))

TRANSFER = [
    *_numbers(
        ["transfer", "{d}/run_empty", MONO, OUT],
        "--octaves",
        "[-4, 4]",
        [*NUMBER, "5", "-5", "1.5"],
    ),
    *_numbers(
        ["transfer", "{d}/run_empty", MONO, OUT],
        "--loudness-shift",
        "[-60, 60] dB",
        [*NUMBER, "61", "-61"],
    ),
    (["transfer", "{d}/run_empty", MONO], ["output"]),
    (["transfer", "{d}/no_run", MONO, OUT], ["no_run", "not a run folder"]),
    (["transfer", "{d}/run_empty", MONO, OUT], ["run_empty", "no checkpoint"]),
    (["transfer", "{d}/run_empty", "{d}/missing.wav", OUT], ["no such file", "missing.wav"]),
    (["transfer", "{d}/run_empty", MONO, MONO], ["refusing", "mono.wav"]),
    (["transfer", "{d}/run_empty", MONO, "{d}/out.mp3"], ["'.mp3'"]),
    (["transfer", "{d}/run_empty", MONO, "{d}/empty"], ["folder", "empty"]),
]

EXPORT_OUT = ["-o", "{d}/x.ts"]
EXPORT = [
    *_numbers(
        ["export", "--chain", "Gain", *EXPORT_OUT],
        "--block-size",
        "[16, 65536]",
        [*NUMBER, "0", "15", "2.5", "65537"],
    ),
    *_numbers(
        ["export", "--chain", "Gain", *EXPORT_OUT],
        "--sample-rate",
        "[1000, 768000] Hz",
        [*NUMBER, "0", "-48000", "999"],
    ),
    (["export", "--chain", "Gain"], ["--output"]),
    (["export", *EXPORT_OUT], ["SOURCE", "--chain"]),
    (["export", "vocal_chain", "--chain", "Gain", *EXPORT_OUT], ["SOURCE", "--chain"]),
    (["export", "--chain", "Gain", "-o", "{d}/x.wav"], ["x.wav", ".nm", "--format"]),
    (["export", "--chain", "Gain", *EXPORT_OUT, "--format", "vst"], ["--format", "neutone"]),
    (["export", "--chain", "Gain", *EXPORT_OUT, "--channels", "3"], ["--channels"]),
    (["export", "--chain", "Nope", *EXPORT_OUT], ["Nope"]),
    (["export", "--chain", "Gain", *EXPORT_OUT, "--knob", "Gain.nope"], ["nope", "gain_db"]),
    (["export", "--chain", "Gain | Gain", *EXPORT_OUT, "--knob", "Gain.gain_db"], ["Gain", "0"]),
    (
        ["export", "--chain", "Gain", *EXPORT_OUT] + ["--knob", "0.gain_db"] * 5,
        ["at most 4 knobs"],
    ),
    (
        ["export", "--chain", "Gain", *EXPORT_OUT, "--sample-rate", "44100"]
        + ["--sample-rate", "48000"],
        ["--sample-rate", "one sample rate"],
    ),
    (["export", "{d}/mono.wav", *EXPORT_OUT], ["mono.wav", "preset", "instrument"]),
    (["export", "no_such_preset", *EXPORT_OUT], ["no_such_preset"]),
    (["export", "{d}/empty", *EXPORT_OUT], ["empty"]),
    (["export", "--chain", "Gain", "-o", "{d}/busy"], ["busy"]),
]

TABLES = {
    "export": EXPORT,
    "process": PROCESS,
    "resynth": RESYNTH,
    "render": RENDER,
    "match": MATCH,
    "prepare": PREPARE,
    "train": TRAIN,
    "transfer": TRANSFER,
}


def _ids(table: list) -> list[str]:
    return [" ".join(argv[3:] if len(argv) > 3 else argv)[:80] for argv, _ in table]


@pytest.mark.parametrize("argv, texts", PROCESS, ids=_ids(PROCESS))
def test_process(d, capsys, argv, texts):
    _check(d, capsys, argv, texts)


@pytest.mark.parametrize("argv, texts", RESYNTH, ids=_ids(RESYNTH))
def test_resynth(d, capsys, argv, texts, monkeypatch):
    import ddsp.resynth

    monkeypatch.setattr(ddsp.resynth, "fit", _never("the fit"))
    _check(d, capsys, argv, texts)


@pytest.mark.parametrize("argv, texts", RENDER, ids=_ids(RENDER))
def test_render(d, capsys, argv, texts):
    _check(d, capsys, argv, texts)


@pytest.mark.parametrize("argv, texts", MATCH, ids=_ids(MATCH))
def test_match(d, capsys, argv, texts, monkeypatch):
    import ddsp.match

    monkeypatch.setattr(ddsp.match, "fit_chain", _never("the fit"))
    _check(d, capsys, argv, texts)


@pytest.mark.parametrize("argv, texts", PREPARE, ids=_ids(PREPARE))
def test_prepare(d, capsys, argv, texts):
    _check(d, capsys, argv, texts)


@pytest.mark.parametrize("argv, texts", TRAIN, ids=_ids(TRAIN))
def test_train(d, capsys, argv, texts):
    _check(d, capsys, argv, texts)


@pytest.mark.parametrize("argv, texts", EXPORT, ids=_ids(EXPORT))
def test_export(d, capsys, argv, texts):
    _check(d, capsys, argv, texts)


@pytest.mark.parametrize("argv, texts", TRANSFER, ids=_ids(TRANSFER))
def test_transfer(d, capsys, argv, texts):
    _check(d, capsys, argv, texts)


def _never(what: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} ran for an invocation that should have been refused")

    return fail


def test_every_command_has_a_table_and_the_counts_are_stated():
    from ddsp.commands import COMMANDS

    assert set(TABLES) == set(COMMANDS) - {"bench"}
    counts = {name: len(table) for name, table in TABLES.items()}
    assert all(n >= 10 for n in counts.values()), counts
    assert sum(counts.values()) >= 400, counts


# --------------------------------------------------------------------------- with a trained run

TINY = ["--set", "model.hidden=8", "--set", "model.gru=8", "--set", "model.layers=1",
        "--set", "model.n_harmonics=4", "--set", "model.n_bands=5",
        "--set", "model.reverb_seconds=0.05", "--set", "train.batch_size=2",
        "--set", "train.steps=1", "--set", "train.val_every=1"]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny prepared data set and a one-step run (about a second of audio)."""
    root = tmp_path_factory.mktemp("run")
    t = np.arange(2 * SR) / SR
    x = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.01 * np.sin(2 * np.pi * 3 * t)))
    sf.write(root / "tone.wav", x.astype(np.float32), SR)
    data, out = root / "data", root / "run"
    assert main(["prepare", str(root / "tone.wav"), "--out", str(data),
                 "--example-seconds", "0.5"]) == 0  # fmt: skip
    assert main(["train", str(data), "--out", str(out), *TINY]) == 0
    return data, out


RESUME_CHANGES = [
    (["--set", "model.hidden=16"], ["model.hidden", "8 -> 16"]),
    (["--set", "model.n_harmonics=6"], ["model.n_harmonics", "4 -> 6"]),
    (["--set", "model.z_dim=2"], ["model.z_dim", "0 -> 2"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("change, texts", RESUME_CHANGES)
def test_resume_with_a_changed_model_is_refused(run, capsys, change, texts):
    data, out = run
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    args = ["train", str(data), "--out", str(out), "--resume", *TINY, "--set", "train.steps=3"]
    assert main([*args, *change]) == 2
    err = capsys.readouterr().err
    assert all(t in err for t in texts) and "Traceback" not in err, err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_transfer_and_resynth_with_a_run_still_check_their_options(run, capsys, tmp_path):
    _, out = run
    src = tmp_path / "in.wav"
    sf.write(src, _tone(), SR)
    cases = [
        (["transfer", str(out), str(src), str(src)], ["refusing"]),
        (
            ["transfer", str(out), str(src), str(tmp_path / "o.ogg"), "--octaves", "nan"],
            ["--octaves"],
        ),
        (
            ["resynth", str(src), "-o", str(tmp_path), "--model", str(out), "--steps", "5"],
            ["--model", "--steps"],
        ),
    ]
    for argv, texts in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert all(t in err for t in texts), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]
