"""``ddsp bench stream``: per-block cost of streamed presets and voices, beside pedalboard.

Each case streams two seconds of 48 kHz stereo (or voice inputs) through a
:class:`ddsp.Stream` in blocks of 32, 128, 512 and 2048 samples, on one thread, numpy
blocks in and out (the inference fast path); pedalboard's equivalent board streams the
same blocks with ``process(..., reset=False)`` in the same run, interleaved round by
round. Cases: the ``vocal_chain`` preset (vs pedalboard's filters and compressor), the
``hall`` preset (a 4 s noise reverb, vs pedalboard's ``Convolution`` with the same
impulse response) and the ``saw_lead`` voice (ours alone: pedalboard has no voices).

Columns: microseconds per block (median of interleaved runs), real-time factor (block
duration / processing time), and the ratio of our time to pedalboard's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from ._harness import rerun_passive

__all__ = ["main"]

SR = 48_000
BLOCKS = (32, 128, 512, 2048)


def _vocal_board() -> object:
    from .effects import _pedalboard_vocal_chain

    return _pedalboard_vocal_chain()


def _cases(seconds: float) -> dict[str, dict[str, Callable[[int], Callable[[], None]]]]:
    """case -> implementation -> make(block) -> one pass over the signal."""
    import ddsp

    n = int(seconds * SR)
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((2, n)) * 0.1).astype(np.float32)
    have_pb = importlib.util.find_spec("pedalboard") is not None

    def ours_effect(preset: str) -> Callable[[int], Callable[[], None]]:
        module = ddsp.load_preset(preset, sample_rate=SR)

        def make(block: int) -> Callable[[], None]:
            stream = ddsp.Stream(module, channels=2)

            def run() -> None:
                stream.reset()
                for i in range(0, n - block + 1, block):
                    stream.process(audio[:, i : i + block])

            return run

        return make

    def board(factory: Callable[[], object]) -> Callable[[int], Callable[[], None]]:
        def make(block: int) -> Callable[[], None]:
            b = factory()

            def run() -> None:
                b.reset()
                for i in range(0, n - block + 1, block):
                    b.process(audio[:, i : i + block], SR, reset=False)

            return run

        return make

    def hall_board() -> object:
        import pedalboard as pb

        rev = ddsp.load_preset("chains/hall", sample_rate=SR)[0]
        ir = rev.impulse_response().detach().numpy().astype(np.float32)
        return pb.Pedalboard([pb.Convolution(ir, mix=float(rev.mix.detach()), sample_rate=SR)])

    def voice(block: int) -> Callable[[], None]:
        lead = ddsp.load_preset("voices/saw_lead", sample_rate=SR)
        stream = ddsp.Stream(lead)
        f0 = torch.full((1, block), 220.0)
        gates = [
            torch.full((1, block), float((i // (SR // 4)) % 2 == 0)) for i in range(0, n, block)
        ]

        def run() -> None:
            stream.reset()
            with torch.no_grad():
                for gate in gates[: n // block]:
                    stream.process(f0_hz=f0, gate=gate)

        return run

    cases: dict[str, dict] = {
        "vocal_chain preset": {"ddsp": ours_effect("chains/vocal_chain")},
        "hall preset (4 s IR)": {"ddsp": ours_effect("chains/hall")},
        "saw_lead voice": {"ddsp": voice},
    }
    if have_pb:
        cases["vocal_chain preset"]["pedalboard"] = board(_vocal_board)
        cases["hall preset (4 s IR)"]["pedalboard"] = board(hall_board)
    return cases


def run(seconds: float, repeats: int, blocks: tuple[int, ...]) -> list[dict]:
    torch.set_num_threads(1)
    import numba

    numba.set_num_threads(1)
    rows = []
    for case, impls in _cases(seconds).items():
        for block in blocks:
            runs = {name: make(block) for name, make in impls.items()}
            for f in runs.values():  # warm-up (and numba compilation)
                f()
            times: dict[str, list[float]] = {name: [] for name in runs}
            names = list(runs)
            for r in range(repeats):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    t0 = time.perf_counter()
                    runs[name]()
                    times[name].append(time.perf_counter() - t0)
            n_blocks = int(seconds * SR) // block
            for name, t in times.items():
                rows.append({"case": case, "block": block, "impl": name,
                             "us": statistics.median(t) / n_blocks * 1e6})  # fmt: skip
    return rows


def _print(rows: list[dict], seconds: float, repeats: int) -> None:
    print(
        f"ddsp bench stream: 48 kHz stereo, {seconds:g} s per run in blocks, median of {repeats} "
        f"interleaved runs, 1 thread, torch {torch.__version__}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
    )
    head = (
        f"{'case':<22} {'block':>6} {'implementation':<12} {'us/block':>10} {'RTF':>8} "
        f"{'vs pedalboard':>14}"
    )
    print(head)
    print("-" * len(head))
    peers = {(r["case"], r["block"]): r["us"] for r in rows if r["impl"] == "pedalboard"}
    for r in rows:
        rtf = r["block"] / SR / (r["us"] / 1e6)
        peer = peers.get((r["case"], r["block"]))
        ratio = f"{r['us'] / peer:13.1f}x" if peer and r["impl"] == "ddsp" else f"{'-':>14}"
        print(f"{r['case']:<22} {r['block']:>6} {r['impl']:<12} {r['us']:10.1f} {rtf:8.1f} {ratio}")
    print("RTF: block duration / time per block; vs pedalboard: our time / pedalboard's time")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ddsp bench stream``."""
    p = argparse.ArgumentParser(prog="ddsp bench stream", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=2.0, help="audio per timed run")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--blocks", type=int, nargs="+", default=list(BLOCKS))
    args = p.parse_args(argv)
    rerun = rerun_passive("ddsp.bench.stream", argv)
    if rerun is not None:
        return rerun
    rows = run(args.seconds, args.repeats, tuple(args.blocks))
    _print(rows, args.seconds, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
