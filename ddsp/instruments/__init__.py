"""Shipped instruments (trained timbre-transfer models), one folder each; see
:mod:`ddsp.live.instrument`."""
