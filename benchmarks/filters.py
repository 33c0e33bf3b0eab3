"""Benchmark script: the same as ``ddsp bench filters`` (see ddsp/bench/filters.py)."""

from ddsp.bench.filters import main

if __name__ == "__main__":
    raise SystemExit(main())
