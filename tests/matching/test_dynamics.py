"""Dynamics analysis: the gain model is the library's compressor; the level mapping reads
a compressor's threshold and ratio."""

from __future__ import annotations

import ddsp
from ddsp.match.dynamics import fit_dynamics, level_map, model_gain

from ._signals import SR, hits, run

GAIN_TOL = 1e-5


def test_model_gain_is_the_compressor_processors_gain():
    x = hits(1.0, channels=2)
    settings = dict(threshold_db=-20.0, ratio=4.0, knee_db=6.0, attack_ms=3.0, release_ms=80.0)
    y = run(ddsp.Chain([ddsp.Compressor(SR, **settings)]), x)
    g = model_gain(x, sample_rate=SR, **settings)
    assert (x * g - y).abs().max() < GAIN_TOL


def test_level_mapping_reads_threshold_and_ratio():
    x = hits(3.0, channels=2)
    comp = ddsp.Compressor(SR, threshold_db=-24.0, ratio=4.0, attack_ms=2.0, release_ms=60.0)
    y = run(ddsp.Chain([comp]), x)
    lm = level_map(x, y, x, int(0.005 * SR))
    fit = fit_dynamics(x, lm, SR)
    assert abs(fit.threshold_db + 24.0) < 2.0
    assert abs(fit.ratio - 4.0) < 1.0
    assert fit.engaged > 0.2


def test_a_compressor_that_never_engages_is_seen_idle():
    x = hits(2.0, channels=2, level_db=-30.0)
    y = run(ddsp.Chain([ddsp.Compressor(SR, threshold_db=-6.0, ratio=4.0)]), x)
    lm = level_map(x, y, x, int(0.005 * SR))
    fit = fit_dynamics(x, lm, SR)
    assert fit is None or fit.engaged < 0.02
