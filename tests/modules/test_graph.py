"""Graph voices: modulation, gradients, wiring errors."""

from __future__ import annotations

import pytest
import torch

import ddsp
from ddsp import load_preset

SR = 16_000


def test_voice_envelope_sweeps_the_filter_and_shapes_the_level():
    voice = load_preset("voices/saw_lead", sample_rate=SR)
    gate = torch.cat([torch.ones(1, 8000), torch.zeros(1, 8000)], 1)
    with torch.no_grad():
        y = voice(16_000, f0_hz=torch.full((1, 4), 110.0), gate=gate)[0, 0]

    def centroid(seg):
        spec = torch.fft.rfft(seg * torch.hann_window(seg.shape[0])).abs()
        freqs = torch.fft.rfftfreq(seg.shape[0], 1 / SR)
        return float((spec * freqs).sum() / spec.sum())

    early, late = y[200:1200], y[6000:7000]  # envelope peak vs sustain: cutoff lower later
    assert centroid(early) > 1.5 * centroid(late)
    assert float(y[15000:].abs().max()) < 1e-3  # released to silence


def test_graph_gradients_reach_node_parameters_and_wiring_errors_are_clear():
    osc = ddsp.Oscillator(SR, shape="saw")
    filt = ddsp.SVF(SR, cutoff_hz=500.0)
    env = ddsp.ADSR(SR)
    graph = ddsp.Graph(
        {
            "osc": ddsp.Node(osc, {"f0_hz": "$f0_hz"}),
            "env": ddsp.Node(env, {"gate": "$gate"}),
            "filt": ddsp.Node(filt, {"x": "osc"}, {"cutoff_hz": ddsp.Modulation("env", 0.3)}),
        },
        output="filt",
    )
    y = graph(800, f0_hz=torch.full((1, 2), 200.0), gate=torch.ones(1, 800))
    y.square().mean().backward()
    for p in (filt.raw_cutoff_hz, filt.raw_resonance, env.raw_attack_ms, osc.raw_gain_db):
        assert p.grad is not None and torch.isfinite(p.grad) and p.grad != 0
    with pytest.raises(ValueError, match="not an earlier node"):
        ddsp.Graph({"filt": ddsp.Node(ddsp.SVF(SR), {"x": "osc"})}, output="filt")
    with pytest.raises(ValueError, match="has no input 'audio'"):
        ddsp.Graph({"filt": ddsp.Node(ddsp.SVF(SR), {"audio": "$x"})}, output="filt")
    with pytest.raises(ValueError, match="output to name a node"):
        ddsp.Graph({"filt": ddsp.Node(ddsp.SVF(SR), {"x": "$x"})}, output="amp")
    with pytest.raises(KeyError, match="no parameter 'cutoff'"):
        ddsp.Graph(
            {
                "e": ddsp.Node(env, {"gate": "$g"}),
                "f": ddsp.Node(ddsp.SVF(SR), {"x": "$x"}, {"cutoff": ddsp.Modulation("e", 1.0)}),
            },
            output="f",
        )
    with pytest.raises(ValueError, match="graph input 'gate' is needed"):
        graph(800, f0_hz=torch.full((1, 2), 200.0))
