"""Export blocks of the delays and reverbs: eager, TorchScript and torch.export
forms each match the library's stream, block by block, state carried; knobs move as a
parameter set between blocks."""

from __future__ import annotations

import pytest
import torch

import ddsp
from ddsp.export.blocks.base import ExportError
from ddsp.export.blocks.registry_delays import DELAY_BUILDERS
from ddsp.export.blocks.reverb import head_size, level_sizes
from tests.helpers import EFFECTS, max_rel_err

SR = 48_000
SIZES = (512, 100, 1, 700, 2048, 33, 0, 64)
LONG = SIZES * 3  # 10374 samples: long echoes come back, every reverb level completes
TOL = 1e-5

# nn~ and Neutone load TorchScript; torch >= 2.10 warns that it is deprecated
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")

# name -> (processor factory, input channels, block sizes)
CASES = {
    # the registry's settings (tests/helpers.py, 16 kHz): short loops, many sub-blocks
    "Delay": (EFFECTS["Delay"], 2, SIZES),
    "PingPongDelay": (EFFECTS["PingPongDelay"], 2, SIZES),
    "Chorus": (EFFECTS["Chorus"], 2, SIZES),
    "Flanger": (EFFECTS["Flanger"], 2, SIZES),
    "Chorus-dry-loop": (lambda: ddsp.Chorus(16_000, rate_hz=3.0, depth_ms=4.0), 2, SIZES),
    "ConvolutionReverb": (EFFECTS["ConvolutionReverb"], 2, SIZES),
    "NoiseReverb": (EFFECTS["NoiseReverb"], 2, SIZES),
    "FDNReverb": (EFFECTS["FDNReverb"], 1, SIZES),
    "Freeverb": (EFFECTS["Freeverb"], 2, SIZES),
    # realistic settings at 48 kHz
    "Delay-48k": (lambda: ddsp.Delay(SR, delay_ms=120.0, feedback=0.5, mix=0.4), 2, LONG),
    "PingPongDelay-48k-mono": (
        lambda: ddsp.PingPongDelay(SR, delay_ms=80.0, feedback=0.6, mix=0.5),
        1,
        LONG,
    ),
    "Chorus-48k": (lambda: ddsp.Chorus(SR, rate_hz=0.8, depth_ms=2.5, centre_ms=15.0), 2, LONG),
    "Chorus-phase": (  # an LFO that starts half a turn in (a match of JUCE's chorus)
        lambda: ddsp.Chorus(SR, lfo_phase=0.5, rate_hz=1.5, depth_ms=3.0, centre_ms=9.0),
        2,
        LONG,
    ),
    "Flanger-48k": (
        lambda: ddsp.Flanger(SR, rate_hz=0.5, depth_ms=1.5, centre_ms=3.0, feedback=0.7),
        2,
        LONG,
    ),
    "ConvolutionReverb-48k": (lambda: ddsp.ConvolutionReverb(SR, ir_seconds=0.25), 2, LONG),
    "NoiseReverb-48k": (
        lambda: ddsp.NoiseReverb(SR, max_seconds=0.5, rt60_s=0.4, mix=0.3),
        2,
        LONG,
    ),
    "FDNReverb-48k": (lambda: ddsp.FDNReverb(SR, rt60_s=1.5, pre_delay_ms=12.0), 2, LONG),
    "Freeverb-48k-mono": (
        lambda: ddsp.Freeverb(SR, room_size=0.8, damping=0.4, width=0.7, mix=0.3),
        1,
        LONG,
    ),
}


