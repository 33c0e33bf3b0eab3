"""ParamSpec: round trips, monotonic scales, defaults in range, finite gradients at edges."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ddsp.params import ParamSpec, exp_sigmoid

SPECS = [
    ParamSpec("gain_db", "dB", -60.0, 12.0, 0.0),
    ParamSpec("cutoff_hz", "Hz", 20.0, 20_000.0, 1_000.0, scale="log"),
    ParamSpec("attack_ms", "ms", 0.1, 500.0, 10.0, scale="power", curve=3.0),
    ParamSpec("pan", "", -1.0, 1.0, 0.0, scale="power", curve=0.5, symmetric=True),
    ParamSpec("depth", "", 0.0, 1.0, 0.5, scale="power", curve=2.0, symmetric=True),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@settings(max_examples=50, deadline=None)
@given(u=st.floats(0.0, 1.0))
def test_round_trip_from_normalized(spec, u):
    v = spec.to_physical(u)
    assert spec.minimum - 1e-9 <= v <= spec.maximum + 1e-9
    assert spec.to_normalized(v) == pytest.approx(u, abs=1e-6)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_scales_are_monotonic_and_tensor_maps_agree_with_floats(spec):
    u = torch.linspace(0, 1, 101, dtype=torch.float64)
    v = spec.to_physical(u)
    assert torch.all(v[1:] > v[:-1])
    assert float(v[0]) == pytest.approx(spec.minimum, abs=1e-6)
    assert float(v[-1]) == pytest.approx(spec.maximum, rel=1e-9)
    for ui, vi in zip(u[::10].tolist(), v[::10].tolist()):
        assert spec.to_physical(ui) == pytest.approx(vi, rel=1e-9, abs=1e-9)
    torch.testing.assert_close(spec.to_normalized(v), u, atol=1e-6, rtol=0)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_default_in_range_and_gradients_finite_at_the_edges(spec):
    assert spec.minimum <= spec.default <= spec.maximum
    u = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64, requires_grad=True)
    spec.to_physical(u).sum().backward()
    assert torch.isfinite(u.grad).all()
    v = torch.tensor(
        [spec.minimum, spec.default, spec.maximum], dtype=torch.float64, requires_grad=True
    )
    spec.to_normalized(v).sum().backward()
    assert torch.isfinite(v.grad).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="cutoff hz", unit="Hz", minimum=1.0, maximum=2.0, default=1.5), "identifier"),
        (dict(name="x", unit="", minimum=2.0, maximum=1.0, default=1.5), "minimum < maximum"),
        (dict(name="x", unit="", minimum=0.0, maximum=1.0, default=2.0), "default of x"),
        (
            dict(name="x", unit="", minimum=0.0, maximum=1.0, default=0.5, scale="log"),
            "minimum > 0",
        ),
        (dict(name="x", unit="", minimum=0.0, maximum=1.0, default=0.5, scale="cubic"), "scale in"),
        (
            dict(
                name="x", unit="", minimum=0.0, maximum=1.0, default=0.5, scale="power", curve=0.0
            ),
            "curve > 0",
        ),
        (dict(name="x", unit="", minimum=0.0, maximum=math.inf, default=0.5), "finite range"),
    ],
)
def test_bad_specs_are_rejected_with_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ParamSpec(**kwargs)


def test_check_rejects_out_of_range_values():
    spec = SPECS[1]
    spec.check(440.0)
    with pytest.raises(ValueError, match=r"cutoff_hz in \[20, 20000\], got 5"):
        spec.check(5.0)


def test_exp_sigmoid_is_positive_bounded_and_smooth():
    x = torch.linspace(-20, 20, 401, dtype=torch.float64, requires_grad=True)
    y = exp_sigmoid(x)
    assert torch.all(y > 0) and torch.all(y <= 2.0 + 1e-7)
    assert torch.all(y[1:] >= y[:-1])
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
