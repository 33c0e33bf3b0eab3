"""The streaming contract, over the whole registry: every processor, streamed in blocks of
any size, equals its offline output delayed by its reported latency; reset replays
bit-identically; bad blocks are refused without touching the state; gradients flow."""

from __future__ import annotations

import math

import pytest
import torch

import ddsp
from ddsp import PROCESSORS, Stream
from ddsp.functional.noise import frames_starting
from tests.helpers import CHANNELS, EFFECTS, SR

BLOCKS = (1, 32, 64, 128, 441, 512, 2048)
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
HOP = 64  # frame size of the frame-driven sources


class Case:
    """How to run one processor offline on a whole signal and streamed block by block."""

    def __init__(self, name: str, n: int, dtype: torch.dtype, channels: int | None = None):
        gen = torch.Generator().manual_seed(sum(map(ord, name)))
        self.name, self.n, self.dtype = name, n, dtype
        self.frame_size = None
        self.proc = _build(name)
        self.channels = channels or CHANNELS.get(name, 2)
        if name in EFFECTS:
            self.x = torch.randn(2, self.channels, n, generator=gen, dtype=dtype) * 0.5
            self.inputs: dict = {}
        else:
            self.x = None
            self.inputs = _source_inputs(name, n, gen, dtype)
            if name in ("FilteredNoise",):
                self.frame_size = HOP
            if name == "HarmonicFrames":
                self.frame_size = HOP

    def offline(self) -> torch.Tensor:
        with torch.no_grad():
            if self.x is not None:
                return self.proc(self.x)
            p, i, n = self.proc, self.inputs, self.n
            name = type(p).__name__
            if name in ("Oscillator", "FM", "Wavetable"):
                return p(i["f0_hz"], n)
            if name == "ADSR":
                return p(i["gate"])
            if name == "LFO":
                return p(n, 2, self.dtype)
            if name == "FilteredNoise":  # offline frames back to back: hop = samples / frames
                return p(i["magnitudes"], i["magnitudes"].shape[1] * HOP)
            if self.frame_size:  # Harmonic, frames ends aligned: (frames - 1) hop + 1 samples
                f = i["f0_hz"].shape[-1] - 1
                k = slice(0, f)
                a, d = i["amplitude"][:, k], i["harmonic_distribution"][:, k]
                return p(i["f0_hz"][:, k], a, d, n_samples=(f - 1) * HOP + 1)
            return p(i["f0_hz"], i["amplitude"], i["harmonic_distribution"], n_samples=n)

    def stream(self) -> Stream:
        return Stream(
            self.proc,
            channels=self.channels,
            batch=2,
            dtype=self.dtype,
            frame_size=self.frame_size,
        )

    def block(self, start: int, n: int) -> tuple[torch.Tensor | None, dict]:
        if self.x is not None:
            return self.x[..., start : start + n], {}
        out: dict = {}
        for key, value in self.inputs.items():
            if self.frame_size and key in type(self.proc).frame_inputs:
                k0 = frames_starting(0, start, self.frame_size)
                k = frames_starting(start, n, self.frame_size)
                out[key] = value[:, k0 : k0 + k]
            else:
                out[key] = value[:, start : start + n]
        if self.x is None:
            out["n_samples"] = n
        return None, out

    def run(self, stream: Stream, sizes: list[int]) -> torch.Tensor:
        outs, pos = [], 0
        for n in sizes:
            x, inputs = self.block(pos, n)
            n_samples = inputs.pop("n_samples", None)
            y = stream.process(x, n_samples=n_samples, **inputs)
            outs.append(y.detach())
            pos += n
        return torch.cat(outs, -1)


def _build(name: str) -> ddsp.Processor:
    if name in EFFECTS:
        return EFFECTS[name]()
    if name == "FilteredNoise":
        return ddsp.FilteredNoise(SR, seed=3, n_bands=17)
    if name in ("Harmonic", "HarmonicFrames"):
        return ddsp.Harmonic(SR, n_harmonics=8)
    return {
        "Oscillator": lambda: ddsp.Oscillator(SR, shape="pulse", width=0.3),
        "FM": lambda: ddsp.FM(SR, ratio=2.0, index=3.0),
        "Wavetable": lambda: ddsp.Wavetable(SR, table_size=64),
        "ADSR": lambda: ddsp.ADSR(SR, attack_ms=5.0, decay_ms=10.0, release_ms=10.0),
        "LFO": lambda: ddsp.LFO(SR, shape="triangle", rate_hz=30.0),
    }[name]()


