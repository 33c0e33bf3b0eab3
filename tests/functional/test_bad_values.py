"""One rule for NaN and Inf: every control, coefficient and sample rate of every functional op.

Each op is called once with valid arguments (the table below), then once per float or
tensor argument with a NaN or an Inf put in it. Python numbers are always checked;
tensors when value checks are on (the test default, see conftest), and not when they are
off, so the check costs nothing on a GPU in production.
"""

from __future__ import annotations

import math

import pytest
import torch

import ddsp
import ddsp.functional as F

SR = 8000.0
N = 200


def _sig(channels: int = 1) -> torch.Tensor:
    return torch.randn(2, channels, N) * 0.3


# op -> (function, valid keyword arguments); every float/tensor argument is then spoiled
CALLS = {
    "allpole": (F.allpole, lambda: dict(x=_sig(), a=torch.tensor([-0.5]), zi=torch.zeros(1))),
    "lfilter": (
        F.lfilter,
        lambda: dict(x=_sig(), b=torch.tensor([0.5, 0.5]), a=torch.tensor([1.0, -0.5])),
    ),
    "biquad": (
        F.biquad,
        lambda: dict(
            x=_sig(), kind="peaking", cutoff_hz=1000.0, q=0.7, gain_db=3.0, sample_rate=SR
        ),
    ),
    "biquad_coefficients": (
        F.biquad_coefficients,
        lambda: dict(kind="peaking", cutoff_hz=1000.0, q=0.7, gain_db=3.0, sample_rate=SR),
    ),
    "svf": (F.svf, lambda: dict(x=_sig(), cutoff_hz=1000.0, resonance=0.5, sample_rate=SR)),
    "harmonic": (
        F.harmonic,
        lambda: dict(
            f0_hz=torch.full((2, 10), 220.0),
            amplitudes=torch.rand(2, 10, 4),
            sample_rate=SR,
            n_samples=N,
            initial_phase=torch.zeros(2),
        ),
    ),
    "sinusoidal": (
        F.sinusoidal,
        lambda: dict(
            frequencies_hz=torch.full((2, 10, 3), 300.0),
            amplitudes=torch.rand(2, 10, 3),
            sample_rate=SR,
            n_samples=N,
            initial_phase=torch.zeros(2, 3),
        ),
    ),
    "oscillator": (
        F.oscillator,
        lambda: dict(
            f0_hz=torch.full((2, 10), 220.0),
            sample_rate=SR,
            n_samples=N,
            shape="pulse",
            width=0.3,
            amplitude=0.5,
            initial_phase=torch.zeros(2),
        ),
    ),
    "fm": (
        F.fm,
        lambda: dict(
            f0_hz=torch.full((2, 10), 220.0),
            sample_rate=SR,
            n_samples=N,
            ratio=2.0,
            index=1.0,
            amplitude=0.5,
        ),
    ),
    "wavetable": (
        F.wavetable,
        lambda: dict(
            f0_hz=torch.full((2, 10), 220.0),
            table=torch.sin(torch.arange(64) / 64 * 2 * math.pi),
            sample_rate=SR,
            n_samples=N,
            amplitude=0.5,
        ),
    ),
    "filtered_noise": (
        F.filtered_noise,
        lambda: dict(magnitudes=torch.rand(2, 10, 9), n_samples=N, seed=0),
    ),
    "frequency_filter": (
        F.frequency_filter,
        lambda: dict(x=torch.randn(2, N), magnitudes=torch.rand(2, 10, 9)),
    ),
    "magnitudes_to_impulse_responses": (
        F.magnitudes_to_impulse_responses,
        lambda: dict(magnitudes=torch.rand(2, 10, 9)),
    ),
    "adsr": (
        F.adsr,
        lambda: dict(
            gate=torch.cat([torch.ones(2, 100), torch.zeros(2, 100)], 1),
            attack_ms=5.0,
            decay_ms=5.0,
            sustain=0.5,
            release_ms=5.0,
            sample_rate=SR,
        ),
    ),
    "lfo": (
        F.lfo,
        lambda: dict(n_samples=N, rate_hz=5.0, sample_rate=SR, depth=0.5, phase=0.1),
    ),
    "compressor": (
        F.compressor,
        lambda: dict(
            x=_sig(),
            threshold_db=-20.0,
            ratio=4.0,
            attack_ms=5.0,
            release_ms=50.0,
            sample_rate=SR,
            knee_db=6.0,
            makeup_db=1.0,
            detector="rms",
            rms_ms=5.0,
        ),
    ),
    "limiter": (
        F.limiter,
        lambda: dict(
            x=_sig(),
            threshold_db=-6.0,
            release_ms=50.0,
            sample_rate=SR,
            attack_ms=0.5,
            knee_db=1.0,
            makeup_db=1.0,
        ),
    ),
    "expander": (
        F.expander,
        lambda: dict(
            x=_sig(),
            threshold_db=-20.0,
            ratio=2.0,
            attack_ms=5.0,
            release_ms=50.0,
            sample_rate=SR,
            knee_db=6.0,
            makeup_db=1.0,
            rms_ms=5.0,
        ),
    ),
    "smooth_gain": (
        F.smooth_gain,
        lambda: dict(gain=torch.rand(2, N), attack_coef=0.9, release_coef=0.99, initial=1.0),
    ),
    "gain_curve_db": (
        F.gain_curve_db,
        lambda: dict(
            level_db=torch.randn(2, N) * 10 - 20, threshold_db=-20.0, ratio=4.0, knee_db=6.0
        ),
    ),
    "parametric_eq": (
        F.parametric_eq,
        lambda: dict(x=_sig(), sample_rate=SR, low_cut_hz=40.0, high_cut_hz=3000.0),
    ),
    "distortion": (
        F.distortion,
        lambda: dict(x=_sig(), drive_db=6.0, bias=0.1, mix=0.8, output_db=-3.0),
    ),
    "pan": (F.pan, lambda: dict(x=_sig(1), position=0.3)),
    "stereo_width": (F.stereo_width, lambda: dict(x=_sig(2), width=1.5)),
    "tremolo": (F.tremolo, lambda: dict(x=_sig(), rate_hz=5.0, depth=0.5, sample_rate=SR)),
    "delay": (
        F.delay,
        lambda: dict(x=_sig(), delay_ms=3.0, sample_rate=SR, feedback=0.3, mix=0.5),
    ),
    "chorus": (
        F.chorus,
        lambda: dict(
            x=_sig(),
            sample_rate=SR,
            rate_hz=2.0,
            depth_ms=1.0,
            centre_ms=5.0,
            feedback=0.2,
            mix=0.5,
        ),
    ),
    "convolution_reverb": (
        F.convolution_reverb,
        lambda: dict(x=_sig(), ir=torch.randn(50) * 0.1, mix=0.5),
    ),
    "fft_convolve": (F.fft_convolve, lambda: dict(x=_sig(), ir=torch.randn(50) * 0.1)),
    "noise_reverb_ir": (
        F.noise_reverb_ir,
        lambda: dict(
            rt60_s=0.2,
            n_samples=N,
            sample_rate=SR,
            pre_delay_ms=1.0,
            high_rt60_ratio=0.5,
            crossover_hz=2000.0,
        ),
    ),
    "ping_pong_delay": (
        F.ping_pong_delay,
        lambda: dict(x=_sig(2), delay_ms=3.0, sample_rate=SR, feedback=0.3, mix=0.5),
    ),
    "phaser": (
        F.phaser,
        lambda: dict(
            x=_sig(), sample_rate=SR, rate_hz=1.0, depth_octaves=1.0, centre_hz=800.0, mix=0.5
        ),
    ),
    "fdn_reverb": (
        F.fdn_reverb,
        lambda: dict(
            x=_sig(1),
            sample_rate=SR,
            delays=[11, 13, 17, 19],
            feedback_matrix=F.orthogonal(torch.randn(4, 4)),
            rt60_s=0.3,
            high_rt60_ratio=0.5,
            input_gains=torch.full((4,), 0.5),
            output_gains=torch.full((2, 4), 0.5),
            pre_delay_ms=1.0,
            mix=0.5,
        ),
    ),
    "orthogonal": (F.orthogonal, lambda: dict(weight=torch.randn(4, 4))),
    "freeverb": (
        F.freeverb,
        lambda: dict(x=_sig(2), sample_rate=SR, room_size=0.5, damping=0.5, width=1.0, mix=0.5),
    ),
}

