"""``ddsp bench SUITE ...``: benchmarks against peer libraries (see :mod:`ddsp.bench`)."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run", "SUITES"]

SUITES = ("filters", "synth", "effects", "stream", "export")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks against peer libraries",
        add_help=False,
        description="Benchmarks against peer libraries, measured in the same run.",
    )
    p.add_argument("suite", choices=SUITES, help="which benchmark to run")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the suite (--help)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import importlib

    return int(importlib.import_module(f"ddsp.bench.{args.suite}").main(args.rest) or 0)