def _source_inputs(name: str, n: int, gen: torch.Generator, dtype: torch.dtype) -> dict:
    def f0() -> torch.Tensor:  # a gliding pitch with some jitter, per sample
        t = torch.arange(n, dtype=torch.float64) / SR
        glide = 220.0 * 2 ** (torch.sin(2 * math.pi * 3 * t)[None] / 2)
        return (glide + 5 * torch.rand(2, n, generator=gen, dtype=torch.float64)).to(dtype)

    if name in ("Oscillator", "FM", "Wavetable"):
        return {"f0_hz": f0()}
    if name == "ADSR":
        gate = (torch.rand(2, n // 97 + 1, generator=gen) > 0.4).to(dtype)
        return {"gate": gate.repeat_interleave(97, -1)[:, :n]}
    if name == "LFO":
        return {}
    if name == "FilteredNoise":
        frames = -(-n // HOP)
        return {"magnitudes": torch.rand(2, frames, 17, generator=gen, dtype=dtype)}
    if name == "HarmonicFrames":
        frames = n // HOP + 2
        return {
            "f0_hz": 200 + 100 * torch.rand(2, frames, generator=gen, dtype=dtype),
            "amplitude": torch.rand(2, frames, generator=gen, dtype=dtype),
            "harmonic_distribution": torch.rand(2, frames, 8, generator=gen, dtype=dtype),
        }
    return {  # Harmonic, per sample
        "f0_hz": f0(),
        "amplitude": torch.rand(2, n, generator=gen, dtype=dtype),
        "harmonic_distribution": torch.rand(2, n, 8, generator=gen, dtype=dtype),
    }


NAMES = sorted(PROCESSORS) + ["HarmonicFrames"]


def _compare(case: Case, streamed: torch.Tensor, offline: torch.Tensor, latency: int) -> float:
    n = min(streamed.shape[-1] - latency, offline.shape[-1])
    got, want = streamed[..., latency : latency + n], offline[..., :n]
    scale = max(float(want.abs().max()), 1.0)
    return float((got - want).abs().max()) / scale


def _sizes(total: int, size: int | None, gen: torch.Generator) -> list[int]:
    out, left = [], total
    while left > 0:
        n = size or int(torch.randint(1, 700, (), generator=gen))
        out.append(min(n, left))
        left -= out[-1]
    return out


def test_every_processor_of_the_registry_is_streamed_here():
    assert set(PROCESSORS) <= set(NAMES)  # a new processor must stream to pass


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_streamed_output_equals_offline_delayed_by_the_latency(name, dtype):
    # inference (no gradients): the fast paths where a processor has them
    case = Case(name, 2300, dtype)
    offline = case.offline()
    stream = case.stream()
    gen = torch.Generator().manual_seed(1)
    sizes = BLOCKS[1:] if dtype == torch.float32 else (441,)  # float64: the exactness
    with torch.no_grad():
        for size in (*sizes, None):  # block sizes, then a random size on every call
            stream.reset()
            streamed = case.run(stream, _sizes(case.n, size, gen))
            err = _compare(case, streamed, offline, stream.latency_samples)
            assert err < TOL[dtype], (name, size, err)
        short = Case(name, 200, dtype)  # blocks of one sample, on a short signal
        stream = short.stream()
        streamed = short.run(stream, [1] * 200)
    err = _compare(short, streamed, short.offline(), stream.latency_samples)
    assert err < TOL[dtype], (name, 1, err)


@pytest.mark.parametrize("name", NAMES)
def test_the_differentiable_stream_equals_offline_too(name):
    # with gradients on, every block takes the differentiable path (numba kernels and
    # their adjoints), whatever fast path the processor has
    case = Case(name, 1500, torch.float32)
    stream = case.stream()
    streamed = case.run(stream, _sizes(case.n, None, torch.Generator().manual_seed(2)))
    err = _compare(case, streamed, case.offline(), stream.latency_samples)
    assert err < TOL[torch.float32], (name, err)


@pytest.mark.parametrize("name", sorted(n for n in EFFECTS if n not in CHANNELS))
def test_mono_effects_stream_too(name):
    case = Case(name, 1500, torch.float32, channels=1)
    stream = case.stream()
    streamed = case.run(stream, [100, 377, 1023])
    assert _compare(case, streamed, case.offline(), stream.latency_samples) < 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_reset_replays_bit_identically(name):
    case = Case(name, 1300, torch.float32)
    stream = case.stream()
    sizes = [300, 1, 499, 500]
    first = case.run(stream, sizes)
    stream.reset()
    assert torch.equal(case.run(stream, sizes), first)


@pytest.mark.parametrize("name", NAMES)
def test_the_reported_latency_is_the_measured_delay(name):
    case = Case(name, 2400, torch.float64)
    stream = case.stream()
    streamed, offline = case.run(stream, [256] * 9 + [96]), case.offline()
    errors = [_compare(case, streamed, offline, lag) for lag in range(0, 100)]
    assert min(range(100), key=errors.__getitem__) == stream.latency_samples


@pytest.mark.parametrize("name", NAMES)
def test_gradients_flow_through_a_streamed_pass(name):
    case = Case(name, 700, torch.float32)
    if "amplitude" in case.inputs:  # Harmonic: driven by its inputs
        case.inputs["amplitude"].requires_grad_()
    stream = case.stream()
    outs, pos = [], 0
    for n in (300, 400):
        x, inputs = case.block(pos, n)
        n_samples = inputs.pop("n_samples", None)
        outs.append(stream.process(x, n_samples=n_samples, **inputs))
        pos += n
    torch.cat(outs, -1).square().mean().backward()
    if "amplitude" in case.inputs:
        grad = case.inputs["amplitude"].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    proc = case.proc
    for pname, p in proc.named_parameters():
        spec = pname.removeprefix("raw_")
        if spec in proc.nondifferentiable or (name in ("Harmonic", "HarmonicFrames")):
            continue  # Harmonic here is driven by its inputs, not its gain/tilt
        if (name, spec) == ("LFO", "phase"):
            continue  # where a stream starts: its state, which carries no gradient
        assert p.grad is not None and torch.isfinite(p.grad).all(), (name, pname)


@pytest.mark.parametrize("name", ["Biquad", "Delay", "Compressor", "FDNReverb", "NoiseReverb"])
def test_a_bad_block_leaves_the_state_as_it_was(name):
    case = Case(name, 900, torch.float32)
    good = case.run(case.stream(), [300, 600])
    stream = case.stream()
    first, _ = case.block(0, 300)
    y1 = stream.process(first)
    bad = first.clone()
    bad[0, 0, 5] = math.nan
    for block, match in (
        (bad, "NaN"),
        (first[:, :1] if case.channels == 2 else torch.cat([first, first], 1), "channels"),
        (first.double(), "dtype"),
        (first[0], "shape"),
    ):
        with pytest.raises((ValueError, TypeError), match=match):
            stream.process(block)
    with pytest.raises(ValueError, match="Hz"):
        stream.process(first, sample_rate=SR * 2)
    second, _ = case.block(300, 600)
    assert torch.equal(torch.cat([y1, stream.process(second)], -1).detach(), good)


def test_automation_ramps_a_changed_parameter_across_the_block():
    eq = ddsp.Biquad(SR, kind="peaking", cutoff_hz=1000.0, gain_db=0.0)
    stream = Stream(eq, channels=1)
    x1, x2 = torch.randn(1, 1, 512), torch.randn(1, 1, 512)
    with torch.no_grad():
        stream.process(x1)
        eq.gain_db = 12.0  # a jump between blocks
        y2 = stream.process(x2)
    # expected: the same filter, its gain ramped per sample in the spec's normalized units
    # (linear in dB here) from 0 dB before the block to 12 dB on its last sample
    _, state = ddsp.functional.biquad(
        x1, "peaking", 1000.0, 0.7071, 0.0, sample_rate=SR, return_state=True
    )
    ramp = (12.0 * torch.arange(1, 513) / 512).reshape(1, 1, 512)
    want = ddsp.functional.biquad(x2, "peaking", 1000.0, 0.7071, ramp, sample_rate=SR, zi=state)
    assert float((y2 - want).abs().max()) < 1e-5
    with torch.no_grad():  # the next block holds the new value: no ramp
        y3 = stream.process(x2)
        _, state = ddsp.functional.biquad(
            x2, "peaking", 1000.0, 0.7071, ramp, sample_rate=SR, zi=state, return_state=True
        )
        want = ddsp.functional.biquad(x2, "peaking", 1000.0, 0.7071, 12.0, sample_rate=SR, zi=state)
    assert float((y3 - want).abs().max()) < 1e-5


@pytest.mark.parametrize("preset", ["chains/vocal_chain", "chains/hall", "chains/slapback"])
def test_numpy_blocks_take_the_fast_path_and_equal_the_offline_chain(preset):
    chain = ddsp.load_preset(preset, sample_rate=16_000)
    x = (torch.randn(2, 6000, generator=torch.Generator().manual_seed(3)) * 0.3).numpy()
    want = chain(x, sample_rate=16_000)
    stream = Stream(chain, channels=2)
    got, pos = [], 0
    for n in (128, 1, 1000, 4871):
        got.append(stream.process(x[:, pos : pos + n]))
        pos += n
    got = torch.from_numpy(__import__("numpy").concatenate(got, -1))
    assert float((got - torch.from_numpy(want)).abs().max()) < 1e-5


def test_the_fast_kernels_equal_their_references():
    from ddsp.kernels.compressor import dynamics_stream_cpu, dynamics_stream_reference
    from ddsp.kernels.sos import sos_cpu, sos_reference

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 257, dtype=torch.float64, generator=gen)
    sos = torch.tensor(
        [[0.2, 0.3, 0.1, -0.5, 0.2], [1.0, -1.2, 0.4, -0.9, 0.3]], dtype=torch.float64
    )
    zx, zy = (
        torch.randn(3, 2, 2, dtype=torch.float64, generator=gen),
        torch.zeros(3, 2, 2, dtype=torch.float64),
    )
    want, wzx, wzy = sos_reference(x, sos, zx, zy)
    y, zx2, zy2 = torch.empty_like(x), zx.clone(), zy.clone()
    sos_cpu(x.numpy(), sos.numpy(), zx2.numpy(), zy2.numpy(), y.numpy())
    assert torch.allclose(y, want, atol=1e-12) and torch.allclose(zx2, wzx, atol=1e-12)
    assert torch.allclose(zy2, wzy, atol=1e-12)
    xb = torch.randn(2, 2, 300, dtype=torch.float64, generator=gen)
    p = torch.tensor(
        [[-20.0, 4.0, 6.0, 0.9, 0.99, 1.5], [-10.0, 2.0, 0.0, 0.5, 0.999, 1.0]], dtype=torch.float64
    )
    for rms, linked, compress in ((True, True, True), (False, False, True), (True, False, False)):
        power = torch.rand(2, 2, dtype=torch.float64, generator=gen)
        gain = torch.rand(2, 1 if linked else 2, dtype=torch.float64, generator=gen)
        want, wp, wg = dynamics_stream_reference(xb, p, 0.95, power, gain, 1e-20, compress, rms)
        y = torch.empty_like(xb)
        power2, gain2 = power.clone(), gain.clone()
        dynamics_stream_cpu(
            xb.numpy(),
            p.numpy(),
            0.95,
            power2.numpy(),
            gain2.numpy(),
            1e-20,
            compress,
            rms,
            y.numpy(),
        )
        assert torch.allclose(y, want, atol=1e-12), (rms, linked, compress)
        assert torch.allclose(gain2, wg, atol=1e-12) and torch.allclose(power2, wp, atol=1e-12)


def test_the_spectral_sum_kernel_equals_its_reference():
    from ddsp.kernels.partitioned import spectral_mac_cpu, spectral_mac_reference

    gen = torch.Generator().manual_seed(4)
    ring = torch.randn(2, 5, 17, dtype=torch.complex128, generator=gen)
    spectra = torch.randn(10, 17, dtype=torch.complex128, generator=gen)
    out = torch.empty(2, 17, dtype=torch.complex128)
    spectral_mac_cpu(ring.numpy(), spectra.numpy(), 3, out.numpy())
    assert torch.allclose(out, spectral_mac_reference(ring, spectra, 3), atol=1e-12)
