"""``ddsp process``: run a preset or a chain stated on the command line over audio files.

    ddsp process in.wav out.wav --preset chains/vocal_chain
    ddsp process in.wav out.wav --chain "Compressor(threshold_db=-20) | Biquad(kind=lowpass)"
    ddsp process in_dir/ out_dir/ --preset chains/hall --tail 2.0

Each file is processed at its own sample rate (the chain is built for it) and written
with soundfile at that rate and the input's subtype unless ``--subtype`` says otherwise,
through a temporary file renamed into place, so no output is ever half-written. Bad
input gives a message and a non-zero exit.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import numpy as np

from .io import CommandError, read_audio, write_audio
from .modules.base import PROCESSORS
from .modules.chain import Chain
from .presets import from_preset_data, load_preset

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}
_STEP = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*$", re.S)


ProcessError = CommandError  # a user-facing error: printed, then exit status 2


def parse_chain(text: str) -> list[dict]:
    """``"Name(key=value, ...) | Name2(...)"`` -> preset chain steps (values: numbers or names)."""
    steps = []
    for part in text.split("|"):
        m = _STEP.match(part)
        if not m:
            raise ProcessError(
                f"cannot read chain step {part.strip()!r}; expected Name(key=value, ...)"
            )
        name, args = m.group(1), (m.group(2) or "").strip()
        if name not in PROCESSORS:
            raise ProcessError(f"unknown effect {name!r}; expected one of {sorted(PROCESSORS)}")
        cls = PROCESSORS[name]
        params, options = {}, {}
        if args:
            try:
                call = ast.parse(f"f({args})", mode="eval").body
            except SyntaxError:
                raise ProcessError(f"cannot read the arguments of {name}: {args!r}") from None
            if call.args:
                raise ProcessError(f"{name}: expected key=value arguments, got positional ones")
            for kw in call.keywords:
                node = kw.value
                if isinstance(node, ast.Constant):
                    value = node.value
                elif isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
                    value = (
                        -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
                    )
                elif isinstance(node, ast.Name):
                    value = node.id  # bare words: option names such as lowpass
                else:
                    raise ProcessError(f"{name}: cannot read the value of {kw.arg}")
                (params if kw.arg in cls.spec_names() else options)[kw.arg] = (
                    float(value)
                    if kw.arg in cls.spec_names() and not isinstance(value, str)
                    else value
                )
        step = {"processor": name}
        if options:
            step["options"] = options
        if params:
            step["params"] = params
        steps.append(step)
    return steps


def _build(args: argparse.Namespace, sample_rate: float) -> Chain:
    try:
        if args.preset:
            module = load_preset(args.preset, sample_rate=sample_rate)
        else:
            module = from_preset_data(
                {"format": 1, "sample_rate": sample_rate, "chain": parse_chain(args.chain)},
                where="--chain",
            )
    except ValueError as e:
        raise ProcessError(str(e)) from None
    if not isinstance(module, Chain):
        module = Chain([module]) if not hasattr(module, "wiring") else None
        if module is None:
            raise ProcessError(
                f"preset {args.preset!r} is an instrument voice, not an effect chain"
            )
    return module


def process_file(args: argparse.Namespace, src: Path, dst: Path) -> None:
    audio, rate, subtype = read_audio(src)
    chain = _build(args, float(rate))
    out = chain(audio, sample_rate=rate, tail_seconds=args.tail)
    peak = float(np.abs(out).max()) if out.size else 0.0
    if peak > 1.0 and (args.subtype or subtype).startswith("PCM"):
        print(
            f"warning: {dst.name} peaks at {20 * np.log10(peak):+.1f} dBFS and will clip "
            f"in {args.subtype or subtype}",
            file=sys.stderr,
        )
    write_audio(dst, out, rate, args.subtype or subtype)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ddsp process", description=__doc__.splitlines()[0])
    p.add_argument("input", type=Path, help="audio file or folder")
    p.add_argument("output", type=Path, help="output file, or folder for a folder input")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="preset name (see ddsp.list_presets()) or .toml path")
    src.add_argument("--chain", help='e.g. "Compressor(threshold_db=-20) | Biquad(kind=lowpass)"')
    p.add_argument("--tail", type=float, default=0.0, help="seconds of tail to append")
    p.add_argument("--subtype", help="soundfile subtype of the output (default: the input's)")
    args = p.parse_args(argv)
    try:
        if args.tail < 0:
            raise ProcessError(f"expected --tail >= 0 seconds, got {args.tail}")
        if args.input.is_dir():
            files = sorted(f for f in args.input.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES)
            if not files:
                raise ProcessError(
                    f"no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) in {args.input}"
                )
            failed = 0
            for i, f in enumerate(files, 1):
                dst = args.output / f.relative_to(args.input)
                print(f"\r[{i}/{len(files)}] {f.name:<40}", end="", file=sys.stderr, flush=True)
                try:
                    process_file(args, f, dst)
                except ProcessError as e:
                    failed += 1
                    print(f"\nerror: {e}", file=sys.stderr)
            print(file=sys.stderr)
            if failed:
                raise ProcessError(f"{failed} of {len(files)} file(s) failed")
            return 0
        if not args.input.exists():
            raise ProcessError(f"no such file: {args.input}")
        process_file(args, args.input, args.output)
        return 0
    except ProcessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
