"""Pitch tracking: the streaming tracker's contract (block-size invariance, latency, gate,
TorchScript and torch.export) and both trackers on tones with a weak fundamental."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest
import torch

from ddsp.features import GATE, PitchTracker, f0, f0_stream

CENTS_TOL = 10  # steady synthetic tones, away from onsets
BREATH_LEVEL = 0.05  # rms of the breath-like noise (-26 dBFS)


def _cents(a: torch.Tensor, b: float | torch.Tensor) -> torch.Tensor:
    return 1200 * torch.log2(torch.as_tensor(a, dtype=torch.float64) / b)


def _tone(f0_hz: float, sample_rate: int, seconds: float, levels_db: list[float]) -> torch.Tensor:
    """Harmonics 1, 2, ... of ``f0_hz`` at the given levels (dB), peak about 0.3."""
    t = torch.arange(int(sample_rate * seconds), dtype=torch.float64) / sample_rate
    parts = [
        10 ** (db / 20) * torch.sin(2 * math.pi * f0_hz * (k + 1) * t + 0.7 * k)
        for k, db in enumerate(levels_db)
        if f0_hz * (k + 1) < sample_rate / 2
    ]
    x = sum(parts)
    return 0.3 * x / x.abs().max()


# a low double reed: the fundamental 17 dB and the odd partials 21-27 dB below the 2nd
# harmonic (FluidR3's bassoon at A3); YIN's first dip sits at half the period
BASSOON_DB = [-17.0, 0.0, -21.0, -12.0, -27.0, -30.0]
# ordinary 1/k partials
SAWTOOTH_DB = [-20 * math.log10(k) for k in range(1, 9)]


def _breath(n: int, sample_rate: int, seed: int) -> torch.Tensor:
    """Noise through three vowel-like formant resonators (600, 1100, 2500 Hz), unit rms."""
    from scipy.signal import lfilter

    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator=g, dtype=torch.float64).numpy()
    y = 0.0
    for fc, bw in [(600.0, 100.0), (1100.0, 120.0), (2500.0, 200.0)]:
        r, th = math.exp(-math.pi * bw / sample_rate), 2 * math.pi * fc / sample_rate
        y = y + lfilter([1 - r], [1, -2 * r * math.cos(th), r * r], z)
    y = torch.from_numpy(y)
    return y / y.square().mean().sqrt()


def _run_blocks(tracker, x: torch.Tensor, sizes, state=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Feed ``x`` (batch, n) in blocks of the given sizes (cycled) and concatenate."""
    if state is None:
        state = tracker.initial_state(x.shape[0], x.dtype)
    f0s, confs, at, i = [], [], 0, 0
    while at < x.shape[1]:
        n = sizes[i % len(sizes)]
        f, c, state = tracker(x[:, at : at + n], state)
        f0s.append(f)
        confs.append(c)
        at, i = at + n, i + 1
    return torch.cat(f0s, 1), torch.cat(confs, 1)


def _padded(tracker: PitchTracker, x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, tracker.latency_samples + tracker.hop))


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("sample_rate", [16_000, 22_050, 32_000, 44_100, 48_000])
def test_latency_is_declared_and_within_50_ms(sample_rate):
    tracker = PitchTracker(sample_rate)
    assert tracker.hop == round(sample_rate / 250)
    assert 0 < tracker.latency_samples <= 0.050 * sample_rate
    # frame j is final exactly when j * hop + latency + 1 samples are in
    x = torch.zeros(1, 5 * tracker.hop + tracker.latency_samples)
    f, _, state = tracker(x, tracker.initial_state(1))
    assert f.shape == (1, 5)
    f, _, _ = tracker(torch.zeros(1, 1), state)
    assert f.shape == (1, 1)


def test_frames_are_the_same_for_any_block_sizes():
    sample_rate = 44_100
    tracker = PitchTracker(sample_rate)
    tone = _tone(220.0, sample_rate, 0.25, SAWTOOTH_DB)
    noise = 0.05 * torch.randn(int(0.1 * sample_rate), dtype=torch.float64)
    x = torch.cat([tone, torch.zeros(2000, dtype=torch.float64), noise, tone])
    x = _padded(tracker, torch.stack([x, x.flip(0)]))
    whole_f, whole_c = tracker(x, tracker.initial_state(2, x.dtype))[:2]
    assert whole_f.shape[1] == (x.shape[1] - tracker.latency_samples - 1) // tracker.hop + 1
    g = torch.Generator().manual_seed(3)
    random_sizes = torch.randint(1, 3000, (64,), generator=g).tolist()
    for sizes in ([64], [441], [512], [4097], random_sizes):
        f, c = _run_blocks(tracker, x, sizes)
        assert torch.equal(f, whole_f) and torch.equal(c, whole_c), sizes


def test_sample_by_sample_gives_the_same_frames():
    sample_rate = 16_000
    tracker = PitchTracker(sample_rate)
    x = _padded(tracker, _tone(330.0, sample_rate, 0.06, SAWTOOTH_DB)[None])
    whole = tracker(x, tracker.initial_state(1, x.dtype))[:2]
    one = _run_blocks(tracker, x, [1])
    assert torch.equal(one[0], whole[0]) and torch.equal(one[1], whole[1])