# documented: a ratio of inf is a limiter (NaN is still refused)
ALLOWED_INF = {("compressor", "ratio"), ("expander", "ratio"), ("gain_curve_db", "ratio")}


def _spoiled(op: str) -> list[tuple[str, str, object]]:
    """(argument, label, bad value) for every float or tensor argument of ``op``."""
    out = []
    for key, value in CALLS[op][1]().items():
        if isinstance(value, bool) or key in ("n_samples", "seed"):
            continue
        if isinstance(value, float):
            out.append((key, "nan", math.nan))
            if (op, key) not in ALLOWED_INF:
                out += [(key, "inf", math.inf), (key, "-inf", -math.inf)]
            if key != "sample_rate":
                out.append((key, "nan tensor", torch.tensor([math.nan, 1.0])[:, None]))
        elif isinstance(value, torch.Tensor) and value.is_floating_point():
            for label, bad in (("nan", math.nan), ("inf", math.inf)):
                t = value.clone()
                t.view(-1)[-1] = bad
                out.append((key, f"{label} in tensor", t))
    return out


CASES = [(op, key, label, bad) for op in CALLS for key, label, bad in _spoiled(op)]


def test_the_table_covers_every_functional_op():
    public = {n for n in F.__all__ if callable(getattr(F, n)) and not n.isupper()}
    helpers = {
        "LFilterState",
        "DelayState",  # streaming state: made by the ops' callers, no controls
        "DynamicsState",
        "delay_state",
        "check_stable",
        "frame_interpolation",
        "upsample_frames",
        "white_noise",
        "rt60_from_ir",
        "load_impulse_response",
        "fdn_delays",
        "resample",
    }  # no controls, or controls checked by their callers
    assert public - helpers == set(CALLS)


