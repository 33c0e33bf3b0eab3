"""The README's Python examples run, and the demo writes a sane WAV file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent


def test_readme_python_examples_run():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README should show Python usage"
    namespace: dict = {}  # the blocks read as one session, top to bottom
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)


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
