"""Shipped presets (TOML data), installed as ``ddsp._presets``; see :mod:`ddsp.presets`."""
