"""Export over the whole registry: every processor has an inference path that matches its
stream through the exported model, or a clear error naming it."""

from __future__ import annotations

import pytest
import torch

import ddsp
from ddsp import PROCESSORS, Stream
from ddsp.errors import ExportError
from ddsp.export import build
from ddsp.export.build import export_model
from tests.helpers import CHANNELS, EFFECTS, max_rel_err
from tests.streaming.test_contract import _build, _source_inputs

SIZES = (128, 128, 77, 300, 1)
TOL = 1e-5
# sources whose inputs are one value per sample: one host channel each
SCALAR_SOURCES = ("ADSR", "Oscillator", "FM", "Wavetable", "LFO")
# sources with vector inputs (per harmonic or band): only inside a voice
VECTOR_SOURCES = ("Harmonic", "FilteredNoise")


def test_every_processor_of_the_registry_is_covered_here():
    covered = set(EFFECTS) | set(SCALAR_SOURCES) | set(VECTOR_SOURCES)
    assert set(PROCESSORS) <= covered  # a new processor must export (or refuse) to pass
    assert set(PROCESSORS) <= set(build.BUILDERS)


def _run_both(proc, model, inputs_of, channels):
    stream = Stream(proc, channels=channels, batch=2, automation="step")
    pos, err = 0, 0.0
    for n in SIZES:
        x, inputs = inputs_of(pos, n)
        with torch.no_grad():
            want = stream.process(x, n_samples=None if x is not None else n, **inputs)
            if x is None:  # a source: its inputs are the model's channels, in its order
                columns = [inputs[k] for k in model.input_names]
                x = torch.stack(columns, 1) if columns else torch.zeros(2, 0, n)
            got = model(x, torch.zeros(0))
        if want.dim() == 2:  # an envelope or LFO streams (batch, n); a host gets a channel
            want = want[:, None]
        assert got.shape == want.shape
        err = max(err, max_rel_err(got, want))
        pos += n
    return err


@pytest.mark.parametrize("name", sorted(set(PROCESSORS) & set(EFFECTS)))
def test_every_effect_exports_and_matches_its_stream(name):
    proc = _build(name)
    channels = CHANNELS.get(name, 2)
    model = export_model(proc, block_size=128, channels=channels)
    assert (
        model.in_channels == channels
        and model.latency == Stream(proc, channels=channels).latency_samples
    )
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, channels, sum(SIZES), generator=gen) * 0.5
    err = _run_both(proc, model, lambda p, n: (x[..., p : p + n], {}), channels)
    assert err < TOL


@pytest.mark.parametrize("name", SCALAR_SOURCES)
def test_every_scalar_source_exports_and_matches_its_stream(name):
    proc = _build(name)
    model = export_model(proc, block_size=128)
    total = sum(SIZES)
    inputs = _source_inputs(name, total, torch.Generator().manual_seed(5), torch.float32)
    assert list(model.input_names) == list(inputs)

    def inputs_of(p, n):
        return None, {k: v[:, p : p + n] for k, v in inputs.items()}

    assert _run_both(proc, model, inputs_of, 1) < TOL


@pytest.mark.parametrize("name", VECTOR_SOURCES)
def test_a_source_with_vector_inputs_alone_is_refused_by_name(name):
    with pytest.raises(ExportError, match=f"{name}.*one value per harmonic or band"):
        export_model(_build(name), block_size=128, frame_size=64)


def test_a_processor_without_an_inference_path_is_named(monkeypatch):
    monkeypatch.delitem(build.BUILDERS, "Gain")
    with pytest.raises(ExportError, match="Gain cannot be exported.*exportable: "):
        export_model(ddsp.Chain([ddsp.Gain(16_000)]), block_size=64)


VOICES = ("saw_lead", "pluck", "fm_bell", "pwm_pad", "noise_hit", "harmonic_noise")


@pytest.mark.parametrize("name", VOICES)
def test_every_shipped_voice_exports_and_plays_its_stream_when_scripted(name):
    voice = ddsp.load_preset(f"voices/{name}", sample_rate=16_000)
    model = export_model(voice, block_size=128)
    scripted = torch.jit.script(model)
    stream = Stream(voice, automation="step")
    total = sum(SIZES)
    t = torch.arange(total) / 16_000
    signals = {"f0_hz": (220.0 * 2 ** (torch.floor(t * 8) % 3 / 12))[None],
               "gate": ((t * 8) % 1 < 0.6).float()[None]}  # fmt: skip
    assert set(model.input_names) <= set(signals)
    pos, err = 0, 0.0
    for n in SIZES:
        inputs = {k: signals[k][:, pos : pos + n] for k in model.input_names}
        with torch.no_grad():
            want = stream.process(None, n_samples=n, **inputs)
            x = torch.stack([inputs[k] for k in model.input_names], 1)
            got = scripted(x, torch.zeros(0))
        err = max(err, max_rel_err(got, want if want.dim() == 3 else want[:, None]))
        pos += n
    assert err < TOL
