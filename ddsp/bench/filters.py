"""``ddsp bench filters``: our recursive filters against peers, measured in one run.

Peers: torchaudio.functional.lfilter, scipy.signal.lfilter (forward only), torchlpc and
philtorch (time-varying all-pole; skipped when not installed), and a naive per-sample
PyTorch loop (timed on a short slice and scaled to the full length, labelled as such).
Sizes default to 48 kHz, float32, batch 8 x 4 s. Times are medians of interleaved runs.
Set ``OMP_WAIT_POLICY=passive`` (the command does) so idle OpenMP threads do not spin.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable

import torch

from ..functional import allpole, lfilter
from ._timing import interleaved_medians

NAIVE_SLICE = 500


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _stable_tv_coefs(batch: int, n_t: int, order: int, gen: torch.Generator) -> torch.Tensor:
    """Per-sample coefficients of a slowly moving, stable filter: cascade of real poles."""
    # Poles wander in [-0.9, 0.9]; a polynomial with real roots inside stays stable.
    frames = 16
    roots = torch.rand(batch, frames, order, generator=gen, dtype=torch.float64) * 1.8 - 0.9
    poly = torch.ones(batch, frames, 1, dtype=torch.float64)
    for k in range(order):
        r = roots[..., k : k + 1]
        poly = torch.cat([poly, torch.zeros_like(r)], -1) - r * torch.cat(
            [torch.zeros_like(r), poly], -1
        )
    coefs = poly[..., 1:].float()  # (B, F, order)
    up = torch.nn.functional.interpolate(
        coefs.transpose(1, 2), size=n_t, mode="linear", align_corners=True
    )
    return up.transpose(1, 2).contiguous()


def _naive_allpole(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    order = a.shape[-1]
    hist = [x.new_zeros(x.shape[0]) for _ in range(order)]
    out = []
    for t in range(x.shape[1]):
        yt = x[:, t] - sum(a[:, t if a.shape[1] > 1 else 0, k] * hist[k] for k in range(order))
        hist = [yt] + hist[:-1]
        out.append(yt)
    return torch.stack(out, 1)


def _cases(
    batch: int, n_t: int, seed: int
) -> dict[str, dict[str, Callable[[bool], Callable[[], object]]]]:
    """case -> implementation -> make(backward: bool) -> zero-argument call."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n_t, generator=gen)
    grad = torch.randn(batch, n_t, generator=gen)
    cases: dict[str, dict[str, Callable[[bool], Callable[[], object]]]] = {}

    def runner(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor, scale: float = 1.0):
        def make(backward: bool) -> Callable[[], object]:
            leaves = [t.detach().clone().requires_grad_(backward) for t in inputs]
            g = grad[..., : leaves[0].shape[-1]]

            def call() -> object:
                for leaf in leaves:
                    leaf.grad = None
                y = fn(*leaves)
                if backward:
                    y.backward(g)
                return y

            call.scale = scale  # type: ignore[attr-defined]
            call.leaves = leaves  # type: ignore[attr-defined]
            return call

        return make

    for order in (2, 16):
        a = _stable_tv_coefs(batch, n_t, order, gen)
        impls = {"ddsp": runner(lambda x, a: allpole(x, a), x, a)}
        if _has("torchlpc"):
            from torchlpc import sample_wise_lpc

            impls["torchlpc"] = runner(lambda x, a: sample_wise_lpc(x, a), x, a)
        if _has("philtorch"):
            from philtorch.lpv import allpole as ph_allpole

            impls["philtorch"] = runner(lambda x, a: ph_allpole(a, x), x, a)
        s = NAIVE_SLICE
        impls[f"naive loop (x{n_t / s:.0f} from {s} samples)"] = runner(
            _naive_allpole, x[:, :s], a[:, :s], scale=n_t / s
        )
        cases[f"time-varying all-pole, order {order}"] = impls

    import torchaudio.functional as taf

    b = torch.tensor([0.0675, 0.1349, 0.0675])  # RBJ lowpass, 4 kHz @ 48 kHz, q = 0.707
    a2 = torch.tensor([1.0, -1.1430, 0.4128])
    impls = {
        "ddsp": runner(lambda x, b, a: lfilter(x, b, a), x, b, a2),
        "torchaudio": runner(lambda x, b, a: taf.lfilter(x, a, b, clamp=False), x, b, a2),
    }
    if _has("philtorch"):
        from philtorch.lti import lfilter as ph_lfilter

        impls["philtorch"] = runner(lambda x, b, a: ph_lfilter(b, a[1:], x), x, b, a2)
    if _has("scipy"):
        import scipy.signal

        xn, bn, an = x.numpy(), b.numpy(), a2.numpy()

        def scipy_make(backward: bool) -> Callable[[], object] | None:
            if backward:
                return None
            call = lambda: scipy.signal.lfilter(bn, an, xn, axis=-1)  # noqa: E731
            call.scale = 1.0  # type: ignore[attr-defined]
            return call

        impls["scipy (forward only)"] = scipy_make
    s = NAIVE_SLICE
    impls[f"naive loop (x{n_t / s:.0f} from {s} samples)"] = runner(
        lambda x, b, a: _naive_allpole(
            torch.nn.functional.conv1d(
                torch.nn.functional.pad(x, (2, 0)).unsqueeze(1), b.flip(0).view(1, 1, 3)
            ).squeeze(1),
            a[1:].view(1, 1, 2),
        ),
        x[:, :s],
        b,
        a2,
        scale=n_t / s,
    )
    cases["static biquad (lfilter)"] = impls
    return cases


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _memory_probe(case: str, impl: str, batch: int, n_t: int) -> float:
    """Peak memory of one fwd+bwd beyond its inputs and outputs, in float32 signal copies.

    Linux only: resets the RSS high-water mark (``/proc/self/clear_refs``), runs the call
    and reads ``VmHWM``; the output and the gradients it produced are subtracted.
    """
    _cases(2, 4096, 0)[case][impl](True)()  # compile first
    call = _cases(batch, n_t, 0)[case][impl](True)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _status_kib("VmRSS")
    y = call()
    peak = _status_kib("VmHWM")
    grads = [t.grad for t in call.leaves if t.grad is not None]  # type: ignore[attr-defined]
    out_bytes = sum(t.numel() * t.element_size() for t in [y, *grads])
    return ((peak - base) * 1024 - out_bytes) / (batch * n_t * 4)


