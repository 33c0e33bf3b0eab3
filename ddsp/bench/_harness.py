"""The benchmark harness shared by ``ddsp bench`` suites.

Interleaved timing: every implementation of a case runs once per round, in rotating order,
so that machine noise hits them alike; medians after warm-up. A suite module provides
``_cases(batch, n_samples, seed) -> {case: {implementation: make(backward) -> call}}``;
each call carries ``scale`` (time multiplier, for peers timed on a slice) and ``leaves``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

__all__ = [
    "interleaved_medians",
    "peak_memory",
    "memory_probe",
    "run",
    "bench_main",
    "runner",
]


def runner(
    fn: Callable[..., torch.Tensor],
    inputs: tuple[torch.Tensor, ...],
    grad: torch.Tensor,
    scale: float = 1.0,
) -> Callable[[bool], Callable[[], object]]:
    """Case implementation for :func:`run`: ``make(backward)`` -> a zero-argument call.

    Each call runs ``fn`` on fresh leaves copied from ``inputs`` (gradients cleared) and,
    when ``backward``, backpropagates ``grad`` cut to the output's length. The call
    carries ``scale`` (time multiplier, for peers timed on a slice) and its ``leaves``.
    """

    def make(backward: bool) -> Callable[[], object]:
        leaves = [t.detach().clone().requires_grad_(backward) for t in inputs]

        def call() -> object:
            for leaf in leaves:
                leaf.grad = None
            y = fn(*leaves)
            if backward:
                y.backward(grad[..., : y.shape[-1]])
            return y

        call.scale = scale  # type: ignore[attr-defined]
        call.leaves = leaves  # type: ignore[attr-defined]
        return call

    return make


def interleaved_medians(
    fns: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 2
) -> dict[str, float]:
    """Median seconds per call of each function, interleaving the calls round by round."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return {n: statistics.median(v) for n, v in times.items()}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_probe(module: str, case: str, impl: str, batch: int, n_t: int) -> float:
    """Peak memory of one fwd+bwd beyond its inputs and outputs, in float32 signal copies.

    ``module._cases(batch, n_t, seed)[case][impl](True)`` makes the call. Linux only:
    resets the RSS high-water mark (``/proc/self/clear_refs``), runs the call once and
    reads ``VmHWM``; the output and the gradients it produced are subtracted.
    """
    cases = importlib.import_module(module)._cases
    cases(2, 4096, 0)[case][impl](True)()  # compile / warm up first
    call = cases(batch, n_t, 0)[case][impl](True)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _status_kib("VmRSS")
    y = call()
    peak = _status_kib("VmHWM")
    grads = [t.grad for t in call.leaves if t.grad is not None]
    out_bytes = sum(t.numel() * t.element_size() for t in [y, *grads])
    return ((peak - base) * 1024 - out_bytes) / (batch * n_t * 4)


