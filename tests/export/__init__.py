"""Tests of ddsp.export."""
