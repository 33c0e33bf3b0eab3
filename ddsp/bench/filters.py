"""``ddsp bench filters``: our recursive filters against peers, measured in one run.

Peers: torchaudio.functional.lfilter, scipy.signal.lfilter (forward only), torchlpc and
philtorch (time-varying all-pole; skipped when not installed), and a naive per-sample
PyTorch loop (timed on a short slice and scaled to the full length, labelled as such).
Sizes default to 48 kHz, float32, batch 8 x 4 s. Times are medians of interleaved runs.
Set ``OMP_WAIT_POLICY=passive`` (the command does) so idle OpenMP threads do not spin.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch

from ..functional import allpole, lfilter
from ._harness import bench_main
from ._harness import runner as _runner

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
        return _runner(fn, inputs, grad, scale)

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


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ddsp bench filters`` and ``benchmarks/filters.py``."""
    return bench_main("filters", "ddsp.bench.filters", _cases, argv)


if __name__ == "__main__":
    raise SystemExit(main())