def test_one_tracker_serves_several_streams():
    sample_rate = 16_000
    tracker = PitchTracker(sample_rate)
    a = _tone(200.0, sample_rate, 0.3, SAWTOOTH_DB)[None]
    b = _tone(310.0, sample_rate, 0.3, BASSOON_DB)[None]
    alone_a = _run_blocks(tracker, a, [700])
    alone_b = _run_blocks(tracker, b, [700])
    sa, sb = tracker.initial_state(1, a.dtype), tracker.initial_state(1, b.dtype)
    got_a, got_b = [], []
    for at in range(0, a.shape[1], 700):  # interleaved calls, one module
        fa, _, sa = tracker(a[:, at : at + 700], sa)
        fb, _, sb = tracker(b[:, at : at + 700], sb)
        got_a.append(fa)
        got_b.append(fb)
    assert torch.equal(torch.cat(got_a, 1), alone_a[0])
    assert torch.equal(torch.cat(got_b, 1), alone_b[0])


def test_scripted_tracker_matches_eager():
    sample_rate = 22_050
    tracker = PitchTracker(sample_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated
        scripted = torch.jit.script(tracker)
    x = _padded(tracker, _tone(150.0, sample_rate, 0.3, BASSOON_DB)[None].float())
    for sizes in ([256], [1000, 17]):
        want = _run_blocks(tracker, x, sizes)
        got = _run_blocks(scripted, x, sizes)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_exported_tracker_matches_eager_and_loads_without_ddsp(tmp_path):
    sample_rate, block = 16_000, 512
    tracker = PitchTracker(sample_rate)
    x = _tone(247.0, sample_rate, 0.4, SAWTOOTH_DB)[None].float()
    x = x[:, : x.shape[1] // block * block]
    program = torch.export.export(tracker, (x[:, :block], tracker.initial_state(1)))
    want = _run_blocks(tracker, x, [block])
    got = _run_blocks(program.module(), x, [block], tracker.initial_state(1))
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    torch.export.save(program, tmp_path / "tracker.pt2")
    torch.save({"x": x, "state": tracker.initial_state(1), "f0": want[0]}, tmp_path / "io.pt")
    code = (
        "import sys, torch\n"
        "sys.modules['ddsp'] = None  # the exported program must not need the library\n"
        f"m = torch.export.load({str(tmp_path / 'tracker.pt2')!r}).module()\n"
        f"io = torch.load({str(tmp_path / 'io.pt')!r})\n"
        "state, out = io['state'], []\n"
        f"for at in range(0, io['x'].shape[1], {block}):\n"
        f"    f, c, state = m(io['x'][:, at : at + {block}], state)\n"
        "    out.append(f)\n"
        "assert torch.equal(torch.cat(out, 1), io['f0'])\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="fmax_hz"):
        PitchTracker(8000, fmax_hz=3000.0)
    with pytest.raises(ValueError, match="decoder_lag"):
        PitchTracker(16_000, decoder_lag=1)
    with pytest.raises(ValueError, match="shape"):
        PitchTracker(16_000)(torch.zeros(10), PitchTracker(16_000).initial_state(1))


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("sample_rate", [16_000, 44_100, 48_000])
@pytest.mark.parametrize("pitch", [65.4, 196.0, 523.3, 1318.5])
def test_stream_tracks_harmonic_tones_within_cents(sample_rate, pitch):
    hz, conf = f0_stream(_tone(pitch, sample_rate, 0.5, SAWTOOTH_DB), sample_rate)
    inner = slice(15, -15)
    assert _cents(hz[0, inner], pitch).abs().max() < CENTS_TOL
    assert conf[0, inner].min() >= GATE
    assert ((conf >= 0) & (conf <= 1)).all()


@pytest.mark.parametrize("track", ["offline", "stream"])
@pytest.mark.parametrize("sample_rate", [16_000, 44_100])
@pytest.mark.parametrize("pitch", [98.0, 146.8, 220.0])
def test_weak_fundamental_stays_on_the_fundamental(track, sample_rate, pitch):
    """A bassoon-like spectrum: the previous pYIN tracker reported 2 f0 on all of these."""
    x = _tone(pitch, sample_rate, 0.5, BASSOON_DB)
    hz, voicing = (f0 if track == "offline" else f0_stream)(x, sample_rate)
    inner = slice(15, -15)
    assert _cents(hz[0, inner], pitch).abs().max() < CENTS_TOL
    assert voicing[0, inner].min() >= GATE


def test_unvoiced_frames_hold_the_last_voiced_f0_or_the_coming_note():
    sample_rate = 16_000
    a = _tone(200.0, sample_rate, 0.4, SAWTOOTH_DB)
    b = _tone(300.0, sample_rate, 0.4, SAWTOOTH_DB)
    gap = torch.zeros(int(0.3 * sample_rate), dtype=torch.float64)
    hz, conf = f0_stream(torch.cat([a, gap, b]), sample_rate)
    t = torch.arange(hz.shape[1]) * PitchTracker(sample_rate).hop / sample_rate
    silent = (t > 0.45) & (t < 0.66)  # inside the gap, more than the lookahead before b
    assert conf[0, silent].max() < GATE
    assert torch.all((hz[0, silent] - hz[0, (t > 0.3) & (t < 0.35)].mean()).abs() < 2)
    assert (hz[0, silent] - 200).abs().max() < 2  # held, no jump to 0 or fmin
    assert (hz[0, (t > 0.75) & (t < 1.05)] - 300).abs().max() < 2


# --------------------------------------------------------------------------- gate


@pytest.mark.parametrize("sample_rate", [16_000, 44_100, 48_000])
def test_gate_stays_closed_on_silence_white_noise_and_breath(sample_rate):
    n = int(1.0 * sample_rate)
    g = torch.Generator().manual_seed(7)
    white = 0.01 * torch.randn(n, generator=g, dtype=torch.float64)  # -40 dBFS rms
    fade = torch.hann_window(n, dtype=torch.float64)
    breath = BREATH_LEVEL * _breath(n, sample_rate, 11) * fade
    for name, x in [("silence", torch.zeros(n)), ("white", white), ("breath", breath)]:
        _, conf = f0_stream(x, sample_rate)
        assert conf.max() < GATE, name


class _GatedSine(torch.nn.Module):
    """A minimal pitched synth driven by the tracker: a sine at f0, -6 dBFS where the gate
    is open, silent where it is closed (phase carried across blocks)."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.tracker = PitchTracker(sample_rate)
        self.sample_rate = float(sample_rate)

    def forward(
        self, x: torch.Tensor, state: dict[str, torch.Tensor], phase: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        hz, conf, state = self.tracker(x, state)
        hop = self.tracker.hop
        f = hz.repeat_interleave(hop, 1)
        amp = (0.5 * (conf >= GATE).to(x.dtype)).repeat_interleave(hop, 1)
        ph = phase[:, None] + 2 * math.pi * torch.cumsum(f, 1) / self.sample_rate
        new_phase = phase + 2 * math.pi * f.sum(1) / self.sample_rate
        return amp * torch.sin(ph), state, torch.remainder(new_phase, 2 * math.pi)


def test_exported_pipeline_output_is_below_minus_60_dbfs_on_silence_and_noise():
    sample_rate, block = 44_100, 441
    synth = _GatedSine(sample_rate)
    state, phase = synth.tracker.initial_state(1), torch.zeros(1)
    program = torch.export.export(synth, (torch.zeros(1, block), state, phase)).module()
    g = torch.Generator().manual_seed(5)
    n = 100 * block
    white = 0.01 * torch.randn(1, n, generator=g)  # -40 dBFS
    for name, x in [("silence", torch.zeros(1, n)), ("white -40 dBFS", white)]:
        state, phase, out = synth.tracker.initial_state(1), torch.zeros(1), []
        for at in range(0, n, block):
            y, state, phase = program(x[:, at : at + block], state, phase)
            out.append(y)
        y = torch.cat(out, 1)
        assert y.shape[1] > 0.8 * n
        assert float(y.abs().max()) < 10 ** (-60 / 20), name


@pytest.mark.parametrize("pitch", [110.0, 220.0, 440.0])
@pytest.mark.parametrize("levels_db", [SAWTOOTH_DB, [-6.0, 0.0, -6.0, -12.0, -14.0]])
def test_breathy_onsets_have_no_octave_jumps(pitch, levels_db):
    """Breath alone, then the tone fading in over 150 ms under the breath."""
    sample_rate = 16_000
    n = int(1.0 * sample_rate)
    t = torch.arange(n, dtype=torch.float64) / sample_rate
    fade_in = ((t - 0.3) / 0.15).clamp(0, 1)
    breath = BREATH_LEVEL * _breath(n, sample_rate, 2) * (0.4 + (t < 0.5))
    x = fade_in * _tone(pitch, sample_rate, 1.0, levels_db) + breath
    hz, conf = f0_stream(x, sample_rate)
    voiced = conf[0] >= GATE
    assert voiced[-50:-5].all()  # (the last frames see the end of the signal)
    assert _cents(hz[0, voiced], pitch).abs().max() < 50  # pitched output: the note
    first = int(voiced.to(torch.int64).argmax())
    steps = _cents(hz[0, first + 1 :], hz[0, first:-1]).abs()
    assert steps.max() < 600  # from the first voiced frame on: no octave jump


def test_the_median_of_five_by_min_and_max_is_torchs_median():
    from ddsp.features.pitch_stream import _median5

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(20_000, 5, generator=gen)
    x[::3, 1] = x[::3, 4]  # ties
    x[::5] = torch.round(x[::5] * 2) / 2  # many equal values
    assert torch.equal(_median5(*x.unbind(1)), x.median(1).values)
