"""Source, modulator and time-varying blocks (``ddsp.export.blocks.sources`` and
``varying``): eager, TorchScript and ``torch.export`` forms match ``ddsp.Stream`` fed the
same blocks of varying sizes (0 included), for batches of 1 and 4; reset replays; knobs
held from the start match a stream built with those values; the noise is the library's,
bit for bit."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch.export import Dim

import ddsp
from ddsp import Stream
from ddsp.export.blocks.base import ExportError
from ddsp.export.blocks.registry_sources import MODULATED_BUILDERS, SOURCE_BUILDERS
from ddsp.export.blocks.sources import FilteredNoiseBlock, hash32
from ddsp.functional.noise import _hash32, frames_starting, white_noise
from ddsp.streaming.nodes import ProcessorNode
from tests.helpers import SR, max_rel_err

BLOCKS = (512, 100, 1, 700, 2048, 33, 0)
TOTAL = sum(BLOCKS)
TOL = 1e-5  # float32, relative to the signal's scale
SR48 = 48_000.0


# --------------------------------------------------------------------------- signals


def _f0(batch: int, n: int, gen: torch.Generator, base: float, sr: float) -> torch.Tensor:
    """A gliding pitch with some jitter, per sample."""
    t = torch.arange(n, dtype=torch.float64) / sr
    glide = base * 2 ** (torch.sin(2 * math.pi * 3 * t)[None] / 2)
    return (glide + 5 * torch.rand(batch, n, generator=gen, dtype=torch.float64)).float()


def _gate(batch: int, n: int, gen: torch.Generator, hold: int) -> torch.Tensor:
    gate = (torch.rand(batch, n // hold + 1, generator=gen) > 0.4).float()
    return gate.repeat_interleave(hold, -1)[:, :n]


def _modulated(proc: Any, name: str, amount: float, source: torch.Tensor) -> torch.Tensor:
    """A control swept as a voice sweeps it: ``amount`` of ``source`` in normalized units."""
    spec = proc.spec(name)
    u = spec.to_normalized(getattr(proc, name).detach().double()) + amount * source.double()
    return spec.to_physical(u.clamp(0.0, 1.0)).float()


def _sweep(batch: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """A bipolar sweep per sample (an LFO with jitter), about [-1, 1]."""
    t = torch.arange(n, dtype=torch.float64) / n
    wave = torch.sin(2 * math.pi * 3 * t)[None] + 0.05 * torch.rand(batch, n, generator=gen)
    return wave.float()


def _envelope(batch: int, n: int, gen: torch.Generator, sr: float) -> torch.Tensor:
    adsr = ddsp.ADSR(sr, attack_ms=1.0, decay_ms=25.0, sustain=0.2, release_ms=15.0)
    with torch.no_grad():
        return adsr(_gate(batch, n, gen, 700))


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """A processor, how to feed it, and knob values to hold from the start."""

    make: Callable[[], Any]
    inputs: Callable[[Any, int, int, torch.Generator], dict]  # (proc, batch, n, gen)
    knobs: dict[str, float] = field(default_factory=dict)
    frame_size: int | None = None
    channels: int = 1


def _per_sample(**signals: Callable) -> Callable:
    def make(proc: Any, batch: int, n: int, gen: torch.Generator) -> dict:
        return {k: f(proc, batch, n, gen) for k, f in signals.items()}

    return make


def _frames_harmonic(hop: int, harmonics: int) -> Callable:
    def make(proc: Any, batch: int, n: int, gen: torch.Generator) -> dict:
        frames = n // hop + 2
        return {
            "f0_hz": 200 + 100 * torch.rand(batch, frames, generator=gen),
            "amplitude": torch.rand(batch, frames, generator=gen),
            "harmonic_distribution": torch.rand(batch, frames, harmonics, generator=gen),
        }

    return make


def _frames_noise(hop: int, bands: int) -> Callable:
    def make(proc: Any, batch: int, n: int, gen: torch.Generator) -> dict:
        return {"magnitudes": torch.rand(batch, n // hop + 2, bands, generator=gen)}

    return make


def _no_inputs(proc: Any, batch: int, n: int, gen: torch.Generator) -> dict:
    return {}


def _f0_at(base: float, sr: float) -> Callable:
    return lambda p, b, n, g: _f0(b, n, g, base, sr)


# as tests/helpers builds them (16 kHz), then at 48 kHz with a voice's settings
CASES: dict[str, Case] = {
    "ADSR": Case(
        lambda: ddsp.ADSR(SR, attack_ms=5.0, decay_ms=10.0, release_ms=10.0),
        _per_sample(gate=lambda p, b, n, g: _gate(b, n, g, 97)),
        {"attack_ms": 2.0, "sustain": 0.4},
    ),
    "Oscillator": Case(
        lambda: ddsp.Oscillator(SR, shape="pulse", width=0.3),
        _per_sample(f0_hz=_f0_at(220.0, SR)),
        {"width": 0.6, "gain_db": -10.0},
    ),
    "FM": Case(
        lambda: ddsp.FM(SR, ratio=2.0, index=3.0),
        _per_sample(f0_hz=_f0_at(220.0, SR)),
        {"ratio": 1.5, "index": 2.0},
    ),
    "Wavetable": Case(
        lambda: ddsp.Wavetable(SR, table_size=64),
        _per_sample(f0_hz=_f0_at(220.0, SR)),
        {"gain_db": -3.0},
    ),
    "LFO": Case(
        lambda: ddsp.LFO(SR, shape="triangle", rate_hz=30.0),
        _no_inputs,
        {"rate_hz": 11.0, "depth": 0.5, "phase": 0.1},
    ),
    "FilteredNoise": Case(lambda: ddsp.FilteredNoise(SR, seed=3), _no_inputs, {"gain_db": -6.0}),
    "FilteredNoise-frames": Case(
        lambda: ddsp.FilteredNoise(SR, seed=3, n_bands=17),
        _frames_noise(64, 17),
        {"gain_db": -6.0},
        frame_size=64,
    ),
    "Harmonic": Case(
        lambda: ddsp.Harmonic(SR, n_harmonics=8),
        _per_sample(
            f0_hz=_f0_at(220.0, SR),
            amplitude=lambda p, b, n, g: torch.rand(b, n, generator=g),
            harmonic_distribution=lambda p, b, n, g: torch.rand(b, n, 8, generator=g),
        ),
    ),
    "Harmonic-frames": Case(
        lambda: ddsp.Harmonic(SR, n_harmonics=8), _frames_harmonic(64, 8), frame_size=64
    ),
    "SVF": Case(
        lambda: ddsp.SVF(SR, mode="bandpass", cutoff_hz=700.0, resonance=0.5),
        _per_sample(cutoff_hz=lambda p, b, n, g: _modulated(p, "cutoff_hz", 0.3, _sweep(b, n, g))),
        {"resonance": 0.8},
        channels=2,
    ),
    "Biquad": Case(
        lambda: ddsp.Biquad(SR, kind="peaking", cutoff_hz=900.0, gain_db=4.0),
        _per_sample(
            cutoff_hz=lambda p, b, n, g: _modulated(p, "cutoff_hz", 0.3, _sweep(b, n, g)),
            gain_db=lambda p, b, n, g: _modulated(p, "gain_db", 0.2, _sweep(b, n, g)),
        ),
        {"q": 2.0},
        channels=2,
    ),
    "Phaser": Case(
        lambda: ddsp.Phaser(SR, rate_hz=5.0, stages=6), _no_inputs, {"mix": 0.7}, channels=2
    ),
    "Tremolo": Case(
        lambda: ddsp.Tremolo(SR, rate_hz=7.0, depth=0.4), _no_inputs, {"depth": 0.9}, channels=2
    ),
    # ---- 48 kHz, as the voices use them
    "ADSR-48k": Case(
        lambda: ddsp.ADSR(SR48, attack_ms=2.0, decay_ms=25.0, sustain=0.3, release_ms=8.0),
        _per_sample(gate=lambda p, b, n, g: _gate(b, n, g, 450)),
        {"decay_ms": 5.0, "release_ms": 3.0},
    ),
    "Oscillator-48k-saw": Case(
        lambda: ddsp.Oscillator(SR48, shape="saw", gain_db=-4.0),
        _per_sample(f0_hz=_f0_at(440.0, SR48)),
        {"gain_db": -8.0},
    ),
    "Oscillator-48k-pwm": Case(
        lambda: ddsp.Oscillator(SR48, shape="pulse", gain_db=-8.0),
        _per_sample(
            f0_hz=_f0_at(110.0, SR48),
            width=lambda p, b, n, g: _modulated(p, "width", 0.35, _sweep(b, n, g)),
        ),
        {"gain_db": -2.0},
    ),
    "Oscillator-48k-triangle": Case(
        lambda: ddsp.Oscillator(SR48, shape="triangle"),
        _per_sample(f0_hz=_f0_at(1500.0, SR48)),
        {"gain_db": 3.0},
    ),
    "FM-48k": Case(
        lambda: ddsp.FM(SR48, ratio=3.5, index=0.5, gain_db=-6.0),
        _per_sample(
            f0_hz=_f0_at(330.0, SR48),
            index=lambda p, b, n, g: _modulated(p, "index", 0.25, _envelope(b, n, g, SR48)),
        ),
        {"ratio": 2.0},
    ),
    "Wavetable-48k": Case(
        lambda: _random_table(ddsp.Wavetable(SR48, table_size=512)),
        _per_sample(f0_hz=_f0_at(880.0, SR48)),
        {"gain_db": -6.0},
    ),
    "LFO-48k": Case(
        lambda: ddsp.LFO(SR48, shape="sine", rate_hz=0.3, phase=0.25),
        _no_inputs,
        {"rate_hz": 40.0, "phase": 0.6},
    ),
    "LFO-48k-square": Case(
        lambda: ddsp.LFO(SR48, shape="square", rate_hz=37.0),
        _per_sample(rate_hz=lambda p, b, n, g: _modulated(p, "rate_hz", 0.1, _sweep(b, n, g))),
        {"depth": 0.3},
    ),
    "FilteredNoise-48k": Case(
        lambda: ddsp.FilteredNoise(SR48, seed=0, gain_db=-32.0), _no_inputs, {"gain_db": 0.0}
    ),
    "FilteredNoise-48k-frames": Case(
        lambda: ddsp.FilteredNoise(SR48, seed=11, n_bands=65),
        _frames_noise(256, 65),
        {"gain_db": -12.0},
        frame_size=256,
    ),
    "Harmonic-48k": Case(
        lambda: ddsp.Harmonic(SR48, n_harmonics=40, gain_db=-8.0, tilt_db_per_octave=-9.0),
        _per_sample(f0_hz=_f0_at(220.0, SR48)),
        {"gain_db": -2.0, "tilt_db_per_octave": -3.0},
    ),
    "Harmonic-48k-frames": Case(
        lambda: ddsp.Harmonic(SR48, n_harmonics=64), _frames_harmonic(192, 64), frame_size=192
    ),
    "SVF-48k": Case(  # the pluck: an envelope closes a resonant low-pass per sample
        lambda: ddsp.SVF(SR48, mode="lowpass", cutoff_hz=150.0, resonance=0.5),
        _per_sample(
            cutoff_hz=lambda p, b, n, g: _modulated(p, "cutoff_hz", 0.6, _envelope(b, n, g, SR48))
        ),
        {"resonance": 0.9},
    ),
    "Biquad-48k": Case(
        lambda: ddsp.Biquad(SR48, kind="lowpass", cutoff_hz=300.0, q=4.0),
        _per_sample(
            cutoff_hz=lambda p, b, n, g: _modulated(p, "cutoff_hz", 0.5, _envelope(b, n, g, SR48))
        ),
        {"q": 0.7},
        channels=2,
    ),
    "Phaser-48k": Case(lambda: ddsp.Phaser(SR48), _no_inputs, {"rate_hz": 2.0}, channels=2),
    "Phaser-48k-modulated": Case(
        lambda: ddsp.Phaser(SR48, stages=12, rate_hz=3.0),
        _per_sample(
            rate_hz=lambda p, b, n, g: _modulated(p, "rate_hz", 0.2, _sweep(b, n, g)),
            depth_octaves=lambda p, b, n, g: _modulated(p, "depth_octaves", 0.2, _sweep(b, n, g)),
        ),
        {"centre_hz": 1500.0},
        channels=2,
    ),
    "Tremolo-48k": Case(
        lambda: ddsp.Tremolo(SR48, rate_hz=5.0, depth=0.5),
        _per_sample(depth=lambda p, b, n, g: _modulated(p, "depth", 0.4, _sweep(b, n, g))),
        {"rate_hz": 9.0},
        channels=2,
    ),
}
EXPORTED = sorted(name for name in CASES if "-48k" in name)  # one export per processor


def _random_table(proc: Any) -> Any:
    with torch.no_grad():
        proc.table.copy_(torch.randn(proc.table.shape, generator=torch.Generator().manual_seed(5)))
    return proc


def _builder(proc: Any) -> Any:
    name = type(proc).__name__
    return MODULATED_BUILDERS[name] if name in MODULATED_BUILDERS else SOURCE_BUILDERS[name]


# --------------------------------------------------------------------------- running


class Run:
    """One case at one batch size: its processor, signals, and the blocks to feed."""

    def __init__(self, name: str, batch: int, knobs: bool = False) -> None:
        case = CASES[name]
        self.case, self.batch = case, batch
        self.proc = case.make()
        gen = torch.Generator().manual_seed(sum(map(ord, name)) + batch)
        self.signals = case.inputs(self.proc, batch, TOTAL, gen)
        self.x = (
            None
            if self.proc.is_source
            else 0.5 * torch.randn(batch, case.channels, TOTAL, generator=gen)
        )
        self.knobs: dict[str, float] = {}
        if knobs:  # the values a stream's parameters hold (set, then read back in float32)
            held = copy.deepcopy(self.proc)
            for key, value in case.knobs.items():
                setattr(held, key, value)
                self.knobs[key] = float(getattr(held, key).detach())

    def block(self) -> Any:
        proc, knobs = self.case.make(), sorted(self.case.knobs)
        block = _builder(proc)(
            proc, self.case.channels, 512, knobs, frame_size=self.case.frame_size
        )
        block.allocate(self.batch)
        return block

    def stream(self) -> Stream:
        proc = copy.deepcopy(self.proc)
        for key, value in self.knobs.items():
            setattr(proc, key, value)
        return Stream(
            proc, channels=self.case.channels, batch=self.batch, frame_size=self.case.frame_size
        )

    def pieces(self, sizes=BLOCKS):
        """``(n, x, inputs)`` per block: per-sample signals sliced, the frames that start in
        the block, the knobs as ``(1, 1)``."""
        pos, hop = 0, self.case.frame_size
        frame_inputs = type(self.proc).frame_inputs
        for n in sizes:
            inputs = {}
            for key, value in self.signals.items():
                if hop and key in frame_inputs:
                    k0, k = frames_starting(0, pos, hop), frames_starting(pos, n, hop)
                    inputs[key] = value[:, k0 : k0 + k]
                else:
                    inputs[key] = value[:, pos : pos + n]
            for key, value in self.knobs.items():
                inputs[key] = torch.tensor([[value]])
            if self.x is None:
                x = torch.zeros(self.batch, 0, n)
            else:
                x = self.x[..., pos : pos + n]
            yield n, x, inputs
            pos += n

    def streamed(self) -> torch.Tensor:
        stream, outs = self.stream(), []
        specs = set(self.proc.spec_names())
        with torch.no_grad():
            for n, x, inputs in self.pieces():
                named = {k: v for k, v in inputs.items() if k not in self.knobs}
                if n == 0:  # the stream takes no empty per-sample controls
                    named = {k: v for k, v in named.items() if k not in specs}
                    if isinstance(self.proc, ddsp.Oscillator):  # nor empty oscillator blocks
                        outs.append(torch.zeros(self.batch, 1, 0))
                        continue
                if self.x is None:
                    y = stream.process(n_samples=n, **named)
                else:
                    y = stream.process(x, **named)
                outs.append(y if y.ndim == 3 else y[:, None])  # ADSR, LFO: (batch, n)
        return torch.cat(outs, -1)

    def blocked(self, block: Any) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([block(x, inputs) for _, x, inputs in self.pieces()], -1)


_SCRIPTED: dict[str, Any] = {}


def _scripted(name: str, run: Run) -> Any:
    """One scripted block per case (``allocate`` sets the batch)."""
    if name not in _SCRIPTED:
        _SCRIPTED[name] = torch.jit.script(run.block())
    block = _SCRIPTED[name]
    block.allocate(run.batch)
    return block


def _check(run: Run, got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    assert got.shape == want.shape, (what, tuple(got.shape), tuple(want.shape))
    assert got.dtype == torch.float32, what
    err = max_rel_err(got, want)
    assert err < TOL, (what, err)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("name", sorted(CASES))
def test_eager_and_scripted_blocks_match_the_stream_and_replay_after_reset(name, batch):
    for knobs in (False, True):
        run = Run(name, batch, knobs)
        want = run.streamed()
        for mode, block in (("eager", run.block()), ("script", _scripted(name, run))):
            got = run.blocked(block)
            _check(run, got, want, f"{name} {mode} batch={batch} knobs={knobs}")
            assert block.latency == run.stream().latency_samples
            block.reset()
            assert torch.equal(run.blocked(block), got), (name, mode, "reset")


def _exported(run: Run) -> Any:
    block = run.block()
    n, k = Dim("n", min=0, max=block.max_block), Dim("k", min=0, max=block.max_block)
    _, x, inputs = next(run.pieces([512]))
    inputs = {key: value.contiguous() for key, value in inputs.items()}  # no stride guards
    frame_inputs = type(run.proc).frame_inputs if run.case.frame_size else ()
    dims = {
        key: ({1: k} if key in frame_inputs else None if key in run.knobs else {1: n})
        for key in inputs
    }
    example = (x.contiguous(), inputs)
    return torch.export.export(block, example, dynamic_shapes=({2: n}, dims))


@pytest.mark.parametrize("name", EXPORTED)
def test_the_exported_block_matches_the_stream_with_knobs_held_from_the_start(name):
    run = Run(name, 4, knobs=True)
    module = _exported(run).module()
    # an exported program has no allocate: its state buffers are mutated in place (every
    # .module() of one program shares them), so a host resets by restoring them
    silent = {key: value.clone() for key, value in module.state_dict().items()}
    want = run.streamed()
    got = run.blocked(module)
    _check(run, got, want, f"{name} exported")
    module.load_state_dict(silent)
    assert torch.equal(run.blocked(module), got)


def test_white_noise_is_the_librarys_bit_for_bit_in_every_form():
    seed, batch = 2**31 - 1, 3  # the largest seed a processor takes

    def fresh() -> FilteredNoiseBlock:
        block = FilteredNoiseBlock(ddsp.FilteredNoise(SR48, seed=seed), 1, 512, [])
        block.allocate(batch)
        return block

    x = torch.zeros(batch, 0, 512)
    program = torch.export.export(fresh(), (x, {}), dynamic_shapes=({2: Dim("n")}, {}))
    want = white_noise((batch, TOTAL), seed=seed)
    for form in (fresh(), torch.jit.script(fresh()), program.module()):
        got = torch.cat([form(torch.zeros(batch, 0, n), {})[:, 0] for n in BLOCKS], -1)
        assert torch.equal(got, want)


def test_the_hash_is_the_librarys_on_edge_words_in_every_form():
    words = torch.tensor([0, 1, 2**15, 2**16 - 1, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1])
    words = torch.cat([words, torch.randint(0, 2**32, (1000,), dtype=torch.int64)])
    want = _hash32(words)

    class Hash(torch.nn.Module):
        def forward(self, w: torch.Tensor) -> torch.Tensor:
            return hash32(w)

    program = torch.export.export(Hash(), (words,), dynamic_shapes=({0: Dim("n")},))
    for form in (hash32, torch.jit.script(hash32), program.module()):
        assert torch.equal(form(words), want)
    assert int(want.min()) >= 0 and int(want.max()) < 2**32


@pytest.mark.parametrize(
    "make",
    [
        lambda: ddsp.LFO(SR48, rate_hz=3.0, phase=0.4),
        lambda: ddsp.Tremolo(SR48, rate_hz=6.0),
        lambda: ddsp.Phaser(SR48, rate_hz=2.0),
    ],
)
def test_a_delayed_block_starts_its_lfo_as_a_delayed_stream_node(make):
    # in a voice or chain a processor whose input lags by `delay` starts its LFO that far back
    proc, delay, batch = make(), 37, 2
    channels = 0 if proc.is_source else 2
    spec = {
        "batch": batch,
        "channels": max(channels, 1),
        "dtype": torch.float32,
        "device": torch.device("cpu"),
        "frame_size": None,
    }
    node = ProcessorNode(proc, spec, delay=delay)
    block = _builder(proc)(proc, max(channels, 1), 512, [], delay=delay)
    block.allocate(batch)
    x = torch.randn(batch, channels, TOTAL)
    outs, got, pos = [], [], 0
    with torch.no_grad():
        for n in BLOCKS:
            xb = None if proc.is_source else x[..., pos : pos + n]
            y = node.process(xb, n, {})
            outs.append(y if y.ndim == 3 else y[:, None])
            got.append(block(x[:, :channels, pos : pos + n], {}))
            pos += n
    assert max_rel_err(torch.cat(got, -1), torch.cat(outs, -1)) < TOL


def test_settings_that_cannot_export_are_named():
    with pytest.raises(ExportError, match="FilteredNoise.*frame_size"):
        SOURCE_BUILDERS["FilteredNoise"](ddsp.FilteredNoise(SR, n_bands=9), 1, 512, [])
    with pytest.raises(ExportError, match="Oscillator has no parameter"):
        SOURCE_BUILDERS["Oscillator"](ddsp.Oscillator(SR), 1, 512, ["cutoff_hz"])


def test_the_builders_cover_their_processors():
    assert set(SOURCE_BUILDERS) | set(MODULATED_BUILDERS) <= set(ddsp.PROCESSORS)
    assert set(MODULATED_BUILDERS) == {"SVF", "Biquad"}
    for name in SOURCE_BUILDERS:
        assert name in {type(CASES[c].make()).__name__ for c in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_scripted_allocate_makes_fresh_separate_state_every_time(name):
    # TorchScript's optimizer merges equal factory calls (CSE) and folds constant ones
    # into graph constants once a method has run a few times: state made that way in
    # allocate would alias, or survive the next allocate, since it is written in place
    run = Run(name, 4)
    block = _scripted(name, run)  # shared with the test above: allocated many times over
    first = None
    for _ in range(4):
        block.allocate(4)
        pointers = [b.data_ptr() for b in block.buffers() if b.numel()]
        assert len(pointers) == len(set(pointers))
        got = run.blocked(block)
        first = got if first is None else first
        assert torch.equal(got, first)


def test_an_exported_scan_serves_blocks_up_to_its_bound_and_refuses_longer_ones():
    block = MODULATED_BUILDERS["SVF"](ddsp.SVF(SR48), 1, 1024, [])
    block.allocate(1)
    assert block.max_block == 4095  # about twice the block size, at least 4095
    x, cutoff = torch.randn(1, 1, 512), {"cutoff_hz": torch.full((1, 512), 500.0)}
    too_long = Dim("n", max=2 * block.max_block)
    with pytest.raises(Exception, match="Constraints violated"):
        torch.export.export(
            block, (x, cutoff), dynamic_shapes=({2: too_long}, {"cutoff_hz": {1: too_long}})
        )
    n = Dim("n", min=0, max=block.max_block)
    module = torch.export.export(
        block, (x, cutoff), dynamic_shapes=({2: n}, {"cutoff_hz": {1: n}})
    ).module()
    for size in (block.max_block, 0):
        assert (
            module(torch.randn(1, 1, size), {"cutoff_hz": torch.full((1, size), 900.0)}).shape[-1]
            == size
        )
    with pytest.raises(Exception, match="4095"):
        module(torch.randn(1, 1, 4096), {"cutoff_hz": torch.full((1, 4096), 900.0)})
