"""The ``ddsp`` command line: one runtime for every command.

Commands (:mod:`ddsp.commands`) parse and check their arguments and call the library;
errors travel as exceptions to :func:`main`, which prints one line and exits with status
2 for a problem with the input, files or settings, and 130 on Ctrl-C (after a line saying
what was saved). ``DDSP_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .commands import COMMANDS

__all__ = ["main", "build_parser"]

# command -> module of ddsp.commands that registers it
_MODULES = {
    "process": "process",
    "resynth": "resynth",
    "render": "resynth",
    "match": "match",
    "prepare": "train",
    "train": "train",
    "transfer": "train",
    "export": "export",
    "bench": "bench",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ddsp", description="Differentiable DSP for PyTorch.")
    p.add_argument("--version", action="version", version=f"ddsp {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in dict.fromkeys(_MODULES.values()):
        importlib.import_module(f"ddsp.commands.{module}").add_parser(sub)
    assert set(_MODULES) == set(COMMANDS), "every command is registered once"
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ddsp`` console script; returns the exit status."""
    from .errors import DdspError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2), already printed
        return int(e.code or 0)
    debug = os.environ.get("DDSP_DEBUG") == "1"
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt as e:
        message = str(e) or "interrupted"
        print(message if message.startswith("interrupted") else f"interrupted: {message}",
              file=sys.stderr)  # fmt: skip
        return 130
    except (DdspError, ValueError, OSError) as e:
        if debug:
            raise
        print(f"error: {_message(e)}", file=sys.stderr)
        return 2


def _message(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename and e.strerror:
        return f"{e.strerror}: {e.filename}"
    return str(e)


if __name__ == "__main__":
    raise SystemExit(main())
