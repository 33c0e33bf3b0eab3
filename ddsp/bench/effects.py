"""``ddsp bench effects``: the compressor against torchcomp, measured in the same run.

Both are feed-forward peak compressors with per-item controls and attack/release
smoothing whose backward runs a recursion (torchcomp: numba, the branch-mask trick; ours:
the envelope kernel plus the all-pole adjoint). torchcomp is skipped when not installed
(``pip install --no-deps torchcomp``). Float32, batch 8 x 4 s at 48 kHz by default.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch

from ..functional import compressor
from ._harness import bench_main
from ._harness import runner as _runner


def _cases(batch: int, n_t: int, seed: int) -> dict[str, dict[str, Callable]]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n_t, generator=gen) * 0.3
    grad = torch.randn(batch, n_t, generator=gen)
    thr = torch.full((batch,), -18.0)
    ratio = torch.full((batch,), 4.0)
    attack_ms = torch.full((batch,), 5.0)
    release_ms = torch.full((batch,), 100.0)
    sr = 48_000

    def runner(fn):
        return _runner(fn, (x, thr, ratio, attack_ms, release_ms), grad)

    impls = {
        "ddsp": runner(
            lambda x, t, r, a, rl: compressor(x, sr, t, r, a, rl, knee_db=0.0, detector="peak")
        )
    }
    if importlib.util.find_spec("torchcomp") is not None:
        import torchcomp

        def peer(x, t, r, a, rl):
            at = torchcomp.ms2coef(a, sr)
            rt = torchcomp.ms2coef(rl, sr)
            level = x.abs().clamp_min(1e-7)
            gain = torchcomp.compexp_gain(level, t, r, -1000.0, 0.5, at, rt)
            return x * gain

        impls["torchcomp"] = runner(peer)
    return {"compressor (peak, hard knee)": impls}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ddsp bench effects``."""
    return bench_main("effects", "ddsp.bench.effects", _cases, argv)


if __name__ == "__main__":
    raise SystemExit(main())
