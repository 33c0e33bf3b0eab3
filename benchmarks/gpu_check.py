"""One prepared GPU check: CUDA twins against the CPU twins, then kernel timings.

Run on the lent GPU machine (see the README): installs nothing, needs torch with CUDA and
numba-cuda. Prints a report and writes it as JSON to ``$OUT/gpu_check.json`` (or --out).

1. Correctness: random stable filters, float32 and float64, CUDA vs CPU twin outputs and
   gradients (relative error; float32 must stay under 1e-5 on stable filters).
2. Timing at batch 64 x 4 s, 48 kHz, float32: forward and forward+backward of the
   time-varying all-pole (order 2 and 16), the static biquad (lfilter), the SVF and the
   harmonic oscillator, with torchaudio.functional.lfilter and the pure-torch harmonic
   oscillator on the same GPU as the peers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch


def _rel(got: torch.Tensor, want: torch.Tensor) -> float:
    scale = max(float(want.abs().max()), 1e-30)
    return float((got.double().cpu() - want.double().cpu()).abs().max()) / scale


def correctness(dtype: torch.dtype) -> dict[str, float]:
    from ddsp.functional import allpole, biquad, harmonic, lfilter, svf

    gen = torch.Generator().manual_seed(0)
    n, n_t = 16, 48_000
    x = torch.randn(n, n_t, generator=gen, dtype=dtype)
    roots = torch.rand(n, 64, 2, generator=gen, dtype=torch.float64) * 1.8 - 0.9
    a2 = torch.stack([-(roots[..., 0] + roots[..., 1]), roots[..., 0] * roots[..., 1]], -1)
    a2 = (
        torch.nn.functional.interpolate(
            a2.transpose(1, 2), size=n_t, mode="linear", align_corners=True
        )
        .transpose(1, 2)
        .to(dtype)
    )
    b = torch.tensor([0.2, 0.5, 0.2], dtype=dtype)
    a = torch.tensor([1.0, -1.1, 0.4], dtype=dtype)
    fc = torch.linspace(100, 8000, n_t, dtype=dtype).expand(n, n_t).contiguous()
    cases = {
        "allpole_tv2": lambda x, a2, fc: allpole(x, a2),
        "lfilter_static": lambda x, a2, fc: lfilter(x, b.to(x.device), a.to(x.device)),
        "biquad_tv": lambda x, a2, fc: biquad(x, "peaking", fc, 1.0, 6.0, sample_rate=48_000),
        "svf_tv": lambda x, a2, fc: svf(x, fc, 0.7, sample_rate=48_000),
        "harmonic": lambda x, a2, fc: harmonic(
            fc[:, ::480] / 8 + 50,
            a2[:, ::480].abs().repeat(1, 1, 20),
            sample_rate=48_000,
            n_samples=n_t,
        ),
    }
    out = {}
    for name, fn in cases.items():
        res = []
        for dev in ("cuda", "cpu"):
            leaves = [t.to(dev).requires_grad_() for t in (x, a2, fc)]
            y = fn(*leaves)
            y.backward(torch.ones_like(y))
            res.append(
                [y.detach()]
                + [t.grad if t.grad is not None else torch.zeros_like(t) for t in leaves]
            )
        out[name] = max(_rel(g, c) for g, c in zip(res[0], res[1]))
    return out


def _time(fn, repeats: int = 20) -> float:
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def timings() -> dict[str, dict[str, float]]:
    import torchaudio.functional as taf

    from ddsp.functional import allpole, lfilter, svf

    n, n_t = 64, 4 * 48_000
    dev = "cuda"
    x = torch.randn(n, n_t, device=dev)
    g = torch.randn(n, n_t, device=dev)
    b = torch.tensor([0.0675, 0.1349, 0.0675], device=dev)
    a = torch.tensor([1.0, -1.1430, 0.4128], device=dev)
    out: dict[str, dict[str, float]] = {}

    def both(name, fn, *inputs):
        leaves = [t.detach().clone() for t in inputs]
        out[name] = {"fwd_ms": _time(lambda: fn(*leaves))}
        leaves = [t.detach().clone().requires_grad_() for t in inputs]

        def fb():
            for t in leaves:
                t.grad = None
            fn(*leaves).backward(g)

        out[name]["fwd+bwd_ms"] = _time(fb)

    for order in (2, 16):
        coefs = (torch.rand(n, n_t, order, device=dev) - 0.5) * (0.8 / order)
        both(f"ddsp allpole tv order {order}", lambda x, c: allpole(x, c), x, coefs)
    both("ddsp lfilter static biquad", lambda x, b, a: lfilter(x, b, a), x, b, a)
    both(
        "torchaudio lfilter static biquad",
        lambda x, b, a: taf.lfilter(x, a, b, clamp=False),
        x,
        b,
        a,
    )
    fc = torch.linspace(100, 8000, n_t, device=dev).expand(n, n_t).contiguous()
    both("ddsp svf tv cutoff", lambda x, fc: svf(x, fc, 0.7, sample_rate=48_000), x, fc)

    from ddsp.bench.synth import N_HARMONICS, torch_harmonic
    from ddsp.functional import harmonic

    f0 = 80.0 + 400.0 * torch.rand(n, 1000, device=dev)
    amps = torch.rand(n, 1000, N_HARMONICS, device=dev) / N_HARMONICS
    both(
        "ddsp harmonic 100",
        lambda f, a: harmonic(f, a, sample_rate=48_000, n_samples=n_t),
        f0,
        amps,
    )
    both("pure torch harmonic 100", lambda f, a: torch_harmonic(f, a, 48_000.0, n_t), f0, amps)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "gpu_check.json"))
    args = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device visible to torch")
    import ddsp

    ddsp.set_value_checks(False)  # no host syncs inside the timed region
    report = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "correctness_float64": correctness(torch.float64),
        "correctness_float32": correctness(torch.float32),
        "timings_batch64x4s": timings(),
    }
    import numba

    report["numba"] = numba.__version__
    print(json.dumps(report, indent=1))
    worst32 = max(report["correctness_float32"].values())
    verdict = "ok" if worst32 < 1e-5 else "FAIL"
    print(f"worst float32 relative error CUDA vs CPU: {worst32:.2e} ({verdict})")
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
