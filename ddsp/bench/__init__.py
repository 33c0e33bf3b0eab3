"""Benchmarks against peer libraries (``ddsp bench``); never timed in unit tests."""
