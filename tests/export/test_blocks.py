"""Export blocks of the filters, dynamics and memoryless effects: eager, TorchScript and
torch.export forms each match the library's stream, block by block, state carried."""

from __future__ import annotations

import math

import pytest
import scipy.signal
import torch

import ddsp
from ddsp.export.blocks.dynamics import attack_release, first_order
from ddsp.export.blocks.linear import cascade_state_space, sub_block_matrices
from ddsp.export.build import build_block
from tests.helpers import max_rel_err

SR = 48_000
SIZES = (512, 100, 1, 700, 2048, 33, 0, 64)
TOL = 1e-5


def _cases() -> dict[str, tuple]:
    """name -> (processor factory, input channels)."""
    return {
        "Biquad-peaking": (lambda: ddsp.Biquad(SR, kind="peaking", cutoff_hz=900.0, gain_db=4), 2),
        "Biquad-lowpass": (lambda: ddsp.Biquad(8000, kind="lowpass", cutoff_hz=5000.0, q=4.0), 1),
        "ParametricEQ": (lambda: ddsp.load_preset("chains/vocal_chain")[0], 2),
        "SVF-bandpass": (lambda: ddsp.SVF(SR, mode="bandpass", cutoff_hz=700.0, resonance=0.9), 2),
        "SVF-notch": (lambda: ddsp.SVF(8000, mode="notch", cutoff_hz=5000.0), 1),
        "Compressor-rms": (lambda: ddsp.load_preset("chains/vocal_chain")[1], 2),
        "Compressor-fast": (
            lambda: ddsp.Compressor(
                SR,
                threshold_db=-30.0,
                ratio=8.0,
                attack_ms=0.05,
                release_ms=20.0,
                knee_db=0.0,
                link_channels=False,
            ),
            2,
        ),  # fmt: skip
        "Compressor-envelope": (  # JUCE's detector: the level smoothed, not the gain
            lambda: ddsp.Compressor(
                SR,
                detector="envelope",
                threshold_db=-24.0,
                ratio=4.0,
                attack_ms=2.0,
                release_ms=60.0,
                knee_db=3.0,
            ),
            2,
        ),  # fmt: skip
        "Compressor-envelope-apart": (
            lambda: ddsp.Compressor(
                SR,
                detector="envelope",
                threshold_db=-30.0,
                ratio=8.0,
                attack_ms=0.05,
                release_ms=20.0,
                link_channels=False,
            ),
            2,
        ),  # fmt: skip
        "ParametricEQ-no-cuts": (
            lambda: ddsp.ParametricEQ(
                SR, low_cut=False, high_cut=False, peak2_db=6.0, high_shelf_db=-4.0
            ),
            2,
        ),
        "Expander": (lambda: ddsp.Expander(SR, threshold_db=-20.0, ratio=3.0, attack_ms=1.0), 2),
        "Limiter": (lambda: ddsp.Limiter(8000, threshold_db=-12.0, attack_ms=0.01), 2),
        "Gain": (lambda: ddsp.Gain(SR, gain_db=-7.5), 2),
        "Distortion": (lambda: ddsp.Distortion(SR, shape="asymmetric", bias=0.2, mix=0.8), 2),
        "Distortion-soft": (lambda: ddsp.Distortion(SR, shape="soft", drive_db=20.0), 1),
        "Panner-mono": (lambda: ddsp.Panner(SR, position=0.3), 1),
        "Panner-stereo": (lambda: ddsp.Panner(SR, position=-0.6), 2),
        "StereoWidth": (lambda: ddsp.StereoWidth(SR, width=1.4), 2),
    }


CASES = _cases()