def peak_memory(module: str, case: str, impl: str, batch: int, n_t: int) -> float | None:
    """Run :func:`memory_probe` in a fresh process (its own high-water mark); None on error."""
    code = (
        "from ddsp.bench._harness import memory_probe\n"
        f"print(memory_probe({module!r}, {case!r}, {impl!r}, {batch}, {n_t}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"memory probe failed for {case} / {impl}: {last}", file=sys.stderr)
        return None
    return float(out.stdout.strip().splitlines()[-1])


def run(
    suite: str,
    module: str,
    cases: Callable[..., dict],
    batch: int,
    seconds: float,
    sample_rate: int,
    repeats: int,
    memory: bool,
    seed: int = 0,
) -> list[dict]:
    """Time every case of a suite; return rows of results (also printed as a table)."""
    torch.manual_seed(seed)
    n_t = int(seconds * sample_rate)
    rows = []
    for case, impls in cases(batch, n_t, seed).items():
        results: dict[str, dict[str, float]] = {name: {} for name in impls}
        for mode, backward in (("fwd", False), ("fwd+bwd", True)):
            calls = {}
            scales = {}
            for name, make in impls.items():
                call = make(backward)
                if call is not None:
                    calls[name] = call
                    scales[name] = call.scale
            med = interleaved_medians(calls, repeats=repeats)
            for name, sec in med.items():
                results[name][mode] = sec * scales[name] * 1e3
        for name, res in results.items():
            row = {"case": case, "impl": name, **{k + "_ms": v for k, v in res.items()}}
            if memory and not name.startswith(("naive", "scipy")):
                mem = peak_memory(module, case, name, batch, n_t)
                if mem is not None:
                    row["extra_mem_copies"] = mem
            rows.append(row)
    _print_table(suite, rows, batch, seconds, sample_rate, repeats)
    return rows


def _print_table(
    suite: str, rows: list[dict], batch: int, seconds: float, sample_rate: int, repeats: int
) -> None:
    threads = torch.get_num_threads()
    print(
        f"ddsp bench {suite}: batch {batch} x {seconds:g} s at {sample_rate} Hz, float32, "
        f"median of {repeats} interleaved runs, torch {torch.__version__}, {threads} threads, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
    )
    head = (
        f"{'case':<38} {'implementation':<34} {'fwd ms':>9} {'fwd+bwd ms':>11} "
        f"{'fwd x':>7} {'f+b x':>7} {'fwd RTF':>8}"
    )
    if any("extra_mem_copies" in r for r in rows):
        head += f" {'mem':>6}"
    print(head)
    print("-" * len(head))
    ours = {r["case"]: r for r in rows if r["impl"] == "ddsp"}
    for r in rows:
        print(_table_line(r, ours[r["case"]], batch * seconds))
    print(
        "ratios: peer time / ddsp time (above 1x: ddsp is faster); fwd RTF: seconds of audio "
        "processed per second of forward time; mem: peak memory of one "
        "fwd+bwd beyond inputs and outputs, in float32 signal copies (RSS high-water mark)"
    )


def _table_line(r: dict, base: dict, audio_seconds: float) -> str:
    def fmt(key: str) -> str:
        return f"{r[key]:9.2f}" if key in r else f"{'-':>9}"

    def ratio(key: str) -> str:
        return f"{r[key] / base[key]:6.1f}x" if key in r and key in base else f"{'-':>7}"

    line = (
        f"{r['case']:<38} {r['impl']:<34} {fmt('fwd_ms')} {fmt('fwd+bwd_ms'):>11} "
        f"{ratio('fwd_ms')} {ratio('fwd+bwd_ms')}"
    )
    rtf = f"{audio_seconds / (r['fwd_ms'] / 1e3):7.0f}x" if r.get("fwd_ms") else f"{'-':>8}"
    line += f" {rtf}"
    if "extra_mem_copies" in r:
        line += f" {r['extra_mem_copies']:5.1f}c"
    return line


def rerun_passive(module: str, argv: list[str] | None) -> int | None:
    """Run ``python -m module argv`` again with ``OMP_WAIT_POLICY=passive`` unless it is
    set (OpenMP reads it once at start-up; idle threads otherwise spin and distort peer
    timings): that run's exit code, or None when this process already has it."""
    if os.environ.get("OMP_WAIT_POLICY", "").lower() == "passive":
        return None
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    rest = argv if argv is not None else sys.argv[1:]
    return subprocess.call([sys.executable, "-m", module, *rest], env=env)


def bench_main(
    suite: str,
    module: str,
    cases: Callable[..., dict],
    argv: list[str] | None,
    default_repeats: int = 15,
) -> int:
    """Command line of one suite: ``ddsp bench SUITE [--batch ...]``."""
    doc = importlib.import_module(module).__doc__ or suite
    p = argparse.ArgumentParser(prog=f"ddsp bench {suite}", description=doc.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--sample-rate", type=int, default=48_000)
    p.add_argument("--repeats", type=int, default=default_repeats)
    p.add_argument("--memory", action="store_true", help="also measure peak memory (subprocesses)")
    p.add_argument("--json", help="write the rows to this JSON file")
    args = p.parse_args(argv)
    rerun = rerun_passive(module, argv)
    if rerun is not None:
        return rerun
    rows = run(
        suite, module, cases, args.batch, args.seconds, args.sample_rate, args.repeats, args.memory
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0
