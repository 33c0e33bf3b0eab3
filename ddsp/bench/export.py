"""``ddsp bench export``: per-block cost of exported files, loaded as hosts load them.

The ``vocal_chain`` preset (and, with ``--voice``, the ``harmonic_noise`` voice driven by
f0 and gate signals) is exported to each format at each block size (128, 512, 2048 by
default; 48 kHz stereo) into a temporary folder. A fresh Python process that cannot
import ddsp then loads every file with torch alone (``torch.jit.load`` for Neutone and nn~,
``torch.export.load`` and AOTInductor's loader for pt2), streams ``--seconds`` of audio
through each in blocks, one thread, round by round in rotating order, and reports the
median time per block. The library's own stream (numba fast paths, numpy blocks) is timed
in this process on the same blocks, before the child runs.

With ``--instrument violin`` the case is a shipped instrument's whole live pipeline
(pitch tracking, loudness, decoder, synthesis, reverb; mono in, mono out) instead, fed a
sung-like melody; its reference is the pipeline run eagerly in this process.

Columns: microseconds per block, real-time factor (block duration / time per block) and
the ratio to the library's stream.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ._harness import rerun_passive

__all__ = ["main"]

SR = 48_000
BLOCKS = (128, 512, 2048)
FORMATS = ("neutone", "nn_tilde", "pt2")

# The child: torch only. Each host call mirrors ddsp.export.formats' hosts.
_CHILD = r"""
import json, statistics, sys, time
sys.modules["ddsp"] = None
try:
    import ddsp  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("ddsp must not be importable here")
import torch
torch.set_num_threads(1)
spec = json.loads(sys.argv[1])
n, repeats = spec["n"], spec["repeats"]
gen = torch.Generator().manual_seed(0)

def neutone(path, block, channels, n_knobs, defaults):
    m = torch.jit.load(path, map_location="cpu").eval()
    m.set_daw_sample_rate_and_buffer_size(spec["sr"], block)
    params = torch.zeros(4, block)
    params[:n_knobs] = torch.tensor(defaults).reshape(-1, 1)
    def call(x):
        return m.forward(x[0].expand(2, block).contiguous() if channels == 1 else x[0], params)
    return call, m.reset

def nn_tilde(path, block, channels, n_knobs, defaults):
    m = torch.jit.load(path, map_location="cpu").eval()
    return (lambda x: m.forward(x)), m.reset

def pt2(path, block, channels, n_knobs, defaults):
    program = torch.export.load(path).module()
    knobs = torch.tensor(defaults, dtype=torch.float32)
    return (lambda x: program(x, knobs)), (lambda: None)

def aoti(path, block, channels, n_knobs, defaults):
    runner = torch._inductor.aoti_load_package(path)
    knobs = torch.tensor(defaults, dtype=torch.float32)
    return (lambda x: runner(x.contiguous(), knobs)), (lambda: None)  # dense memory only

