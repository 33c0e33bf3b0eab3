"""The library checks its settings too, not only the command line: train, transfer, prepare,
resynth's fit, and controls files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ddsp.errors import ConfigError, DdspError
from ddsp.resynth import Controls, fit, resynthesize
from ddsp.training import Config, ModelConfig, TrainConfig, prepare, train
from ddsp.training.transfer import transfer
from tests.commands.test_bad_invocations import _controls

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    "cfg, text",
    [
        (Config(train=TrainConfig(steps=-5)), "train.steps"),
        (Config(train=TrainConfig(steps=7.9)), "train.steps"),
        (Config(train=TrainConfig(steps=True)), "train.steps"),
        (Config(train=TrainConfig(keep=0)), "train.keep"),
        (Config(train=TrainConfig(lr=NAN)), "train.lr"),
        (Config(train=TrainConfig(batch_size=0)), "train.batch_size"),
        (Config(model=ModelConfig(hidden=0)), "model.hidden"),
        (Config(model=ModelConfig(reverb_seconds=INF)), "model.reverb_seconds"),
    ],
)
def test_train_checks_a_config_built_in_code_before_touching_the_run(tmp_path, cfg, text):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").write_text("old")
    with pytest.raises(ConfigError, match=text):
        train(tmp_path / "data", tmp_path / "run", cfg, overwrite=True)
    assert (tmp_path / "run" / "metrics.csv").read_text() == "old"


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"octaves": True}, "octaves"),
        ({"octaves": 5}, "octaves"),
        ({"octaves": 1.5}, "octaves"),
        ({"loudness_shift": NAN}, "loudness_shift"),
        ({"loudness_shift": INF}, "loudness_shift"),
        ({"loudness_shift": True}, "loudness_shift"),
    ],
)
def test_transfer_checks_its_settings_before_loading(tmp_path, kwargs, text):
    with pytest.raises(ValueError, match=text):
        transfer(tmp_path / "no_run", tmp_path / "in.wav", **kwargs)


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"example_seconds": NAN}, "--example-seconds"),
        ({"example_seconds": 0.0}, "--example-seconds"),
        ({"example_seconds": True}, "--example-seconds"),
        ({"example_seconds": 0.251}, "whole number of frames"),
        ({"hop_seconds": -1.0}, "--hop-seconds"),
        ({"hop_seconds": INF}, "--hop-seconds"),
        ({"sample_rate": 8000}, "--sample-rate"),
        ({"sample_rate": True}, "--sample-rate"),
    ],
)
def test_prepare_checks_its_settings_before_reading(tmp_path, kwargs, text):
    with pytest.raises(DdspError, match=text):
        prepare([tmp_path / "missing.wav"], tmp_path / "data", **kwargs)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"max_steps": -5}, "max_steps"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_steps": 7.9}, "max_steps"),
        ({"max_steps": True}, "max_steps"),
        ({"seconds": -1.0}, "seconds"),
        ({"seconds": NAN}, "seconds"),
        ({"seconds": 0.0}, "seconds"),
        ({"lr": NAN}, "lr"),
        ({"lr": 0.0}, "lr"),
        ({"n_harmonics": 0}, "n_harmonics"),
        ({"n_bands": 1}, "n_bands"),
    ],
)
def test_fit_checks_its_settings(kwargs, text):
    with pytest.raises(ValueError, match=text):
        fit(torch.zeros(1, 1600), 16_000, **kwargs)


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"rate": 100}, "rate"),
        ({"steps": -5}, "steps"),
        ({"seconds": -1.0}, "seconds"),
        ({"chunk_s": 0.001}, "chunk_s"),
        ({"group": 0}, "group"),
    ],
)
def test_resynthesize_checks_its_settings_before_reading(tmp_path, kwargs, text):
    with pytest.raises(ValueError, match=text):
        resynthesize(tmp_path / "missing.wav", tmp_path / "out", **kwargs)


def _spoil(**changes) -> Controls:
    c = _controls()
    for name, value in changes.items():
        setattr(c, name, value)
    return c


@pytest.mark.parametrize(
    "controls, text",
    [
        (_spoil(f0_hz=np.full((1, 51), np.nan, np.float32)), "f0_hz"),
        (_spoil(noise=-np.ones((1, 51, 9), np.float32)), "noise"),
        (_spoil(amplitude=np.ones((1, 50), np.float32)), "shapes"),
        (_spoil(rt60_s=NAN), "rt60_s"),
        (_spoil(sample_rate=0.0), "sample_rate"),
        (_spoil(n_samples=10**12), "n_samples"),
        (_spoil(total_samples=0), "total_samples"),
        (_spoil(f0_hz=np.full((1, 51), 9000.0, np.float32)), "Nyquist"),
    ],
)
def test_a_controls_file_is_checked_when_loaded(tmp_path, controls, text):
    np.savez(tmp_path / "c.npz", **vars(controls))
    with pytest.raises(ValueError, match=text):
        Controls.load(tmp_path / "c.npz")


@pytest.mark.parametrize(
    "manifest, shard, text",
    [
        ({"format_version": 1, "sources": ["a"]}, None, "damaged data set"),
        ({"format_version": 1, "sources": {}}, None, "no examples"),
        ({"format_version": 1, "sources": {"a": {"shard": "s.npz"}}}, "nan", "NaN or infinite"),
        ({"format_version": 1, "sources": {"a": {}}}, None, "damaged data set"),
        ({"format_version": 2, "sources": {}}, None, "data format 2"),
    ],
)
def test_a_damaged_data_set_is_refused_clearly(tmp_path, manifest, shard, text):
    import json

    from ddsp.training import load_examples

    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    if shard:
        f0 = np.full((1, 5), np.nan, np.float32)
        np.savez(tmp_path / "s.npz", audio=np.zeros((1, 80), np.int16), audio_scale=1.0,
                 f0_hz=f0, f0_confidence=np.ones((1, 5)), loudness_db=np.zeros((1, 5)))  # fmt: skip
    with pytest.raises(DdspError, match=text):
        load_examples(tmp_path)