def _signal(channels: int, n: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """Noise bursts of changing level (the dynamics see attacks and releases)."""
    gen = torch.Generator().manual_seed(seed)
    level = torch.rand(batch, 1, n // 300 + 1, generator=gen).repeat_interleave(300, -1)[..., :n]
    return torch.randn(batch, channels, n, generator=gen) * level


class _Wrap(torch.nn.Module):
    def __init__(self, block: torch.nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, {})


def _compare(run, proc, channels: int, batch: int = 1, sizes=SIZES) -> float:
    stream = ddsp.Stream(proc, channels=channels, batch=batch)
    x = _signal(channels, sum(sizes), batch)
    err, pos = 0.0, 0
    for n in sizes:
        block = x[..., pos : pos + n]
        pos += n
        with torch.no_grad():
            want = stream.process(block)
            got = run(block)
        assert got.shape == want.shape and got.dtype == torch.float32
        err = max(err, max_rel_err(got, want))
    return err


def _block(name: str, channels: int, block_size: int = 512):
    proc = CASES[name][0]()
    return proc, build_block(proc, channels=channels, block_size=block_size)


@pytest.mark.parametrize("name", list(CASES))
def test_eager_and_scripted_blocks_match_the_stream(name):
    channels = CASES[name][1]
    proc, block = _block(name, channels)
    assert _compare(lambda x: block(x, {}), proc, channels) < TOL
    scripted = torch.jit.script(_block(name, channels)[1])
    assert _compare(lambda x: scripted(x, {}), proc, channels) < TOL


@pytest.mark.parametrize(
    "name",
    [
        "ParametricEQ",
        "ParametricEQ-no-cuts",
        "SVF-bandpass",
        "Compressor-rms",
        "Compressor-envelope",
        "Compressor-envelope-apart",
        "Distortion",
    ],
)
def test_exported_blocks_match_the_stream(name):
    channels = CASES[name][1]
    proc, block = _block(name, channels)
    x = _signal(channels, 512)
    program = torch.export.export(_Wrap(block), (x,)).module()
    sizes = (512,) * 6  # an exported program keeps the block size it was traced with
    assert _compare(program, proc, channels, sizes=sizes) < TOL


def test_exported_dynamics_take_extra_rounds_exactly():
    """A fast attack needs more policy rounds than the fixed ones: the while loop runs."""
    proc, block = _block("Compressor-fast", 2)
    x = _signal(2, 256)
    program = torch.export.export(_Wrap(block), (x,)).module()
    assert _compare(program, proc, 2, sizes=(256,) * 8) < TOL


@pytest.mark.parametrize("name", ["ParametricEQ", "Compressor-fast", "Panner-mono"])
def test_batches_and_reset(name):
    channels = CASES[name][1]
    proc, block = _block(name, channels)
    block.allocate(4)
    assert _compare(lambda x: block(x, {}), proc, channels, batch=4) < TOL
    x = _signal(channels, 900, batch=4, seed=3)
    block.reset()
    first = block(x, {})
    block(x, {})
    block.reset()
    assert torch.equal(block(x, {}), first)


def test_knobs_move_at_block_boundaries_like_a_stepped_stream():
    chain = ddsp.load_preset("chains/vocal_chain")
    model = ddsp.export.export_model(chain, knobs=["1.threshold_db", "ParametricEQ.peak2_db"])
    same = ddsp.export.export_model(chain, knobs=["Compressor.threshold_db", "0.peak2_db"])
    scripted = torch.jit.script(same)
    stream = ddsp.Stream(chain, channels=2, automation="step")
    x = _signal(2, 512 * 6)
    knobs = torch.tensor(model.knob_defaults)
    for i in range(6):
        if i == 3:
            knobs = torch.tensor([0.2, 0.9])
            chain[1].threshold_db = chain[1].spec("threshold_db").to_physical(0.2)
            chain[0].peak2_db = chain[0].spec("peak2_db").to_physical(0.9)
        block = x[..., 512 * i : 512 * (i + 1)]
        with torch.no_grad():
            want = stream.process(block)
            assert max_rel_err(model(block, knobs), want) < TOL
            assert max_rel_err(scripted(block, knobs), want) < TOL


def test_a_stepped_stream_is_a_ramp_reached_in_one_sample():
    """``automation="step"`` equals the ramp over a one-sample block (the ramp's end)."""
    proc = ddsp.Biquad(SR, kind="peaking", cutoff_hz=900.0, gain_db=4.0)
    x = _signal(2, 1024)
    step = ddsp.Stream(proc, channels=2, automation="step")
    ramp = ddsp.Stream(proc, channels=2)
    with torch.no_grad():
        a = [step.process(x[..., :512])]
        b = [ramp.process(x[..., :512])]
        proc.cutoff_hz = 2000.0
        a.append(step.process(x[..., 512:]))
        b += [ramp.process(x[..., 512:513]), ramp.process(x[..., 513:])]
    assert torch.allclose(torch.cat(a, -1), torch.cat(b, -1), atol=1e-6)
    with pytest.raises(ValueError, match="automation"):
        ddsp.Stream(proc, automation="smooth")


# --------------------------------------------------------------------------- the maths


def test_state_space_matches_scipy():
    """The closed form over sub-blocks (any block length) equals scipy's sosfilt."""
    sos = scipy.signal.butter(4, 0.1, output="sos")
    b = torch.tensor(sos[:, :3])
    a = torch.tensor(sos[:, 3:])
    mats = cascade_state_space(b, a)
    t, o, p, g = sub_block_matrices(*mats, 16)
    x = torch.randn(70, dtype=torch.float64)
    s = torch.zeros(mats[0].shape[0], dtype=torch.float64)
    ys = []
    for start in range(0, 70, 16):  # four full sub-blocks and a remainder of 6
        xb = x[start : start + 16]
        r = xb.shape[0]
        ys.append(t[:r, :r] @ xb + o[:r] @ s)
        s = p[r] @ s + g[:r].flip(0).t() @ xb
    want = scipy.signal.sosfilt(sos, x.numpy())
    assert float((torch.cat(ys) - torch.from_numpy(want)).abs().max()) < 1e-12


def _first_order_reference(log_c, g, y0):
    c = torch.exp(log_c)
    y, out = y0.clone(), []
    for i in range(g.shape[1]):
        y = c[:, i] * y + (1 - c[:, i]) * g[:, i]
        out.append(y)
    return torch.stack(out, 1)


@pytest.mark.parametrize("length", [1, 7, 64, 300])
def test_first_order_closed_form(length):
    """Exact for any chunking, including coefficients whose products underflow."""
    gen = torch.Generator().manual_seed(length)
    log_c = -torch.rand(3, 300, generator=gen, dtype=torch.float64) * 2.0
    g = torch.rand(3, 300, generator=gen, dtype=torch.float64)
    y0 = torch.rand(3, dtype=torch.float64)
    want = _first_order_reference(log_c, g, y0)
    length = min(length, 300)  # -sum(log c) over a chunk stays below the 600 bound
    assert float((first_order(log_c, g, y0, length) - want).abs().max()) < 1e-12


def test_attack_release_matches_the_kernel_reference():
    from ddsp.kernels.compressor import dynamics_reference

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 400, generator=gen, dtype=torch.float64)
    p = torch.tensor([[-20.0, 4.0, 6.0, 0.3, 0.99, 1.0]] * 2, dtype=torch.float64)
    y0 = torch.ones(2, 1, dtype=torch.float64)
    want = dynamics_reference(x, p, y0, 1e-10, True)
    level = 10.0 / math.log(10.0) * torch.log(x**2 + 1e-10) + 20.0
    width, slope = 6.0, 1 / 4 - 1
    db = torch.where(level >= width / 2, slope * level, slope * (level + width / 2) ** 2 / 12)
    g = torch.exp(math.log(10) / 20 * torch.where(level <= -width / 2, 0.0, db))
    got = x * attack_release(g, y0[:, 0], 0.3, 0.99)
    assert float((got - want).abs().max()) < 1e-12