LOADERS = {"neutone": neutone, "nn_tilde": nn_tilde, "pt2": pt2, "pt2 (AOTInductor)": aoti}
rows = []
for case in spec["cases"]:
    block, channels = case["block"], case["channels"]
    audio = torch.randn(1, channels, n, generator=gen) * 0.1
    if case.get("instrument"):
        t = torch.arange(n, dtype=torch.float64) / spec["sr"]
        hz = 330.0 * 2 ** (torch.floor(t * 4) % 5 / 12)
        audio = (0.2 * torch.sin(2 * torch.pi * torch.cumsum(hz, 0) / spec["sr"])).float()
        audio = audio.reshape(1, 1, n)
    if case["voice"]:
        t = torch.arange(n) / spec["sr"]
        audio = torch.stack([torch.full((n,), 220.0), ((t * 2) % 1 < 0.6).float()])[None]
    runs = {}
    for impl, path in case["files"].items():
        call, reset = LOADERS[impl](path, block, channels, case["n_knobs"], case["defaults"])
        def run(call=call, reset=reset):
            reset()
            with torch.no_grad():
                for i in range(0, n - block + 1, block):
                    call(audio[..., i : i + block])
        runs[impl] = run
    for run in runs.values():
        run()
    times = {k: [] for k in runs}
    names = list(runs)
    for r in range(repeats):
        for k in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            runs[k]()
            times[k].append(time.perf_counter() - t0)
    for k, t in times.items():
        rows.append({"case": case["name"], "block": block, "impl": k,
                     "us": statistics.median(t) / (n // block) * 1e6})
print(json.dumps(rows))
"""


def _export(
    folder: Path,
    formats: tuple[str, ...],
    blocks: tuple[int, ...],
    voice: bool,
    instrument: str | None = None,
) -> list:
    import ddsp
    from ddsp.export import export_model
    from ddsp.export.formats import save

    cases = []
    sources = [("vocal_chain preset", "chains/vocal_chain")]
    if voice:
        sources.append(("harmonic_noise voice", "voices/harmonic_noise"))
    if instrument:
        from ddsp.live import load_instrument

        sources = [(f"{instrument} instrument", instrument)]
    for name, preset in sources:
        if instrument:
            inst = load_instrument(instrument)
        else:
            module = ddsp.load_preset(preset, sample_rate=SR)
        for block in blocks:
            if instrument:
                model = inst.export_model(block_size=block, sample_rate=SR)
            else:
                model = export_model(module, block_size=block)
            files: dict[str, str] = {}
            for fmt in formats:
                if fmt == "neutone" and model.input_names:
                    continue  # Neutone passes audio: a voice's control inputs do not fit
                stem = folder / f"{preset.replace('/', '_')}_{block}"
                suffix = {"neutone": ".nm", "nn_tilde": ".ts", "pt2": ".pt2"}[fmt]
                print(f"exporting {preset} for blocks of {block} as {fmt} ...", file=sys.stderr)
                written = save(model, stem.with_suffix(suffix), fmt, name=f"{name} {block}")
                for path in written:
                    impl = "pt2 (AOTInductor)" if path.name.endswith(".aoti.pt2") else fmt
                    files[impl] = str(path)
            cases.append({
                "name": name, "block": block, "channels": model.in_channels,
                "voice": bool(model.input_names), "files": files,
                "n_knobs": len(model.knob_names), "defaults": list(model.knob_defaults),
                "instrument": instrument,
            })  # fmt: skip
    return cases


def _stream_times(cases: list, n: int, repeats: int) -> list[dict]:
    """The library's stream on the same blocks (numpy in, numba fast paths)."""
    import ddsp

    torch.set_num_threads(1)
    rows = []
    rng = np.random.default_rng(0)
    for case in cases:
        block = case["block"]
        if case.get("instrument"):
            rows.append(_pipeline_time(case, n, repeats))
            continue
        preset = "chains/vocal_chain" if not case["voice"] else "voices/harmonic_noise"
        module = ddsp.load_preset(preset, sample_rate=SR)
        if case["voice"]:
            stream = ddsp.Stream(module)
            t = torch.arange(n) / SR
            f0 = torch.full((1, n), 220.0)
            gate = ((t * 2) % 1 < 0.6).float()[None]

            def run(stream=stream, f0=f0, gate=gate, block=block) -> None:
                stream.reset()
                with torch.no_grad():
                    for i in range(0, n - block + 1, block):
                        stream.process(f0_hz=f0[:, i : i + block], gate=gate[:, i : i + block])
        else:
            stream = ddsp.Stream(module, channels=case["channels"])
            audio = (rng.standard_normal((case["channels"], n)) * 0.1).astype(np.float32)

            def run(stream=stream, audio=audio, block=block) -> None:
                stream.reset()
                for i in range(0, n - block + 1, block):
                    stream.process(audio[:, i : i + block])

        rows.append({"case": case["name"], "block": block, "impl": "ddsp stream (numba)",
                     "us": _per_block_us(run, repeats, n // block)})  # fmt: skip
    return rows


def _per_block_us(run, repeats: int, blocks: int) -> float:
    """Median over ``repeats`` timed calls of ``run`` (after one warm-up), per block, µs."""
    run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / blocks * 1e6


def _pipeline_time(case: dict, n: int, repeats: int) -> dict:
    """An instrument's live pipeline run eagerly in this process (the library's path)."""
    from ddsp.live import load_instrument

    block = case["block"]
    pipe = load_instrument(case["instrument"]).pipeline(sample_rate=SR, block_size=block)
    t = torch.arange(n, dtype=torch.float64) / SR
    hz = 330.0 * 2 ** (torch.floor(t * 4) % 5 / 12)
    audio = (0.2 * torch.sin(2 * torch.pi * torch.cumsum(hz, 0) / SR)).float().reshape(1, 1, n)

    def run() -> None:
        pipe.reset()
        with torch.no_grad():
            for i in range(0, n - block + 1, block):
                pipe(audio[..., i : i + block], {})

    return {"case": case["name"], "block": block, "impl": "ddsp pipeline (eager)",
            "us": _per_block_us(run, repeats, n // block)}  # fmt: skip


def _print(rows: list[dict], seconds: float, repeats: int) -> None:
    print(
        f"ddsp bench export: 48 kHz, {seconds:g} s per run in blocks, median of {repeats} "
        f"interleaved runs, 1 thread, torch {torch.__version__}, files loaded in a fresh "
        f"process without ddsp, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
    )
    head = (
        f"{'case':<22} {'block':>6} {'implementation':<20} {'us/block':>10} {'RTF':>8} "
        f"{'vs stream':>10}"
    )
    print(head)
    print("-" * len(head))
    ref = {(r["case"], r["block"]): r["us"] for r in rows if r["impl"].startswith("ddsp")}
    for r in sorted(rows, key=lambda r: (r["case"], r["block"], not r["impl"].startswith("ddsp"))):
        rtf = r["block"] / SR / (r["us"] / 1e6)
        base = ref.get((r["case"], r["block"]))
        ratio = f"{r['us'] / base:9.2f}x" if base and not r["impl"].startswith("ddsp") else "-"
        print(
            f"{r['case']:<22} {r['block']:>6} {r['impl']:<20} {r['us']:10.1f} {rtf:8.1f} "
            f"{ratio:>10}"
        )
    print("RTF: block duration / time per block; vs stream: the file's time / the stream's")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ddsp bench export``."""
    p = argparse.ArgumentParser(prog="ddsp bench export", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=2.0, help="audio per timed run")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--blocks", type=int, nargs="+", default=list(BLOCKS))
    p.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    p.add_argument("--voice", action="store_true", help="also the harmonic_noise voice")
    p.add_argument(
        "--instrument", help="time a shipped instrument's live pipeline instead (e.g. violin)"
    )
    args = p.parse_args(argv)
    rerun = rerun_passive("ddsp.bench.export", argv)
    if rerun is not None:
        return rerun
    n = int(args.seconds * SR)
    with tempfile.TemporaryDirectory() as tmp:
        cases = _export(
            Path(tmp), tuple(args.formats), tuple(args.blocks), args.voice, args.instrument
        )
        rows = _stream_times(cases, n, args.repeats)
        spec = {"n": n, "repeats": args.repeats, "sr": SR, "cases": cases}
        out = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD, json.dumps(spec)],
            cwd=tmp,
            capture_output=True,
            text=True,
            env=dict(os.environ, OMP_WAIT_POLICY="passive"),
        )
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        rows += json.loads(out.stdout.strip().splitlines()[-1])
    _print(rows, args.seconds, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
