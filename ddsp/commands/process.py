"""``ddsp process``: run a preset or a chain stated on the command line over audio files.

    ddsp process in.wav out.wav --preset chains/vocal_chain
    ddsp process in.wav out.wav --chain "Compressor(threshold_db=-20) | Biquad(kind=lowpass)"
    ddsp process in_dir/ out_dir/ --preset chains/hall --tail 2.0

Each file is read, processed and written block by block (``--block-size``) through a
stream of the chain, its latency compensated, so files of any length fit in memory; it
is processed at its own sample rate and written, atomically, at that rate and the
input's subtype unless ``--subtype`` says otherwise. Outputs that would overwrite an
input are refused before any work; in folder mode a file that fails is reported and the
others are still processed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._options import number, whole

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "process", help="run a preset or chain over audio files", description=__doc__
    )
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("input", type=Path, help="audio file or folder")
    p.add_argument("output", type=Path, help="output file, or folder for a folder input")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="preset name (see ddsp.list_presets()) or .toml path")
    src.add_argument("--chain", help='e.g. "Compressor(threshold_db=-20) | Biquad(kind=lowpass)"')
    p.add_argument(
        "--tail",
        type=number(0.0, 3600.0, unit="s"),
        default=0.0,
        help="seconds of tail to append (reverbs and delays ring out)",
    )
    p.add_argument("--subtype", help="soundfile subtype of the output (default: the input's)")
    p.add_argument(
        "--block-size",
        type=whole(1, 1 << 22, unit="samples"),
        default=16_384,
        help="samples read, processed and written at a time (memory stays a few blocks)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import Interrupted, OutputError
    from ..io import AUDIO_SUFFIXES, audio_format, check_audio_output, check_outputs
    from ..presets import load_chain
    from ..process import process_file

    source = args.preset or args.chain
    load_chain(source, 48_000.0)  # a bad preset or spec fails here, before any file is read
    if not args.input.exists():
        raise FileNotFoundError(f"no such file or folder: {args.input}")
    if not args.input.is_dir():
        check_outputs([args.output], inputs=[args.input])
        audio_format(args.output)  # the suffix (and --subtype) are refused before any reading
        if args.subtype is not None:
            check_audio_output(args.output, args.subtype)
        try:
            result = process_file(
                args.input,
                args.output,
                source,
                tail_seconds=args.tail,
                subtype=args.subtype,
                block_size=args.block_size,
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted: nothing was written ({args.output} is as it was): run the "
                "command again"
            ) from None
        _report(result)
        return 0
    if args.output.exists() and not args.output.is_dir():
        raise OutputError(f"{args.output} is a file; a folder input needs an output folder")
    inp, out = args.input.resolve(), args.output.resolve()
    if out == inp:
        raise OutputError(
            f"refusing to write into {args.output}: it is the input folder (choose another)"
        )
    files = sorted(
        f
        for f in args.input.rglob("*")
        if f.suffix.lower() in AUDIO_SUFFIXES and out not in f.resolve().parents
    )  # an output folder inside the input folder is not read as input
    if not files:
        raise FileNotFoundError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in {args.input}")
    targets = [args.output / f.relative_to(args.input) for f in files]
    check_outputs(targets, inputs=files)
    if args.subtype is not None:  # every output format must hold it: say so before any work
        for dst in targets:
            check_audio_output(dst, args.subtype)
    failed = done = 0
    try:
        for i, (src, dst) in enumerate(zip(files, targets), 1):
            print(f"[{i}/{len(files)}] {src}", file=sys.stderr)
            try:
                _report(
                    process_file(
                        src,
                        dst,
                        source,
                        tail_seconds=args.tail,
                        subtype=args.subtype,
                        block_size=args.block_size,
                    )
                )
                done += 1
            except (ValueError, OSError) as e:
                failed += 1
                print(f"error: {src}: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted: {done} of {len(files)} file(s) finished in {args.output} "
            f"(each one complete, none half-written); {failed} failed; run the command again "
            "for the rest"
        ) from None
    print(f"processed {done} of {len(files)} file(s) into {args.output}", file=sys.stderr)
    if failed:
        print(f"error: {failed} of {len(files)} file(s) failed", file=sys.stderr)
        return 2
    return 0


def _report(result) -> None:
    import math

    if result.clips:
        print(
            f"warning: {result.output.name} peaks at {20 * math.log10(result.peak):+.1f} dBFS "
            f"and will clip in {result.subtype}",
            file=sys.stderr,
        )
    print(f"wrote {result.output}", file=sys.stderr)
