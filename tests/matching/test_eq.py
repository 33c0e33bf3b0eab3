"""EQ bands fitted to a measured response: the fewest bands, at the right place."""

from __future__ import annotations

import torch

from ddsp.match.analysis import log_frequencies
from ddsp.match.eq import fit_bands, response_db

SR = 48_000
FREQ_TOL = 0.02  # relative
DB_TOL = 0.05


def test_a_shelf_and_a_peak_are_recovered_and_nothing_else():
    f = log_frequencies(SR)
    target = response_db("highshelf", 4000.0, 0.7071, 6.0, f, SR)
    target = target + response_db("peaking", 300.0, 2.0, -4.0, f, SR) + 1.5  # + broadband
    fit = fit_bands(target, torch.ones_like(f), f, SR)
    assert set(fit.bands) == {"high_shelf", "peak1"}
    shelf, peak = fit.bands["high_shelf"], fit.bands["peak1"]
    assert abs(shelf.cutoff_hz / 4000 - 1) < FREQ_TOL and abs(shelf.gain_db - 6) < DB_TOL
    assert abs(peak.cutoff_hz / 300 - 1) < FREQ_TOL and abs(peak.gain_db + 4) < DB_TOL
    assert abs(peak.q / 2 - 1) < FREQ_TOL
    assert abs(fit.offset_db - 1.5) < DB_TOL  # level is returned apart, not put in bands


def test_a_flat_response_with_ripple_gets_no_band():
    f = log_frequencies(SR)
    ripple = 0.3 * torch.sin(torch.arange(f.shape[0], dtype=torch.float64) * 1.7)
    fit = fit_bands(ripple - 2.0, torch.ones_like(f), f, SR)
    assert fit.bands == {}
    assert abs(fit.offset_db + 2.0) < 0.1


def test_no_peak_is_placed_where_the_signal_says_nothing():
    f = log_frequencies(SR)
    target = response_db("peaking", 60.0, 2.0, 9.0, f, SR)  # a bump below the signal's band
    weight = (f > 200.0).double()
    fit = fit_bands(target, weight, f, SR)
    assert all(b.kind != "peaking" or b.cutoff_hz > 150.0 for b in fit.bands.values())
