"""The live timbre-transfer pipeline: the decoder step equals the offline decoder, the
pipeline's output does not depend on the block sizes, lags its analysis by exactly its
declared latency, stays silent on silence and noise, and runs the same scripted."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ddsp.errors import ExportError
from ddsp.live import Instrument
from ddsp.live.decoder import TABLE_SIZE, DecoderStep
from ddsp.training.model import Autoencoder, ModelConfig

SR = 16_000


def tiny(z_dim: int = 0, rate: int = SR, seed: int = 0) -> Instrument:
    torch.manual_seed(seed)
    config = ModelConfig(hidden=32, gru=32, layers=2, n_harmonics=16, n_bands=17,
                         reverb_seconds=0.05, z_dim=z_dim)  # fmt: skip
    model = Autoencoder(config, rate, 250.0)
    return Instrument(model, {"sample_rate": rate, "frame_rate": 250.0}, "tiny")


def melody(seconds: float = 1.2, rate: int = SR, start: int = 2500) -> torch.Tensor:
    """Silence, then a gliding tone with a level swell: ``(1, 1, n)``."""
    n = int(seconds * rate)
    t = torch.arange(n - start, dtype=torch.float64) / rate
    hz = 220.0 * 2 ** (0.5 * torch.sin(2 * math.pi * 1.5 * t))
    phase = 2 * math.pi * torch.cumsum(hz, 0) / rate
    level = 0.05 + 0.25 * torch.sin(math.pi * t / t[-1])
    x = torch.zeros(1, 1, n)
    x[0, 0, start:] = (level * torch.sin(phase)).float()
    return x


def play(pipe, x: torch.Tensor, sizes, inputs=None) -> torch.Tensor:
    out, pos, i = [], 0, 0
    with torch.no_grad():
        while pos < x.shape[-1]:
            n = sizes[i % len(sizes)]
            out.append(pipe(x[..., pos : pos + n], inputs or {}))
            pos, i = pos + n, i + 1
    return torch.cat(out, -1)


@pytest.mark.parametrize("table_size", [0, TABLE_SIZE])  # exact MLPs; tabulated gates
def test_the_decoder_step_equals_the_offline_decoder_frame_for_frame(table_size):
    inst = tiny()
    step = DecoderStep(inst.model, table_size)
    assert (step.f0_gates.numel() > 0) == (table_size > 0)
    step.allocate(2)
    gen = torch.Generator().manual_seed(0)
    f0 = 100 + 400 * torch.rand(2, 40, generator=gen)
    loud = -70 + 60 * torch.rand(2, 40, generator=gen)
    with torch.no_grad():
        want = inst.model.controls(f0, loud)
        got: list[list[torch.Tensor]] = [[], [], []]
        pos = 0
        for k in (3, 0, 1, 7, 5, 24):  # frames per call, in 8 padded slots
            slots = 8 if k <= 8 else k
            pad = slots - k
            f = torch.cat([f0[:, pos : pos + k], torch.full((2, pad), 300.0)], 1)
            ld = torch.cat([loud[:, pos : pos + k], torch.zeros(2, pad)], 1)
            outs = step(f, ld, torch.tensor([k]))
            for i, o in enumerate(outs):
                got[i].append(o[:, :k])
            pos += k
    for g, w in zip(got, want):
        assert torch.allclose(torch.cat(g, 1), w, atol=1e-5, rtol=1e-5)


def test_a_model_with_a_z_encoder_is_refused():
    with pytest.raises(ExportError, match="z_dim"):
        tiny(z_dim=4).pipeline()


@pytest.mark.parametrize("rate", [SR, 48_000])  # 48 kHz: analysis decimated by 3
def test_the_output_does_not_depend_on_the_block_sizes_and_reset_replays(rate):
    inst, x = tiny(), melody(rate=rate)
    pipe = inst.pipeline(block_size=512, sample_rate=rate)
    first = play(pipe, x, [512])
    assert float(first.abs().max()) > 1e-3  # it plays
    assert bool(torch.isfinite(first).all())
    for sizes in ([1, 33, 128, 700, 2048, 5], [64], [4096 + 77]):
        other = play(inst.pipeline(block_size=512, sample_rate=rate), x, sizes)
        assert float((other - first).abs().max()) < 1e-5, sizes
    pipe.reset()
    assert torch.equal(play(pipe, x, [512]), first)


@pytest.mark.parametrize("rate", [SR, 48_000])
def test_a_scripted_pipeline_plays_the_same_and_resets(rate):
    inst, x = tiny(), melody(0.6, rate=rate)
    want = play(inst.pipeline(block_size=256, sample_rate=rate), x, [256])
    scripted = torch.jit.script(inst.pipeline(block_size=256, sample_rate=rate))
    got = play(scripted, x, [256, 100, 1000])
    assert float((got - want).abs().max()) < 1e-5
    scripted.reset()  # every counter back to zero (none shared by constant folding)
    assert torch.equal(play(scripted, x, [256, 100, 1000]), got)


def test_an_exported_pipeline_plays_what_the_pipeline_plays(tmp_path):
    """torch.export (the .pt2 file, as a host loads it) takes its own paths through the
    synthesiser (Clenshaw's recurrence) and the reverb (the fused head): on a melody with
    its reverb and noise, block after block, it plays what the eager pipeline plays."""
    from ddsp.export.formats.pt2 import load_pt2, save_pt2

    rate, block = 48_000, 512
    inst, x = tiny(), melody(0.384, rate=rate, start=1000)  # 36 whole blocks
    model = inst.export_model(block_size=block, sample_rate=rate)
    (path,) = save_pt2(model, tmp_path / "live.pt2", name="tiny", aoti=False)
    host = load_pt2(path)
    knobs = torch.tensor(model.knob_defaults)
    want = play(inst.pipeline(block_size=block, sample_rate=rate), x, [block])
    with torch.no_grad():
        got = torch.cat(
            [host(x[..., i : i + block], knobs) for i in range(0, x.shape[-1], block)], -1
        )
    assert float(want.abs().max()) > 1e-3
    assert float((got - want).abs().max()) < 1e-5


def _reference_harmonic(frames, hop: int, n: int, rate: float, model_rate: float):
    """Harmonic synthesis of decided frames, sample by sample in float64: output sample
    ``u`` interpolates frames ``u // hop`` and the next; the phase accumulates f0."""
    f0, amp, dist = (np.asarray(v, dtype=np.float64) for v in frames)
    h = np.arange(1, dist.shape[-1] + 1)
    dist = dist * (h * f0[:, None] < model_rate / 2)
    dist = dist / np.maximum(dist.sum(-1, keepdims=True), 1e-7)
    amps = amp[:, None] * dist
    y, phase = np.zeros(n), 0.0
    for u in range(n):
        a, w = u // hop, (u % hop) / hop
        b = min(a + 1, len(f0) - 1)
        hz = f0[a] + w * (f0[b] - f0[a])
        y[u] = float(((amps[a] + w * (amps[b] - amps[a])) * np.sin(phase * h)).sum())
        phase = (phase + 2 * math.pi * hz / rate) % (2 * math.pi)
    return y


@pytest.mark.parametrize("rate", [SR, 48_000])
def test_the_output_lags_the_analysis_by_exactly_the_declared_latency(monkeypatch, rate):
    """Frame j is decided at input sample j * hop + lookahead; its sound must come out
    one hop later. It stands for input sample j * hop - centre (where its pitch is
    measured): the declared latency counts that. Harmonic only and dry, against a
    per-sample reference."""
    inst, x = tiny(), melody(0.5, rate=rate, start=1000)
    pipe = inst.pipeline(defaults={"balance": 0.0, "mix": 0.0}, sample_rate=rate)
    pushed: list[tuple] = []
    push = pipe.synth.push

    def record(f0, amp, dist, noise, count):
        k = int(count)
        pushed.append((f0[0, :k].clone(), amp[0, :k].clone(), dist[0, :k].clone()))
        push(f0, amp, dist, noise, count)

    monkeypatch.setattr(pipe.synth, "push", record)
    y = play(pipe, x, [256])[0, 0].double().numpy()
    frames = [torch.cat([p[i] for p in pushed]).numpy() for i in range(3)]
    n = (len(frames[0]) - 1) * pipe.hop
    want = _reference_harmonic(frames, pipe.hop, n, rate, SR)
    factor = rate // SR
    assert pipe.decimator.factor == factor
    lat = pipe.tracker.latency_samples * factor + pipe.decimator.lookahead + pipe.hop
    got = y[lat : lat + n]
    assert np.abs(want).max() > 1e-3
    assert np.abs(got - want[: len(got)]).max() < 1e-4
    assert np.abs(y[:lat]).max() == 0.0  # nothing before the first frame can sound
    # the frame stands for the input where its pitch is measured: centre samples earlier
    assert pipe.latency == lat + pipe.tracker.centre_delay * factor > lat


@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_the_gate_keeps_silence_and_quiet_noise_silent(kind):
    inst = tiny()
    gen = torch.Generator().manual_seed(1)
    if kind == "silence":
        x = torch.zeros(1, 1, SR)
    else:  # white noise at -40 dBFS RMS
        x = torch.randn(1, 1, SR, generator=gen) * 10 ** (-40 / 20)
    y = play(inst.pipeline(defaults={"mix": 0.0}), x, [512])
    rms_db = 20 * math.log10(float(y.square().mean().sqrt()) + 1e-12)
    assert rms_db < -60


def test_non_finite_input_samples_play_as_silence():
    """A host's NaN or infinite samples are read as silence: the output stays finite and
    equals the output of the same input with zeros there."""
    inst, x = tiny(), melody(0.6)
    bad = x.clone()
    bad[..., 4000:4100] = float("nan")
    bad[..., 6000] = float("inf")
    bad[..., 6001] = -float("inf")
    zeroed = torch.nan_to_num(bad, nan=0.0, posinf=0.0, neginf=0.0)
    got = play(inst.pipeline(), bad, [512])
    assert bool(torch.isfinite(got).all()) and float(got.abs().max()) > 1e-3
    assert torch.equal(got, play(inst.pipeline(), zeroed, [512]))


def test_the_gate_tables_read_nan_without_an_error_and_recover():
    """A NaN f0 or loudness (a host's NaN knob) must not index outside the tables. The
    NaN frame's controls are NaN, as the exact decoder's; the tables read its gates at
    their first point, so the GRU state stays finite and the next frame plays again (the
    exact decoder's state would stay NaN)."""
    model = tiny().model
    f0 = torch.tensor([[220.0, float("nan"), 220.0], [220.0, 220.0, 220.0]])
    loud = torch.tensor([[-30.0, -30.0, -30.0], [-30.0, float("nan"), -30.0]])
    exact, tabulated = DecoderStep(model, 0), DecoderStep(model)
    exact.allocate(2)
    tabulated.allocate(2)
    with torch.no_grad():
        want = exact(f0, loud, torch.tensor([3]))
        got = tabulated(f0, loud, torch.tensor([3]))
    for g, w in zip(got, want):
        assert torch.allclose(g[:, 0], w[:, 0], atol=1e-5)
        assert bool(torch.isnan(g[:, 1]).all()) and bool(torch.isnan(w[:, 1]).all())
        assert bool(torch.isfinite(g[:, 2]).all())
    assert bool(torch.isfinite(tabulated.hidden).all())


def test_knobs_shift_the_pitch_and_the_level():
    inst, x = tiny(), melody(0.6)
    dry = {"mix": torch.zeros(1, 1)}
    base = play(inst.pipeline(), x, [512], dry)
    softer = {**dry, "loudness_offset_db": torch.full((1, 1), -24.0)}
    quieter = play(inst.pipeline(), x, [512], softer)
    assert not torch.equal(base, quieter)
    up = play(inst.pipeline(), x, [512], {**dry, "pitch_shift_st": torch.full((1, 1), 12.0)})

    def centroid(y):
        spec = torch.fft.rfft(y[0, 0]).abs()
        return float((spec * torch.arange(spec.shape[0])).sum() / spec.sum())

    assert centroid(up) > 1.3 * centroid(base)


def test_a_rate_below_the_models_is_refused():
    with pytest.raises(ExportError, match="16000 Hz"):
        tiny().pipeline(sample_rate=8000)


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_the_decimator_equals_the_filter_on_the_whole_signal_in_any_blocks(factor):
    from ddsp.live.decimate import Decimator

    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3000, generator=gen)
    dec = Decimator(factor)
    reach, taps = dec.reach, dec.taps
    padded = torch.nn.functional.pad(x, (reach, reach))
    full = torch.nn.functional.conv1d(padded[:, None], taps.flip(0)[None, None])[:, 0]
    want = full[:, ::factor][:, : (x.shape[1] - 1 - reach) // factor + 1]  # complete ones
    for sizes in ([512], [1, 7, 300, 64], [2048, 1]):
        dec.allocate(2)
        got, pos, i = [], 0, 0
        while pos < x.shape[1]:
            n = sizes[i % len(sizes)]
            y, count = dec(x[:, pos : pos + n])
            got.append(y[:, : int(count)])
            pos, i = pos + n, i + 1
        got = torch.cat(got, 1)
        assert got.shape == want.shape
        assert float((got - want).abs().max()) < 1e-5
