"""CUDA twins against the CPU twins under numba's CUDA simulator (tiny inputs).

Runs only with ``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported; the default test
run starts it in a subprocess (tests/test_cuda_twins.py), which is how CI, without a
GPU, exercises the CUDA code.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM") != "1", reason="needs NUMBA_ENABLE_CUDASIM=1"
)

TOL = 1e-12


def _run(fn, *arrays, n_outputs):
    from numba import cuda

    dev = [
        cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in arrays
    ]
    fn(*dev)
    return [d.copy_to_host() for d in dev[-n_outputs:]]


@pytest.mark.parametrize("n_t", [1, 2, 9])
@pytest.mark.parametrize("n_b,order", [(1, 2), (3, 2), (2, 4), (1, 0)])
@pytest.mark.parametrize("tv", [False, True])
def test_allpole_cuda_twin_matches_cpu_twin(n_t, n_b, order, tv):
    from ddsp.kernels.allpole import (
        allpole_adjoint_cpu,
        allpole_adjoint_cuda,
        allpole_cpu,
        allpole_cuda,
    )

    rng = np.random.default_rng(0)
    n = 3
    x = rng.standard_normal((n, n_t))
    b = rng.standard_normal((n, n_t if tv else 1, n_b))
    a = rng.uniform(-0.3, 0.3, (n, n_t if tv else 1, order)) / max(order, 1)
    zx, zy = rng.standard_normal((n, n_b - 1)), rng.standard_normal((n, order))
    outs_cpu = [np.empty((n, n_t)), np.empty((n, n_b - 1)), np.empty((n, order))]
    allpole_cpu(x, b, a, zx, zy, *outs_cpu)
    outs_gpu = _run(
        allpole_cuda, x, b, a, zx, zy, *[np.empty_like(o) for o in outs_cpu], n_outputs=3
    )
    for c, g in zip(outs_cpu, outs_gpu):
        np.testing.assert_allclose(g, c, rtol=0, atol=TOL)

    grad = rng.standard_normal((n, n_t))
    y = outs_cpu[0]
    bufs = [
        np.empty((n, n_t)),
        np.empty((n, n_t)),
        np.empty(b.shape),
        np.empty(a.shape),
        np.empty(zx.shape),
        np.empty(zy.shape),
    ]
    allpole_adjoint_cpu(grad, x, b, a, zx, zy, y, *bufs)
    gpu = _run(
        allpole_adjoint_cuda,
        grad,
        x,
        b,
        a,
        zx,
        zy,
        y,
        *[np.empty_like(o) for o in bufs],
        n_outputs=6,
    )
    for c, g in list(zip(bufs, gpu))[1:]:  # bufs[0] is the scratch row u
        np.testing.assert_allclose(g, c, rtol=0, atol=TOL)


@pytest.mark.parametrize("n_t", [1, 2, 9])
@pytest.mark.parametrize("tv", [False, True])
def test_svf_cuda_twin_matches_cpu_twin(n_t, tv):
    from ddsp.kernels.svf import svf_adjoint_cpu, svf_adjoint_cuda, svf_cpu, svf_cuda

    rng = np.random.default_rng(1)
    n = 3
    x = rng.standard_normal((n, n_t))
    g = rng.uniform(0.05, 2.0, (n, n_t if tv else 1))
    k = rng.uniform(0.1, 1.9, (n, n_t if tv else 1))
    mix = np.array([0.3, -0.7, 1.1])
    s0 = rng.standard_normal((n, 2))
    outs = [np.empty((n, n_t)), np.empty((n, n_t, 2)), np.empty((n, 2))]
    svf_cpu(x, g, k, mix, s0, *outs)
    gpu = _run(svf_cuda, x, g, k, mix, s0, *[np.empty_like(o) for o in outs], n_outputs=3)
    for c, d in zip(outs, gpu):
        np.testing.assert_allclose(d, c, rtol=0, atol=TOL)

    gy, gsf = rng.standard_normal((n, n_t)), rng.standard_normal((n, 2))
    bufs = [np.empty((n, n_t)), np.empty(g.shape), np.empty(k.shape), np.empty((n, 2))]
    svf_adjoint_cpu(gy, x, g, k, mix, outs[1], gsf, *bufs)
    gpu = _run(
        svf_adjoint_cuda,
        gy,
        x,
        g,
        k,
        mix,
        outs[1],
        gsf,
        *[np.empty_like(o) for o in bufs],
        n_outputs=4,
    )
    for c, d in zip(bufs, gpu):
        np.testing.assert_allclose(d, c, rtol=0, atol=TOL)


@pytest.mark.parametrize("n_t,n_frames", [(1, 2), (9, 2), (13, 4)])
def test_harmonic_cuda_twin_matches_cpu_twin(n_t, n_frames):

    from ddsp.kernels.harmonic import (
        harmonic_adjoint_cpu,
        harmonic_adjoint_cuda,
        harmonic_cpu,
        harmonic_cuda,
        harmonic_phase_cpu,
        harmonic_phase_cuda,
    )

    from ddsp.functional import frame_interpolation

    rng = np.random.default_rng(2)
    n, n_h, sr = 2, 5, 8000.0
    f0 = rng.uniform(100, 1500, (n, n_t))  # some harmonics above Nyquist
    amps = rng.standard_normal((n, n_frames, n_h))
    p0 = rng.uniform(0, 1, n)
    index, weight, starts = (t.numpy() for t in frame_interpolation(n_frames, n_t))
    phases, p_end = np.empty((n, n_t)), np.empty(n)
    harmonic_phase_cpu(f0, p0, 1 / sr, phases, p_end)
    gpu = _run(
        harmonic_phase_cuda,
        f0,
        p0,
        1 / sr,
        np.empty_like(phases),
        np.empty_like(p_end),
        n_outputs=2,
    )
    np.testing.assert_allclose(gpu[0], phases, rtol=0, atol=TOL)
    np.testing.assert_allclose(gpu[1], p_end, rtol=0, atol=TOL)

    y = np.empty((n, n_t))
    harmonic_cpu(f0, amps, index, weight, starts, phases, sr / 2, y)
    (y_gpu,) = _run(
        harmonic_cuda,
        f0,
        amps,
        index,
        weight,
        starts,
        phases,
        sr / 2,
        np.empty_like(y),
        n_outputs=1,
    )
    np.testing.assert_allclose(y_gpu, y, rtol=0, atol=TOL)

    g = rng.standard_normal((n, n_t))
    bufs = [np.empty((n, n_t)), np.empty((n, n_frames - 1, n_h)), np.empty((n, n_frames - 1, n_h))]
    harmonic_adjoint_cpu(g, f0, amps, index, weight, starts, phases, sr / 2, *bufs)
    gpu = _run(
        harmonic_adjoint_cuda,
        g,
        f0,
        amps,
        index,
        weight,
        starts,
        phases,
        sr / 2,
        *[np.empty_like(b) for b in bufs],
        n_outputs=3,
    )
    for c, d in zip(bufs, gpu):
        np.testing.assert_allclose(d, c, rtol=0, atol=TOL)


@pytest.mark.parametrize("n_t,n_frames", [(1, 2), (11, 3)])
def test_sinusoidal_cuda_twin_matches_cpu_twin(n_t, n_frames):
    from ddsp.kernels.sinusoidal import (
        sinusoidal_adjoint_cpu,
        sinusoidal_adjoint_cuda,
        sinusoidal_cpu,
        sinusoidal_cuda,
    )

    from ddsp.functional import frame_interpolation

    rng = np.random.default_rng(3)
    n, n_k, sr = 2, 3, 8000.0
    f = rng.uniform(0, 5000, (n, n_frames, n_k))
    a = rng.standard_normal((n, n_frames, n_k))
    p0 = rng.uniform(0, 1, (n, n_k))
    index, weight, starts = (t.numpy() for t in frame_interpolation(n_frames, n_t))
    y, p, anchors = np.empty((n, n_t)), p0.copy(), np.empty((n, n_frames, n_k))
    sinusoidal_cpu(f, a, index, weight, starts, p, 1 / sr, sr / 2, y, anchors)
    gpu = _run(
        sinusoidal_cuda,
        f,
        a,
        index,
        weight,
        starts,
        p0.copy(),
        1 / sr,
        sr / 2,
        np.empty_like(y),
        np.empty_like(anchors),
        n_outputs=2,
    )
    np.testing.assert_allclose(gpu[0], y, rtol=0, atol=TOL)

    g = rng.standard_normal((n, n_t))
    bufs = [
        np.empty((n, n_k)),
        np.empty((n, n_k)),
        np.empty((n, n_frames, n_k)),
        np.empty((n, n_frames, n_k)),
        np.empty((n, n_k)),
    ]
    sinusoidal_adjoint_cpu(g, f, a, index, weight, starts, anchors, p, 1 / sr, sr / 2, *bufs)
    gpu = _run(
        sinusoidal_adjoint_cuda,
        g,
        f,
        a,
        index,
        weight,
        starts,
        anchors,
        p,
        1 / sr,
        sr / 2,
        *[np.empty_like(b) for b in bufs],
        n_outputs=3,
    )
    for c, d in zip(bufs[2:], gpu):
        np.testing.assert_allclose(d, c, rtol=0, atol=TOL)


@pytest.mark.parametrize("n_t", [1, 2, 17])
@pytest.mark.parametrize("tv", [False, True])
def test_envelope_mask_cuda_twin_matches_cpu_twin(n_t, tv):
    from ddsp.kernels.envelope import envelope_mask_cpu, envelope_mask_cuda

    rng = np.random.default_rng(4)
    n = 3
    g = rng.uniform(0, 1, (n, n_t))
    a = rng.uniform(0.3, 0.9, (n, n_t if tv else 1))
    r = rng.uniform(0.9, 0.99, (n, n_t if tv else 1))
    y0 = rng.uniform(0, 1, (n, 1))
    mask, y_end = np.empty((n, n_t), np.uint8), np.empty((n, 1))
    envelope_mask_cpu(g, a, r, y0, mask, y_end)
    gpu = _run(
        envelope_mask_cuda, g, a, r, y0, np.empty_like(mask), np.empty_like(y_end), n_outputs=2
    )
    np.testing.assert_array_equal(gpu[0], mask)
    np.testing.assert_allclose(gpu[1], y_end, rtol=0, atol=TOL)


@pytest.mark.parametrize("compress", [True, False])
def test_fused_dynamics_cuda_twin_matches_cpu_twin(compress):
    from ddsp.kernels.compressor import (
        dynamics_adjoint_cpu,
        dynamics_adjoint_cuda,
        dynamics_cpu,
        dynamics_cuda,
    )

    rng = np.random.default_rng(5)
    n, n_t = 2, 15
    x = rng.standard_normal((n, n_t)) * 0.5
    p = np.array([[-12.0, 4.0, 6.0, 0.6, 0.95, 1.2], [-6.0, 2.0, 0.0, 0.3, 0.99, 1.0]])
    y0 = np.ones((n, 1))
    outs = [np.empty((n, n_t)), np.empty((n, n_t)), np.empty((n, n_t), np.uint8)]
    outs += [np.empty((n, n_t)), np.empty((n, n_t))]  # static gain and level
    dynamics_cpu(x, p, y0, 1e-20, compress, *outs)
    gpu = _run(
        dynamics_cuda, x, p, y0, 1e-20, compress, *[np.empty_like(o) for o in outs], n_outputs=5
    )
    for c, d in zip(outs, gpu):
        np.testing.assert_allclose(d, c, rtol=0, atol=TOL)
    g = rng.standard_normal((n, n_t))
    bufs = [np.empty((n, n_t)), np.empty((n, 6)), np.empty((n, 1))]
    dynamics_adjoint_cpu(g, x, p, y0, 1e-20, compress, *outs[1:], *bufs)
    gpu = _run(
        dynamics_adjoint_cuda,
        g,
        x,
        p,
        y0,
        1e-20,
        compress,
        *outs[1:],
        *[np.empty_like(b) for b in bufs],
        n_outputs=3,
    )
    for c, d in zip(bufs, gpu):
        np.testing.assert_allclose(d, c, rtol=0, atol=TOL)


@pytest.mark.parametrize("tv, n_h, head", [(False, 0, 0), (True, 0, 0), (True, 9, 3)])
def test_delay_cuda_twin_matches_cpu_twin(tv, n_h, head):
    from ddsp.kernels.delay import delay_adjoint_cpu, delay_adjoint_cuda, delay_cpu, delay_cuda

    rng = np.random.default_rng(6)
    n, n_t = 2, 19
    x = rng.standard_normal((n, n_t))
    d = rng.uniform(1.0, 6.0, (n, n_t if tv else 1))
    fb = rng.uniform(-0.7, 0.7, (n, n_t if tv else 1))
    ring = rng.standard_normal((n, n_h))  # a stream's history of the line
    y = np.empty((n, n_t))
    delay_cpu(x, d, fb, ring, head, y)
    (y_gpu,) = _run(delay_cuda, x, d, fb, ring, head, np.empty_like(y), n_outputs=1)
    np.testing.assert_allclose(y_gpu, y, rtol=0, atol=TOL)
    g = rng.standard_normal((n, n_t))
    bufs = [np.empty((n, n_t)), np.empty((n, n_t)), np.empty(d.shape), np.empty(fb.shape)]
    delay_adjoint_cpu(g, x, d, fb, ring, head, y, *bufs)
    gpu = _run(
        delay_adjoint_cuda,
        g,
        x,
        d,
        fb,
        ring,
        head,
        y,
        *[np.empty_like(b) for b in bufs],
        n_outputs=3,
    )
    for c, e in zip(bufs[1:], gpu):
        np.testing.assert_allclose(e, c, rtol=0, atol=TOL)


@pytest.mark.parametrize("shared", [False, True])
def test_delay_network_cuda_twin_matches_cpu_twin(shared):
    from ddsp.kernels.fdn import (
        network_adjoint_cpu,
        network_adjoint_cuda,
        network_cpu,
        network_cuda,
    )

    rng = np.random.default_rng(7)
    r, n_t, n_l, n_in, n_out = 2, 17, 3, 1, 2
    rows = 1 if shared else r
    x = rng.standard_normal((r, n_in, n_t))
    B = rng.standard_normal((n_l, n_in))
    q = np.linalg.qr(rng.standard_normal((n_l, n_l)))[0]
    A = np.ascontiguousarray(np.broadcast_to(0.9 * q, (rows, n_l, n_l)))
    k = rng.uniform(0.2, 0.9, (rows, n_l))
    p = rng.uniform(-0.5, 0.5, (rows, n_l))
    m = rng.integers(1, 5, (rows, n_l))
    Ca, Cs = rng.standard_normal((1, n_out, n_l)), rng.standard_normal((1, n_out, n_l))
    Cs[0, 0, 1] = 0.0  # a skipped weight
    Dd = rng.standard_normal((1, n_out, n_in))
    outs = [np.empty((r, n_out, n_t)), np.empty((r, n_l, n_t)), np.empty((r, n_l, n_t))]
    block = int(m.min())
    network_cpu(x, B, A, k, p, m, Ca, Cs, Dd, *outs, block)
    gpu = _run(
        lambda *z: network_cuda(*z, block),
        x, B, A, k, p, m, Ca, Cs, Dd, *[np.empty_like(o) for o in outs],
        n_outputs=3,
    )  # fmt: skip
    for c, g in zip(outs, gpu):
        np.testing.assert_allclose(g, c, rtol=0, atol=TOL)
    gy = rng.standard_normal(outs[0].shape)
    bufs = [
        np.empty((r, n_l, n_t)),
        np.empty((r, n_l, block)),
        np.empty_like(x),
        np.empty((r, n_l, n_in)),
        np.empty((r, n_l, n_l)),
        np.empty((r, n_l)),
        np.empty((r, n_l)),
        np.empty((r, n_out, n_l)),
        np.empty((r, n_out, n_l)),
        np.empty((r, n_out, n_in)),
    ]
    network_adjoint_cpu(gy, x, B, A, k, p, m, Ca, Cs, Dd, outs[1], outs[2], *bufs)
    gpu = _run(
        network_adjoint_cuda,
        gy, x, B, A, k, p, m, Ca, Cs, Dd, outs[1], outs[2],
        *[np.empty_like(b) for b in bufs],
        n_outputs=len(bufs) - 2,
    )  # fmt: skip
    for c, g in zip(bufs[2:], gpu):
        np.testing.assert_allclose(g, c, rtol=0, atol=TOL)


def test_viterbi_cuda_twin_matches_cpu_twin():
    from ddsp.kernels.viterbi import viterbi_cpu, viterbi_cuda

    rng = np.random.default_rng(8)
    obs = np.log(rng.uniform(0.01, 1, (2, 12, 3)))
    obs[rng.uniform(size=obs.shape) < 0.3] = -np.inf
    obs[0, 4:6] = -np.inf
    q = rng.uniform(6, 10, (2, 12, 3))
    outs = [np.empty((2, 2, 3)), np.empty((2, 12, 3), np.int64), np.empty((2, 12), np.int64)]
    viterbi_cpu(obs, q.copy(), 0.05, *outs)
    (path,) = _run(
        lambda *z: viterbi_cuda(*z),
        obs, q.copy(), 0.05, *[np.empty_like(o) for o in outs],
        n_outputs=1,
    )  # fmt: skip
    np.testing.assert_array_equal(path, outs[2])


def test_sos_cuda_twin_matches_cpu_twin():
    from ddsp.kernels.sos import sos_cpu, sos_cuda

    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 23))
    sos = np.array([[0.2, 0.3, 0.1, -0.5, 0.2], [1.0, -1.2, 0.4, -0.9, 0.3]])
    zx, zy = rng.standard_normal((3, 2, 2)), rng.standard_normal((3, 2, 2))
    y = np.empty_like(x)
    zx_c, zy_c = zx.copy(), zy.copy()
    sos_cpu(x, sos, zx_c, zy_c, y)
    zx_g, zy_g, y_g = _run(sos_cuda, x, sos, zx, zy, np.empty_like(y), n_outputs=3)
    for got, want in ((y_g, y), (zx_g, zx_c), (zy_g, zy_c)):
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


@pytest.mark.parametrize("rms, linked", [(True, True), (False, False)])
def test_streaming_dynamics_cuda_twin_matches_cpu_twin(rms, linked):
    from ddsp.kernels.compressor import dynamics_stream_cpu, dynamics_stream_cuda

    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 2, 31))
    p = np.array([[-20.0, 4.0, 6.0, 0.9, 0.99, 1.5], [-10.0, 2.0, 0.0, 0.5, 0.999, 1.0]])
    power, gain = rng.random((2, 2)), rng.random((2, 1 if linked else 2))
    y = np.empty_like(x)
    pw, gn = power.copy(), gain.copy()
    dynamics_stream_cpu(x, p, 0.95, pw, gn, 1e-20, True, rms, y)
    out = _run(dynamics_stream_cuda, x, p, 0.95, power, gain, 1e-20, True, rms, np.empty_like(y),
               n_outputs=1)  # fmt: skip
    np.testing.assert_allclose(out[0], y, rtol=0, atol=TOL)


def test_spectral_mac_cuda_twin_matches_cpu_twin():
    from ddsp.kernels.partitioned import spectral_mac_cpu, spectral_mac_cuda

    rng = np.random.default_rng(13)
    ring = rng.standard_normal((2, 3, 9)) + 1j * rng.standard_normal((2, 3, 9))
    spectra = rng.standard_normal((6, 9)) + 1j * rng.standard_normal((6, 9))
    out = np.empty((2, 9), np.complex128)
    spectral_mac_cpu(ring, spectra, 2, out)
    (got,) = _run(spectral_mac_cuda, ring, spectra, 2, np.empty_like(out), n_outputs=1)
    np.testing.assert_allclose(got, out, rtol=0, atol=TOL)