def _signal(channels: int, n: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """Noise bursts of changing level."""
    gen = torch.Generator().manual_seed(seed)
    level = torch.rand(batch, 1, n // 300 + 1, generator=gen).repeat_interleave(300, -1)[..., :n]
    return torch.randn(batch, channels, n, generator=gen) * level


def _build(proc, channels: int, block_size: int = 512, knobs=()):
    return DELAY_BUILDERS[type(proc).__name__](proc, channels, block_size, list(knobs))


def _setting(make, name: str, value: float) -> tuple[torch.Tensor, float]:
    """A parameter set to ``value`` on a new processor: its stored (unconstrained) tensor and
    the physical value it reads back (the value a knob passes)."""
    proc = make()
    setattr(proc, name, value)
    return getattr(proc, "raw_" + name).detach().clone(), float(getattr(proc, name).detach())


def _compare(run, proc, channels: int, sizes, batch: int = 1, knobs=None) -> float:
    """Largest error of ``run(block, i)`` against the stream over blocks of ``sizes``.

    ``knobs``: ``{block index: {param: stored tensor}}`` set on ``proc`` before that block
    (see :func:`_setting`); the
    stream then runs the block's first sample alone, so the ramp it gives a changed
    parameter is reached at once (a step at the block boundary, as a knob moves).
    """
    stream = ddsp.Stream(proc, channels=channels, batch=batch)
    x = _signal(channels, sum(sizes), batch)
    err, pos = 0.0, 0
    for i, n in enumerate(sizes):
        block = x[..., pos : pos + n]
        pos += n
        moved = bool(knobs and i in knobs)
        for name, raw in (knobs or {}).get(i, {}).items():
            with torch.no_grad():
                getattr(proc, "raw_" + name).copy_(raw)
        with torch.no_grad():
            got = run(block, i)
            if n == 0:  # nothing to stream (the library's Chorus stream refuses empty blocks)
                assert got.shape == (batch, stream.out_channels, 0)
                continue
            if moved and n > 1:
                want = torch.cat(
                    [stream.process(block[..., :1]), stream.process(block[..., 1:])], -1
                )
            else:
                want = stream.process(block)
        assert got.shape == want.shape and got.dtype == torch.float32
        err = max(err, max_rel_err(got, want))
    return err


@pytest.mark.parametrize("name", list(CASES))
def test_eager_and_scripted_blocks_match_the_stream(name):
    make, channels, sizes = CASES[name]
    proc = make()
    block = _build(proc, channels)
    assert _compare(lambda x, i: block(x, {}), proc, channels, sizes) < TOL
    scripted = torch.jit.script(_build(proc, channels))
    assert _compare(lambda x, i: scripted(x, {}), proc, channels, sizes) < TOL


class _Wrap(torch.nn.Module):
    """A block with its knobs as one tensor (what an exported model passes)."""

    def __init__(self, block: torch.nn.Module, names: list[str]) -> None:
        super().__init__()
        self.block, self.names = block, names

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        inputs = {name: knobs[i].reshape(1, 1) for i, name in enumerate(self.names)}
        return self.block(x, inputs)


# name -> (case, block size, blocks, knob, value it moves to at the middle block)
EXPORTS = {
    "Delay": ("Delay", 512, 8, "delay_ms", 7.9),
    "PingPongDelay": ("PingPongDelay-48k-mono", 512, 30, "feedback", -0.3),
    "Chorus": ("Chorus-48k", 256, 24, "rate_hz", 3.0),
    "Chorus-phase": ("Chorus-phase", 256, 24, "rate_hz", 3.0),
    "Flanger": ("Flanger", 512, 8, "depth_ms", 0.5),
    "ConvolutionReverb": ("ConvolutionReverb-48k", 512, 30, "mix", 0.8),
    "NoiseReverb": ("NoiseReverb-48k", 256, 48, "mix", 0.1),  # levels above the block
    "FDNReverb": ("FDNReverb-48k", 512, 30, "pre_delay_ms", 31.0),
    "Freeverb": ("Freeverb", 256, 16, "room_size", 0.95),
}


@pytest.mark.parametrize("name", list(EXPORTS))
def test_exported_blocks_match_the_stream(name):
    """Traced once at one block size (an exported program keeps it), with a knob that
    holds its export value, then moves."""
    case, n, count, knob, moved = EXPORTS[name]
    make, channels, _ = CASES[case]
    proc = make()
    start = float(getattr(proc, knob).detach())
    block = _build(proc, channels, n, [knob])
    example = (_signal(channels, n), torch.tensor([start]))
    program = torch.export.export(_Wrap(block, [knob]), example).module()
    raw, moved = _setting(make, knob, moved)
    half = count // 2

    def run(x, i):
        return program(x, torch.tensor([start if i < half else moved]))

    sizes = (n,) * count
    assert _compare(run, proc, channels, sizes, knobs={half: {knob: raw}}) < TOL


# processor -> knobs and the values they move to
KNOBS = {
    "Delay-48k": {"delay_ms": 95.5, "feedback": -0.4},
    "PingPongDelay": {"delay_ms": 3.7, "mix": 0.8},
    "Chorus": {"rate_hz": 2.0, "centre_ms": 9.0},
    "Flanger-48k": {"feedback": -0.5, "depth_ms": 0.7},
    "ConvolutionReverb": {"mix": 0.9},
    "NoiseReverb": {"mix": 0.1},
    "FDNReverb": {"rt60_s": 0.5, "high_rt60_ratio": 0.3, "pre_delay_ms": 2.5, "mix": 0.6},
    "Freeverb-48k-mono": {"room_size": 0.5, "damping": 0.8, "width": 0.3},
}


@pytest.mark.parametrize("name", list(KNOBS))
def test_knobs_act_as_the_parameter(name):
    """A knob held from the start equals a stream built with that value; a knob moved at a
    block boundary equals the parameter set there (eager and TorchScript)."""
    make, channels, sizes = CASES[name]
    target = make()
    for knob, value in KNOBS[name].items():
        setattr(target, knob, value)
    values = {k: float(getattr(target, k).detach()) for k in KNOBS[name]}
    raws = {k: getattr(target, "raw_" + k).detach().clone() for k in KNOBS[name]}
    knobs = list(values)
    held = {k: torch.tensor([[v]]) for k, v in values.items()}
    block = _build(make(), channels, knobs=knobs)
    assert _compare(lambda x, i: block(x, held), target, channels, sizes) < TOL

    proc = make()
    start = {k: torch.tensor([[float(getattr(proc, k).detach())]]) for k in knobs}
    half = 3
    scripted = torch.jit.script(_build(proc, channels, knobs=knobs))

    def run(x, i):
        return scripted(x, start if i < half else held)

    assert _compare(run, proc, channels, sizes, knobs={half: raws}) < TOL


@pytest.mark.parametrize(
    "name",
    ["Delay", "PingPongDelay", "Chorus-48k", "Flanger", "NoiseReverb-48k", "FDNReverb", "Freeverb"],
)
@pytest.mark.parametrize("scripted", [False, True])
def test_batches_and_reset(name, scripted):
    """A new batch size allocates silent state; ``reset`` replays exactly (TorchScript
    included: its allocations must not share state between lines or levels)."""
    make, channels, sizes = CASES[name]
    proc = make()
    block = _build(proc, channels)
    if scripted:
        block = torch.jit.script(block)
    block.allocate(4)
    assert _compare(lambda x, i: block(x, {}), proc, channels, sizes, batch=4) < TOL
    x = _signal(channels, 2900, batch=4, seed=3)
    block.reset()
    first = block(x, {})
    assert not torch.equal(block(x, {}), first)  # the state carried on
    block.reset()
    assert torch.equal(block(x, {}), first)


# case -> (parameter, its modulation for two signals as a function of time in s)
MODULATIONS = {
    "Delay-48k": (
        "delay_ms",
        lambda t: 120.0 + torch.stack([30.0 * torch.sin(18.8 * t), -20.0 * t]),
    ),
    "Chorus-48k": ("rate_hz", lambda t: torch.stack([0.5 + 4.0 * t, 3.0 + 0.0 * t])),
    "ConvolutionReverb-48k": ("mix", lambda t: torch.stack([t / t[-1], 1.0 - t / t[-1]])),
    "FDNReverb-48k": ("rt60_s", lambda t: torch.stack([0.3 + 2.0 * t, 1.0 + 0.0 * t])),
    "Freeverb-48k-mono": ("width", lambda t: torch.stack([t / t[-1], 0.5 + 0.0 * t])),
}


@pytest.mark.parametrize("name", list(MODULATIONS))
def test_per_sample_modulation(name):
    """A voice's ``(batch, n)`` modulation: each signal follows its own (the FDN holds its
    decay for a block, at the block's last value, as the library does)."""
    make, channels, _ = CASES[name]
    key, curve = MODULATIONS[name]
    proc = make()
    block = torch.jit.script(_build(proc, channels))
    block.allocate(2)
    sizes = (512, 100, 700, 2048, 33, 64) * 3
    mod = curve(torch.arange(sum(sizes)) / SR)
    stream = ddsp.Stream(proc, channels=channels, batch=2)
    x = _signal(channels, sum(sizes), batch=2)
    pos, err = 0, 0.0
    for n in sizes:
        control = mod[:, pos : pos + n]
        with torch.no_grad():
            want = stream.process(x[..., pos : pos + n], **{key: control})
        got = block(x[..., pos : pos + n], {key: control})
        err = max(err, max_rel_err(got, want))
        pos += n
    assert err < TOL


def test_the_lfo_starts_as_late_as_the_signal():
    """A chorus after ``delay`` samples of latency starts its LFO that far back (as the
    stream's node does for a processor after a latent one)."""
    from ddsp.streaming.nodes import ProcessorNode

    proc = ddsp.Chorus(SR, rate_hz=5.0, depth_ms=4.0, centre_ms=8.0)
    spec = {"batch": 1, "channels": 2, "dtype": torch.float32, "device": torch.device("cpu")}
    node = ProcessorNode(proc, {**spec, "frame_size": None, "ramp": True}, delay=777)
    block = DELAY_BUILDERS["Chorus"](proc, 2, 512, [], delay=777)
    x = _signal(2, 3000)
    with torch.no_grad():
        want = torch.cat(
            [node.process(x[..., :1000], 1000, {}), node.process(x[..., 1000:], 2000, {})], -1
        )
    got = torch.cat([block(x[..., :1000], {}), block(x[..., 1000:], {})], -1)
    assert max_rel_err(got, want) < TOL
    assert max_rel_err(DELAY_BUILDERS["Chorus"](proc, 2, 512, [])(x, {}), want) > 1e-3


def test_settings_that_cannot_export_are_refused():
    proc = ddsp.NoiseReverb(SR, max_seconds=0.1)
    with pytest.raises(ExportError, match="NoiseReverb.*rt60_s"):
        _build(proc, 2, knobs=["rt60_s"])
    with pytest.raises(ExportError, match="no parameter"):
        _build(ddsp.Delay(SR), 2, knobs=["rate_hz"])
    for proc in (ddsp.PingPongDelay(SR), ddsp.FDNReverb(SR), ddsp.Freeverb(SR)):
        with pytest.raises(ExportError, match=type(proc).__name__):
            _build(proc, 3)


def test_partitions_cover_the_impulse_response():
    """The head and the levels tile the IR, each level starting at its partition size."""
    for block_size, length in ((512, 192_000), (128, 24_000), (2048, 300), (441, 48_000)):
        p = min(head_size(block_size), length)
        covered, last = p, p
        for q, parts in level_sizes(length, p):
            assert covered == q and parts >= 1
            covered, last = q * (parts + 1), q
        assert length <= covered < length + last


@pytest.mark.parametrize("scripted", [False, True])
def test_a_float32_convolution_stays_within_tolerance_of_the_stream(scripted):
    """``precision=float32`` (the live instruments' reverb): complex64 partitions, the
    same output within the tolerance, over a 1 s IR at 48 kHz (every level)."""
    from ddsp.export.blocks.reverb import ConvolutionBlock

    proc = ddsp.ConvolutionReverb(SR, ir_seconds=1.0, mix=0.5)
    block = ConvolutionBlock(proc, 1, 512, [], precision=torch.float32)
    ring = block.levels[0].ring  # complex64 spectra as real pairs
    assert block.head.dtype == torch.float32 and ring.dtype == torch.float32
    if scripted:
        block = torch.jit.script(block)
    sizes = (512,) * 100 + (77, 1000)
    assert _compare(lambda x, i: block(x, {}), proc, 1, sizes) < TOL
    with pytest.raises(ExportError, match="precision"):
        ConvolutionBlock(proc, 1, 512, [], precision=torch.float16)
