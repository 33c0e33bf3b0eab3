"""``ddsp bench effects``: compressor, FDN reverb and the vocal chain against peers.

* compressor vs torchcomp: feed-forward peak compressors with per-item controls and
  attack/release smoothing whose backward runs a recursion (torchcomp: numba, the
  branch-mask trick; ours: the fused dynamics kernel and its adjoint);
* FDN reverb, 6 lines, vs flamo's frequency-domain FDN (FFT of the whole signal, the
  network's transfer function on every bin, inverse FFT) with the same delays, an
  orthogonal matrix, frequency-independent per-line gains (flamo's cheapest absorption;
  ours is frequency-dependent) and learnable input/output gains;
* the ``vocal_chain`` preset (EQ into RMS compressor) forward, vs pedalboard's
  equivalent chain (JUCE, compiled C++, not differentiable; items run one by one).

Peers are skipped when not installed (``make bench`` installs them). Float32, batch
8 x 4 s at 48 kHz by default.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch

from ..functional import compressor, fdn_reverb, orthogonal
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
            lambda x, t, r, a, rl: compressor(
                x, t, r, a, rl, sample_rate=sr, knee_db=0.0, detector="peak"
            )
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
    return {
        "compressor (peak, hard knee)": impls,
        "FDN reverb (6 lines)": _fdn_cases(batch, n_t, seed),
        "vocal_chain preset": _vocal_chain_cases(batch, n_t, seed),
    }


FDN_DELAYS = (593, 743, 929, 1153, 1399, 1699)  # flamo's example delays, samples


def _fdn_cases(batch: int, n_t: int, seed: int) -> dict[str, Callable]:
    gen = torch.Generator().manual_seed(seed + 1)
    n_l = len(FDN_DELAYS)
    x = torch.randn(batch, 1, n_t, generator=gen) * 0.3
    grad = torch.randn(batch, 2, n_t, generator=gen)
    weight = torch.randn(n_l, n_l, generator=gen)
    gin = torch.full((n_l,), n_l**-0.5)
    gout = torch.randn(2, n_l, generator=gen) * n_l**-0.5
    rt60 = torch.full((batch, 1), 1.5)
    sr = 48_000

    def ours(x, w, gi, go, rt):
        return fdn_reverb(
            x,
            sample_rate=sr,
            delays=FDN_DELAYS,
            feedback_matrix=orthogonal(w),
            rt60_s=rt,
            high_rt60_ratio=0.5,
            input_gains=gi,
            output_gains=go,
            mix=1.0,
        )

    impls = {"ddsp": _runner(ours, (x, weight, gin, gout, rt60), grad)}
    if importlib.util.find_spec("flamo") is not None:
        model = _flamo_fdn(n_t, sr)
        impls["flamo (freq. domain)"] = _runner(
            lambda x: model(x.transpose(1, 2)).transpose(1, 2), (x,), grad
        )
    return impls


def _flamo_fdn(n_t: int, sr: int) -> torch.nn.Module:
    import warnings
    from collections import OrderedDict

    from flamo.processor import dsp, system

    n_l, dev = len(FDN_DELAYS), "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        delays = dsp.parallelDelay(
            size=(n_l,), max_len=max(FDN_DELAYS), nfft=n_t, isint=True, fs=sr, device=dev
        )
        delays.assign_value(delays.sample2s(torch.tensor(FDN_DELAYS)))
        matrix = dsp.Matrix(
            size=(n_l, n_l), nfft=n_t, matrix_type="orthogonal", requires_grad=True, device=dev
        )
        gains = dsp.parallelGain(size=(n_l,), nfft=n_t, requires_grad=True, device=dev)
        gains.assign_value(torch.full((n_l,), 0.97))
        loop = system.Recursion(fF=delays, fB=system.Series(OrderedDict(m=matrix, g=gains)))
        core = system.Series(
            OrderedDict(
                i=dsp.Gain(size=(n_l, 1), nfft=n_t, requires_grad=True, device=dev),
                loop=loop,
                o=dsp.Gain(size=(2, n_l), nfft=n_t, requires_grad=True, device=dev),
            )
        )
        return system.Shell(core=core, input_layer=dsp.FFT(n_t), output_layer=dsp.iFFT(n_t))


def _vocal_chain_cases(batch: int, n_t: int, seed: int) -> dict[str, Callable]:
    from ..presets import load_preset

    gen = torch.Generator().manual_seed(seed + 2)
    x = torch.randn(batch, 1, n_t, generator=gen) * 0.1
    grad = torch.randn(batch, 1, n_t, generator=gen)
    chain = load_preset("chains/vocal_chain")
    impls = {"ddsp": _runner(lambda x: chain(x), (x,), grad)}
    if importlib.util.find_spec("pedalboard") is not None:
        board = _pedalboard_vocal_chain()
        audio = x.numpy()

        def make(backward: bool) -> Callable[[], object] | None:
            if backward:
                return None  # not differentiable

            def call() -> object:
                return [board(audio[i], 48_000.0) for i in range(audio.shape[0])]

            call.scale = 1.0  # type: ignore[attr-defined]
            call.leaves = []  # type: ignore[attr-defined]
            return call

        impls["pedalboard (C++, no gradients)"] = make
    return impls


def _pedalboard_vocal_chain() -> object:
    import pedalboard as pb

    return pb.Pedalboard(
        [
            pb.HighpassFilter(90.0),
            pb.LowShelfFilter(200.0, -1.5, 0.707),
            pb.PeakFilter(350.0, -3.0, 1.4),
            pb.PeakFilter(3000.0, 2.5, 1.0),
            pb.PeakFilter(6500.0, 0.0, 1.0),
            pb.HighShelfFilter(10_000.0, 3.0, 0.707),
            pb.LowpassFilter(20_000.0),
            pb.Compressor(threshold_db=-22.0, ratio=3.0, attack_ms=8.0, release_ms=120.0),
            pb.Gain(5.0),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ddsp bench effects``."""
    return bench_main("effects", "ddsp.bench.effects", _cases, argv)


if __name__ == "__main__":
    raise SystemExit(main())
