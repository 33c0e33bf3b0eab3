"""Processor contract over the registry: shapes, finite outputs, gradients to every
parameter, ``repr`` in physical units; parameters, controls, learning."""

from __future__ import annotations

import math

import pytest
import torch

import ddsp
from ddsp import PROCESSORS, Biquad, Harmonic, Processor, load_preset, save_preset
from tests.helpers import CHANNELS, EFFECTS, SOURCES, SR


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_source_contract_shapes_finite_gradients_repr_and_presets(name, tmp_path):
    make, args = SOURCES[name]
    proc = make()
    y = proc(*args())
    assert y.shape in ((2, 1, 800), (2, 800)) and torch.isfinite(y).all() and y.abs().max() > 0
    y.square().mean().backward()
    for pname, p in proc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    text = repr(proc)
    assert all(f"{spec.name}=" in text for spec in proc.specs)
    save_preset(proc, tmp_path / "p.toml")
    again = load_preset(tmp_path / "p.toml")
    assert type(again) is type(proc) and again.options() == proc.options()
    assert again.parameter_values() == proc.parameter_values()


def test_every_registered_processor_is_covered_by_the_contract_suite():
    assert set(PROCESSORS) == set(EFFECTS) | set(SOURCES) | {"Harmonic"}


@pytest.mark.parametrize("name", sorted(EFFECTS))
def test_effect_contract_shapes_finite_gradients_and_repr(name):
    proc = EFFECTS[name]()
    x = torch.randn(2, CHANNELS.get(name, 3), 800)
    y = proc(x)
    assert y.shape[::2] == x.shape[::2] and y.dtype == x.dtype and torch.isfinite(y).all()
    y.square().mean().backward()
    for pname, p in proc.named_parameters():
        if pname.removeprefix("raw_") in proc.nondifferentiable:
            continue  # documented: e.g. a delay in whole samples
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    text = repr(proc)
    for spec in proc.specs:  # physical values with their units, not raw parameters
        value = float(getattr(proc, spec.name).detach())
        shown = f"{spec.name}={value:.4g}" + (f" {spec.unit}" if spec.unit else "")
        assert shown in text, (shown, text)
        raw = float(getattr(proc, "raw_" + spec.name).detach())
        assert abs(raw - value) > 1e-3 or f"{raw:.4g}" == f"{value:.4g}"


def test_harmonic_contract_shapes_finite_gradients():
    h = Harmonic(SR, n_harmonics=12)
    f0 = torch.full((2, 20), 220.0, requires_grad=True)
    amp = torch.full((2, 20), 0.5, requires_grad=True)
    dist = torch.rand(2, 20, 12, requires_grad=True)
    y = h(f0, amp, dist, 1600)
    assert y.shape == (2, 1, 1600) and torch.isfinite(y).all()
    y.square().sum().backward()
    for t in (f0, amp, dist):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_harmonic_drops_harmonics_above_nyquist_and_normalises_the_distribution():
    h = Harmonic(8000, n_harmonics=4)
    # at 1500 Hz only harmonics 1 and 2 are below 4 kHz; the distribution renormalises
    y = h(torch.full((1, 2), 1500.0), torch.ones(1, 2), torch.ones(1, 2, 4), 8000)
    t = torch.arange(8000, dtype=torch.float64) / 8000
    want = 0.5 * torch.sin(2 * math.pi * 1500 * t) + 0.5 * torch.sin(2 * math.pi * 3000 * t)
    assert float((y[0, 0] - want).abs().max()) < 1e-4


def test_parameters_are_set_and_read_in_physical_units_and_stay_in_range():
    b = Biquad(SR, cutoff_hz=500.0)
    assert float(b.cutoff_hz.detach()) == pytest.approx(500.0, rel=1e-5)
    b.cutoff_hz = 2000.0
    assert float(b.cutoff_hz.detach()) == pytest.approx(2000.0, rel=1e-5)
    with torch.no_grad():  # whatever the optimiser does, the value stays inside the spec
        b.raw_cutoff_hz.fill_(1e4)
    assert b.spec("cutoff_hz").minimum <= float(b.cutoff_hz.detach()) <= b.spec("cutoff_hz").maximum
    with pytest.raises(ValueError, match=r"cutoff_hz in \[20, 20000\], got 5"):
        b.cutoff_hz = 5.0
    with pytest.raises(ValueError, match="unknown parameter"):
        Biquad(SR, cutof_hz=100.0)
    with pytest.raises(ValueError, match="kind in"):
        Biquad(SR, kind="lopass")
    with pytest.raises(ValueError, match="sample_rate"):
        Biquad(0)


def test_controls_override_parameters_per_item_and_per_frame():
    b = Biquad(SR, kind="lowpass")
    x = torch.randn(2, 1, 400)
    per_item = b(x, cutoff_hz=torch.tensor([300.0, 3000.0]))
    for i, fc in enumerate((300.0, 3000.0)):
        ref = ddsp.functional.biquad(x[i], "lowpass", fc, float(b.q.detach()), sample_rate=SR)
        torch.testing.assert_close(per_item[i], ref, rtol=1e-5, atol=1e-5)
    per_frame = b(x, cutoff_hz=torch.tensor([[300.0, 600.0, 900.0], [3000.0, 2000.0, 1000.0]]))
    assert per_frame.shape == x.shape
    normalized = b.forward_normalized(x, cutoff_hz=torch.tensor([0.5, 0.5]))
    mid = b.spec("cutoff_hz").to_physical(0.5)
    torch.testing.assert_close(normalized, b(x, cutoff_hz=torch.tensor([mid, mid])))
    with pytest.raises(ValueError, match="unknown control"):
        b(x, cutof_hz=100.0)
    with pytest.raises(ValueError, match=r"\(batch, channels, time\)"):
        b(torch.randn(400))


def test_a_learnable_filter_fits_a_target_cutoff():
    torch.manual_seed(1)
    x = torch.randn(4, 1, 4000)
    target = ddsp.functional.biquad(x, "lowpass", 2500.0, 0.7071, sample_rate=SR)
    b = Biquad(SR, kind="lowpass", cutoff_hz=400.0)
    opt = torch.optim.Adam(b.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        loss = (b(x) - target).square().mean()
        loss.backward()
        opt.step()
    assert float(b.cutoff_hz.detach()) == pytest.approx(2500.0, rel=0.05)


def test_processor_base_is_exported():
    assert issubclass(Biquad, Processor)