def _peak_memory(case: str, impl: str, batch: int, n_t: int) -> float | None:
    """Run :func:`_memory_probe` in a fresh process (its own high-water mark)."""
    code = (
        "from ddsp.bench.filters import _memory_probe\n"
        f"print(_memory_probe({case!r}, {impl!r}, {batch}, {n_t}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return float(out.stdout.strip().splitlines()[-1])


def run(
    batch: int, seconds: float, sample_rate: int, repeats: int, memory: bool, seed: int = 0
) -> list[dict]:
    """Time every case; return rows of results (also printed as a table)."""
    torch.manual_seed(seed)
    n_t = int(seconds * sample_rate)
    rows = []
    for case, impls in _cases(batch, n_t, seed).items():
        results: dict[str, dict[str, float]] = {name: {} for name in impls}
        for mode, backward in (("fwd", False), ("fwd+bwd", True)):
            calls = {}
            scales = {}
            for name, make in impls.items():
                call = make(backward)
                if call is not None:
                    calls[name] = call
                    scales[name] = call.scale  # type: ignore[attr-defined]
            med = interleaved_medians(calls, repeats=repeats)
            for name, sec in med.items():
                results[name][mode] = sec * scales[name] * 1e3
        for name, res in results.items():
            row = {"case": case, "impl": name, **{k + "_ms": v for k, v in res.items()}}
            if memory and not name.startswith(("naive", "scipy")):
                mem = _peak_memory(case, name, batch, n_t)
                if mem is not None:
                    row["extra_mem_copies"] = mem
            rows.append(row)
    _print_table(rows, batch, seconds, sample_rate, repeats)
    return rows


def _print_table(
    rows: list[dict], batch: int, seconds: float, sample_rate: int, repeats: int
) -> None:
    threads = torch.get_num_threads()
    print(
        f"ddsp bench filters: batch {batch} x {seconds:g} s at {sample_rate} Hz, float32, "
        f"median of {repeats} interleaved runs, torch {torch.__version__}, {threads} threads, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
    )
    head = (
        f"{'case':<38} {'implementation':<34} {'fwd ms':>9} {'fwd+bwd ms':>11} "
        f"{'fwd x':>7} {'f+b x':>7}"
    )
    if any("extra_mem_copies" in r for r in rows):
        head += f" {'mem':>6}"
    print(head)
    print("-" * len(head))
    ours = {r["case"]: r for r in rows if r["impl"] == "ddsp"}
    for r in rows:
        print(_table_line(r, ours[r["case"]]))
    print(
        "ratios: peer time / ddsp time (above 1x: ddsp is faster); mem: peak memory of one "
        "fwd+bwd beyond inputs and outputs, in float32 signal copies (RSS high-water mark)"
    )


def _table_line(r: dict, base: dict) -> str:
    def fmt(key: str) -> str:
        return f"{r[key]:9.2f}" if key in r else f"{'-':>9}"

    def ratio(key: str) -> str:
        return f"{r[key] / base[key]:6.1f}x" if key in r and key in base else f"{'-':>7}"

    line = (
        f"{r['case']:<38} {r['impl']:<34} {fmt('fwd_ms')} {fmt('fwd+bwd_ms'):>11} "
        f"{ratio('fwd_ms')} {ratio('fwd+bwd_ms')}"
    )
    if "extra_mem_copies" in r:
        line += f" {r['extra_mem_copies']:5.1f}c"
    return line


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ddsp bench filters`` and ``benchmarks/filters.py``."""
    p = argparse.ArgumentParser(prog="ddsp bench filters", description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--sample-rate", type=int, default=48_000)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--memory", action="store_true", help="also measure peak memory (subprocesses)")
    p.add_argument("--json", help="write the rows to this JSON file")
    args = p.parse_args(argv)
    if os.environ.get("OMP_WAIT_POLICY", "").lower() != "passive":
        # OpenMP reads this once at start-up: rerun ourselves with it set.
        env = dict(os.environ, OMP_WAIT_POLICY="passive")
        cmd = [
            sys.executable,
            "-m",
            "ddsp.bench.filters",
            *(argv if argv is not None else sys.argv[1:]),
        ]
        return subprocess.call(cmd, env=env)
    rows = run(args.batch, args.seconds, args.sample_rate, args.repeats, args.memory)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
