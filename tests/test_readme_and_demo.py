"""The README's Python examples run, and the demo writes a sane WAV file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent


def _claims() -> dict[str, object]:
    """What the README says of each example, keyed by a line of the block that shows it."""
    import torch

    from ddsp.features import a_weighting_db

    def joined(ns):  # "carry the state and blocks join exactly"
        from ddsp.functional import svf

        whole = svf(ns["x"][..., :2000], 500.0, 0.5, sample_rate=48_000)
        return torch.allclose(torch.cat([ns["y1"], ns["y2"][..., :1000]], -1), whole, atol=1e-5)

    def pitch(ns):  # "~220 Hz, voicing ~1", "-3 dB (a unit sine) plus A-weighting"
        hz, voicing, level = ns["hz"], ns["voicing"], ns["level"]
        want = -3.0 + float(a_weighting_db(torch.tensor(220.0)))
        return (
            hz.shape == voicing.shape == level.shape == (1, 250)
            and abs(float(hz[0, 10:-10].median()) / 220.0 - 1) < 0.005
            and float(voicing[0, 10:-10].min()) > 0.9
            and abs(float(level[0, 10:-10].median()) - want) < 0.5
        )

    return {
        "y = allpole(x, a)": lambda ns: ns["y"].shape == (8, 2, 48_000),
        "y2 = svf(": joined,
        "audio = harmonic(": lambda ns: ns["audio"].shape == (2, 48_000),
        "eq.cutoff_hz = 1200.0": lambda ns: (
            abs(float(ns["eq"].cutoff_hz.detach()) - 1200) < 0.01
            and ns["voice"].shape == (2, 1, 48_000)
        ),
        "note = lead(": lambda ns: ns["note"].shape == (1, 1, 48_000),
        "wet = vocal(": lambda ns: (
            ns["wet"].shape == (2, 72_000) and ns["wet"].dtype.name == "float32"
        ),
        "room = ddsp.FDNReverb(": lambda ns: (
            ns["wet"].shape == (1, 2, 96_000)
            and torch.allclose(
                ns["room"].feedback_matrix() @ ns["room"].feedback_matrix().T,
                torch.eye(8),
                atol=1e-5,
            )
        ),
        "hz, voicing = f0(": pitch,
        "out = np.concatenate(": lambda ns: (
            ns["lag"] == 0
            and float(abs(ns["out"] - ns["chain"](ns["song"], sample_rate=48_000)).max()) < 1e-4
        ),
    }


def test_readme_python_examples_run_and_say_what_they_give():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README should show Python usage"
    claims = _claims()
    checked = set()
    namespace: dict = {}  # the blocks read as one session, top to bottom
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
        for marker, claim in claims.items():
            if marker in block:
                assert claim(namespace), f"the README's claim next to {marker!r} does not hold"
                checked.add(marker)
    assert checked == set(claims), f"examples the README no longer shows: {set(claims) - checked}"


def test_filter_demo_writes_audio(tmp_path):
    out = tmp_path / "demo.wav"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "demos" / "filter_demo.py"),
            "--seconds",
            "0.3",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    audio, rate = sf.read(out)
    assert rate == 48_000 and audio.shape == (14_400, 2)
    peak = abs(audio).max()
    assert 0.5 < peak <= 0.81  # normalised to 0.8, not silent, not clipped


def test_cli_bench_runs_on_tiny_sizes():
    from ddsp.cli import main

    assert main(["bench", "filters", "--batch", "1", "--seconds", "0.005", "--repeats", "1"]) == 0


def test_voices_demo_renders_every_voice(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "demos" / "voices.py"),
            "--seconds",
            "1.0",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    wavs = sorted(p.name for p in tmp_path.glob("*.wav"))
    assert len(wavs) >= 6, wavs
    audio, rate = sf.read(tmp_path / "saw_lead.wav")
    assert rate == 48_000 and audio.shape == (48_000,) and abs(audio).max() > 0.5
