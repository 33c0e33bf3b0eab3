"""Every spec of every processor at both ends of its range, and a small grid inside.

Each value goes in three ways -- the constructor, a saved-and-loaded preset, and a chain
spec ``"Name(param=value)"`` -- and must be accepted by all three (a range end is a valid
value, whatever float32 makes of it) and give the same sound. The output must be finite
and not silent, and the gradient must be finite everywhere and reach the parameter
being varied (the straight-through clip keeps it alive at the ends of the range).
"""

from __future__ import annotations

import math

import pytest
import torch

import ddsp
from ddsp.presets import load_chain
from tests.helpers import CHANNELS, SOURCES, build, render

SR = 44_100  # Nyquist above the specs' 20 kHz tops: every cutoff is reachable
GRID = (0.25, 0.5, 0.75)  # normalized points inside the range, besides both ends

# (processor, parameter, value) whose output is meant to be all zero
SILENT_BY_DESIGN = {("LFO", "depth", 0.0)}
# (processor, parameter, value) where the parameter has, by design, no effect on the output
# (so no gradient): the cut corners of the EQ at the spec's own ends are flat by then
NO_EFFECT = {
    ("Compressor", "knee_db", 0.0),  # a hard knee: the level never sits inside it
    ("Expander", "knee_db", 0.0),
    ("Limiter", "knee_db", 0.0),
}


def _values(spec: ddsp.ParamSpec) -> list[float]:
    inside = [float(spec.to_physical(u)) for u in GRID]
    return [spec.minimum, *inside, spec.maximum]


def _cases() -> list[tuple[str, str]]:
    return [(name, s.name) for name, cls in sorted(ddsp.PROCESSORS.items()) for s in cls.specs]


CASES = _cases()
N_VALUES = sum(len(GRID) + 2 for _ in CASES)


def _is_source(name: str) -> bool:
    return name in SOURCES or name == "Harmonic"


def _make(name: str, values: dict[str, float]) -> ddsp.Processor:
    """The registry's processor (tests.helpers settings and options), at ``values``."""
    base = build(name)
    rate = base.sample_rate if _is_source(name) else SR
    return type(base)(rate, **base.options(), **{**base.preset_values(), **values})


def _signal(proc: ddsp.Processor) -> torch.Tensor:
    """Noise fading from +6 dB peaks to -120 dBFS (so every threshold has something to
    act on), long enough for the processor's longest delay and a reverb's second pass."""
    longest_ms = max(
        (s.maximum for s in proc.specs if s.unit == "ms" and s.name not in proc.nondifferentiable),
        default=0.0,
    )
    n = max(8192, int(1.5 * longest_ms * SR / 1000))
    gen = torch.Generator().manual_seed(1)
    channels = CHANNELS.get(type(proc).__name__, 2)
    fade = torch.logspace(0, -6, n)
    return 0.5 * torch.randn(1, channels, n, generator=gen) * fade


def _run(proc: ddsp.Processor, x: torch.Tensor | None) -> torch.Tensor:
    return render(proc) if x is None else proc(x)


@pytest.mark.parametrize("name, param", CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_every_spec_is_accepted_sounds_and_learns_at_both_ends(name, param, tmp_path):
    spec = ddsp.PROCESSORS[name].spec(param)
    for value in _values(spec):
        proc = _make(name, {param: value})
        assert float(getattr(proc, param).detach()) == pytest.approx(value, rel=1e-5, abs=1e-6)
        x = None if _is_source(name) else _signal(proc)
        y = _run(proc, x)
        where = f"{name}({param}={value!r})"
        assert torch.isfinite(y).all(), where
        if (name, param, value) not in SILENT_BY_DESIGN:
            assert float(y.detach().abs().max()) > 1e-7, f"{where} is silent"

        # the same value through a preset file and through a chain spec: the same processor
        ddsp.save_preset(proc, tmp_path / "p.toml")
        again = ddsp.load_preset(tmp_path / "p.toml")
        assert again.preset_values() == proc.preset_values(), where
        for key, tensor in again.state_dict().items():
            torch.testing.assert_close(tensor, proc.state_dict()[key], msg=f"{where}: {key}")
        if not _is_source(name):
            options = ", ".join(f"{k}={v!r}" for k, v in proc.options().items())
            spec_text = f"{name}({options}{', ' if options else ''}{param}={value!r})"
            chain = load_chain(spec_text, SR)
            assert float(getattr(chain[0], param).detach()) == pytest.approx(
                value, rel=1e-5, abs=1e-6
            ), spec_text

        # gradients: finite everywhere, and reaching the parameter that was set
        w = torch.randn(y.shape, generator=torch.Generator().manual_seed(2))
        (y * w).sum().backward()
        for pname, p in proc.named_parameters():
            if pname.removeprefix("raw_") not in proc.nondifferentiable:
                assert p.grad is not None and torch.isfinite(p.grad).all(), (where, pname)
        raw = getattr(proc, "raw_" + param).grad
        if param not in proc.nondifferentiable and (name, param, value) not in NO_EFFECT:
            assert float(raw.abs().sum()) > 0, f"{where}: no gradient reaches {param}"


def test_the_table_counts_its_cases():
    assert len(CASES) == sum(len(cls.specs) for cls in ddsp.PROCESSORS.values())
    assert N_VALUES == 5 * len(CASES)


def test_save_preset_writes_range_ends_that_load_preset_accepts(tmp_path):
    svf = ddsp.SVF(SR, resonance=0.99, cutoff_hz=20_000.0)
    ddsp.save_preset(svf, tmp_path / "svf.toml")
    back = ddsp.load_preset(tmp_path / "svf.toml")
    assert back.preset_values() == {"cutoff_hz": 20_000.0, "resonance": 0.99}


def test_fdn_at_its_shortest_and_darkest_still_rings_and_learns():
    # the absorption pole of the 20-50 ms lines once rounded to 1: exact silence, no gradient
    fdn = ddsp.FDNReverb(48_000, rt60_s=0.05, high_rt60_ratio=0.05, mix=1.0)
    x = torch.zeros(1, 1, 9600)
    x[..., 0] = 1.0
    y = fdn(x)
    assert torch.isfinite(y).all() and float(y.detach().abs().max()) > 1e-5
    y.square().sum().backward()
    for pname, p in fdn.named_parameters():
        if pname != "raw_pre_delay_ms":
            assert torch.isfinite(p.grad).all() and float(p.grad.abs().sum()) > 0, pname


def test_absorption_is_exact_where_the_pole_is_representable():
    from ddsp.functional.algorithmic import absorption

    delays = torch.tensor([997.0, 1499.0], dtype=torch.float64)
    rt60 = torch.tensor([[1.5]], dtype=torch.float64)
    ratio = torch.tensor([[0.5]], dtype=torch.float64)
    k, p = absorption(delays, sample_rate=48_000, rt60_s=rt60, high_rt60_ratio=ratio)
    g_dc = 1000 ** (-delays / (48_000 * 1.5))
    g_ny = 1000 ** (-delays / (48_000 * 0.75))
    torch.testing.assert_close(k / (1 - p), g_dc[None], rtol=1e-12, atol=0)
    torch.testing.assert_close(k / (1 + p), g_ny[None], rtol=1e-12, atol=0)
    assert math.isfinite(float(p.max())) and float(p.abs().max()) < 1