@pytest.mark.parametrize("op", sorted(CALLS))
def test_the_valid_call_is_finite(op):
    fn, make = CALLS[op]
    out = fn(**make())
    for t in out if isinstance(out, tuple) else (out,):
        assert torch.isfinite(t).all()


@pytest.mark.parametrize(
    "op, key, label, bad", CASES, ids=[f"{op}-{key}-{label}" for op, key, label, _ in CASES]
)
def test_a_nan_or_inf_control_is_refused_with_its_name(op, key, label, bad):
    fn, make = CALLS[op]
    kwargs = make()
    kwargs[key] = bad
    # parametric_eq's corners reach biquad, whose message names its own cutoff_hz
    name = "cutoff_hz" if op == "parametric_eq" and key.endswith("_cut_hz") else key
    with pytest.raises(ValueError, match=name):
        fn(**kwargs)


def test_tensor_checks_follow_the_switch_and_python_numbers_are_always_checked():
    x = _sig()
    nan_threshold = torch.full((2, 1), math.nan)
    with ddsp.value_checks(False):  # production setting on a GPU: no sync per call
        y = F.compressor(x, nan_threshold, 4.0, 5.0, 50.0, sample_rate=SR)
        assert torch.isnan(y).any()
        with pytest.raises(ValueError, match="threshold_db"):
            F.compressor(x, math.nan, 4.0, 5.0, 50.0, sample_rate=SR)
        with pytest.raises(ValueError, match="makeup_db"):
            F.compressor(x, -20.0, 4.0, 5.0, 50.0, sample_rate=SR, makeup_db=math.nan)
    with ddsp.value_checks(None):  # the default: CPU tensors are checked
        with pytest.raises(ValueError, match="threshold_db"):
            F.compressor(x, nan_threshold, 4.0, 5.0, 50.0, sample_rate=SR)


def test_an_infinite_ratio_is_a_limiter():
    x = _sig()
    y = F.compressor(x, -20.0, math.inf, 0.1, 50.0, sample_rate=SR, knee_db=0.0)
    z = F.limiter(x, -20.0, 50.0, sample_rate=SR, attack_ms=0.1)
    torch.testing.assert_close(y, z)


@pytest.mark.parametrize("rms_ms", [0.0, -1.0])
def test_a_zero_rms_window_is_refused_not_a_traceback(rms_ms):
    with pytest.raises(ValueError, match=r"rms_ms in \(0, inf\)"):
        F.compressor(_sig(), -20.0, 4.0, 5.0, 50.0, sample_rate=SR, detector="rms", rms_ms=rms_ms)
