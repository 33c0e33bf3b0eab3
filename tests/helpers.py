"""Shared test helpers: named tolerances, error measures, stable filters, and the
registry of every processor with a way to build and call it."""

from __future__ import annotations

import torch

import ddsp

F64_TOL = 1e-10  # twins vs reference in float64
F32_TOL = 1e-4  # twins vs reference in float32, relative to the signal's scale


def max_rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest absolute error relative to the largest magnitude of ``want`` (or 1)."""
    if want.numel() == 0:
        return 0.0
    scale = max(float(want.abs().max()), 1.0)
    return float((got.double() - want.double()).abs().max()) / scale


# --------------------------------------------------------------------------- filters


def stable_poles(
    n: int, n_t: int, order: int, radius: float = 0.9, dtype=torch.float64
) -> torch.Tensor:
    """All-pole coefficients ``(n, n_t, order)`` with real roots in (-radius, radius)."""
    roots = (torch.rand(n, n_t, order, dtype=torch.float64) * 2 - 1) * radius
    poly = torch.ones(n, n_t, 1, dtype=torch.float64)
    for k in range(order):
        r = roots[..., k : k + 1]
        shifted = torch.cat([torch.zeros_like(r), poly], -1)
        poly = torch.cat([poly, torch.zeros_like(r)], -1) - r * shifted
    return poly[..., 1:].to(dtype)


def kernel_inputs(n: int, n_t: int, n_b: int, order: int, tv_b: bool, tv_a: bool):
    """float64 inputs in the kernels' row layout: x, b, a, zx, zy."""
    radius = 0.9 if order <= 2 else 0.5
    x = torch.randn(n, n_t, dtype=torch.float64)
    b = torch.randn(n, n_t if tv_b else 1, n_b, dtype=torch.float64)
    a = stable_poles(n, n_t if tv_a else 1, order, radius)
    zx = torch.randn(n, n_b - 1, dtype=torch.float64)
    zy = torch.randn(n, order, dtype=torch.float64)
    return x, b, a, zx, zy


# --------------------------------------------------------------------------- processors

SR = 16_000

# How to build each registered effect (audio in, audio out), with settings that exercise it.
EFFECTS = {
    "Biquad": lambda: ddsp.Biquad(SR, kind="peaking", cutoff_hz=900.0, gain_db=4.0),
    "SVF": lambda: ddsp.SVF(SR, mode="bandpass", cutoff_hz=700.0, resonance=0.5),
    "Gain": lambda: ddsp.Gain(SR, gain_db=-3.0),
    "Compressor": lambda: ddsp.Compressor(
        SR, threshold_db=-6.0, ratio=4.0, knee_db=12.0, makeup_db=3.0
    ),
    "Limiter": lambda: ddsp.Limiter(SR, threshold_db=-12.0, knee_db=3.0, makeup_db=1.0),
    "Expander": lambda: ddsp.Expander(SR, threshold_db=-5.0, ratio=3.0, makeup_db=1.0),
    "ParametricEQ": lambda: ddsp.ParametricEQ(
        SR,
        low_cut_hz=40.0,
        low_shelf_db=2.0,
        peak1_db=3.0,
        peak2_db=-2.0,
        peak3_db=4.0,
        high_shelf_hz=4000.0,
        high_shelf_db=-3.0,
        high_cut_hz=6000.0,
    ),
    "Distortion": lambda: ddsp.Distortion(SR, shape="asymmetric", bias=0.2, mix=0.8),
    "Panner": lambda: ddsp.Panner(SR, position=0.3),
    "StereoWidth": lambda: ddsp.StereoWidth(SR, width=1.4),
    "Tremolo": lambda: ddsp.Tremolo(SR, rate_hz=7.0, depth=0.4),
    "Delay": lambda: ddsp.Delay(SR, delay_ms=3.3, feedback=0.5, mix=0.4),
    "Chorus": lambda: ddsp.Chorus(SR, rate_hz=8.0, depth_ms=2.0, centre_ms=6.0, feedback=0.2),
    "Flanger": lambda: ddsp.Flanger(SR, rate_hz=4.0),
    "NoiseReverb": lambda: ddsp.NoiseReverb(SR, max_seconds=0.05, rt60_s=0.3, mix=0.5),
    "ConvolutionReverb": lambda: ddsp.ConvolutionReverb(SR, ir_seconds=0.02, mix=0.5),
    "PingPongDelay": lambda: ddsp.PingPongDelay(SR, delay_ms=2.0, feedback=0.5, mix=0.5),
    "Phaser": lambda: ddsp.Phaser(SR, rate_hz=5.0, stages=6),
    "FDNReverb": lambda: ddsp.FDNReverb(
        SR, n_lines=4, min_delay_ms=1.0, max_delay_ms=3.0, pre_delay_ms=1.0, rt60_s=0.2
    ),
    "Freeverb": lambda: ddsp.Freeverb(SR // 4, room_size=0.7, damping=0.3, width=0.8, mix=0.5),
}

# effects that need exactly these many input channels (others take any count)
CHANNELS = {"StereoWidth": 2, "Panner": 1, "PingPongDelay": 2, "FDNReverb": 1, "Freeverb": 2}

# Sources and modulators: how to build each, and the arguments of a call.
F0 = torch.full((2, 10), 220.0)
SOURCES = {
    "Oscillator": (lambda: ddsp.Oscillator(SR, shape="pulse", width=0.3), lambda: (F0, 800)),
    "FM": (lambda: ddsp.FM(SR, ratio=2.0, index=3.0), lambda: (F0, 800)),
    "Wavetable": (lambda: ddsp.Wavetable(SR, table_size=64), lambda: (F0, 800)),
    "FilteredNoise": (lambda: ddsp.FilteredNoise(SR, seed=3), lambda: (torch.rand(2, 10, 17), 800)),
    "ADSR": (
        lambda: ddsp.ADSR(SR, attack_ms=5.0, decay_ms=10.0, release_ms=10.0),
        lambda: (torch.cat([torch.ones(2, 500), torch.zeros(2, 300)], 1),),
    ),
    "LFO": (lambda: ddsp.LFO(SR, shape="triangle", rate_hz=30.0), lambda: (800, 2)),
}


def harmonic_call() -> tuple:
    """Arguments of a Harmonic call: f0, amplitude, distribution frames, n_samples."""
    f0 = torch.full((2, 10), 220.0)
    return f0, torch.rand(2, 10) * 0.5, torch.rand(2, 10, 8), 800


def build(name: str) -> ddsp.Processor:
    """A processor of the registry with the settings above."""
    if name == "Harmonic":
        return ddsp.Harmonic(SR, n_harmonics=8)
    return EFFECTS[name]() if name in EFFECTS else SOURCES[name][0]()


def render(proc: ddsp.Processor, x: torch.Tensor | None = None) -> torch.Tensor:
    """Call ``proc`` as the registry says: effects on ``x`` (random audio if None)."""
    name = type(proc).__name__
    if name == "Harmonic":  # driven by f0 alone: its gain and tilt set the spectrum
        return proc(harmonic_call()[0], n_samples=800)
    if name in SOURCES:
        return proc(*SOURCES[name][1]())
    if x is None:
        x = torch.randn(2, CHANNELS.get(name, 2), 800)
    return proc(x)
