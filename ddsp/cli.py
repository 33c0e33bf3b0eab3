"""The ``ddsp`` command line: ``resynth``, ``render``, ``match``, ``process``, ``bench``."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ddsp`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="ddsp", description="Differentiable DSP for PyTorch.")
    p.add_argument("--version", action="version", version=f"ddsp {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="benchmarks against peer libraries", add_help=False)
    bench.add_argument(
        "suite", choices=["filters", "synth", "effects"], help="which benchmark to run"
    )
    sub.add_parser("process", help="run a preset or chain over audio files", add_help=False)
    commands = {
        "resynth": "fit harmonic+noise+reverb to a recording",
        "render": "re-render controls from ddsp resynth, with edits",
        "match": "fit an effect chain so that it turns dry into wet",
        "prepare": "slice recordings into a training set with f0 and loudness",
        "train": "train the DDSP autoencoder (torchrun for several processes)",
        "transfer": "play a trained instrument with another recording's melody",
    }
    for name, text in commands.items():
        sub.add_parser(name, help=text, add_help=False)
    if not argv:
        p.print_help()
        return 2
    args, rest = p.parse_known_args(argv)
    if args.command == "process":
        from .process import main as process_main

        return process_main(rest)
    if args.command == "resynth":
        from .resynth import main as resynth_main

        return resynth_main(rest)
    if args.command in ("prepare", "train", "transfer"):
        import importlib

        module = {"prepare": "data", "train": "train", "transfer": "transfer"}[args.command]
        return importlib.import_module(f"ddsp.training.{module}").main(rest)
    if args.command == "match":
        from .match import main as match_main

        return match_main(rest)
    if args.command == "render":
        from .resynth import render_main

        return render_main(rest)
    if args.command == "bench":
        import importlib

        return importlib.import_module(f"ddsp.bench.{args.suite}").main(rest)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
