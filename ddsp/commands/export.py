"""``ddsp export``: a preset, a chain, a voice, a training run or a shipped instrument as
one plugin file.

    ddsp export vocal_chain -o vocal.nm                    # Neutone FX (.nm)
    ddsp export --chain "Compressor(threshold_db=-20) | Gain" -o comp.ts --knob 0.threshold_db
    ddsp export voices/saw_lead -o lead.ts                 # nn~ (.ts): inputs f0_hz, gate
    ddsp export out/fit/chain.toml -o fitted.pt2           # torch.export (+ AOTInductor)
    ddsp export runs/violin -o violin.nm                   # a training run: the live pipeline
    ddsp export violin -o violin.nm                        # the shipped violin

The format follows the output's suffix (.nm neutone, .ts nn_tilde, .pt2 pt2) unless
``--format`` names it. Knobs (at most four) are parameters mapped from 0..1 through their
ranges: ``threshold_db`` for a single processor, ``0.threshold_db`` or
``Compressor.threshold_db`` in a chain, ``filter.cutoff_hz`` in a voice. The file is
written under a temporary name and renamed: no partial file is left behind.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._options import number, whole

__all__ = ["add_parser", "run", "SUFFIXES"]

SUFFIXES = {".nm": "neutone", ".ts": "nn_tilde", ".pt2": "pt2"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a plugin file (Neutone, nn~, torch.export)",
                       description=__doc__)  # fmt: skip
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument(
        "source",
        nargs="?",
        help="preset name or .toml file, training run folder, or shipped instrument",
    )
    p.add_argument("--chain", help='a chain spec, e.g. "Compressor(threshold_db=-20) | Gain"')
    p.add_argument("-o", "--output", type=Path, required=True, help="the file to write")
    p.add_argument("--format", choices=sorted(set(SUFFIXES.values())), help="default: by suffix")
    p.add_argument(
        "--sample-rate",
        type=number(1000.0, 768_000.0, unit="Hz"),
        action="append",
        help="sample rate to build for (default: the preset's or the run's)",
    )
    p.add_argument(
        "--block-size",
        type=whole(16, 1 << 16, unit="samples"),
        default=512,
        help="the block size hosts will mostly call with (any size works)",
    )
    p.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="PROCESSOR.PARAM",
        help="a parameter to expose as a knob (repeat, at most 4)",
    )
    p.add_argument("--channels", type=int, choices=(1, 2), help="input channels of an effect")
    p.add_argument("--name", help="the model's name in the host (default: from the source)")
    p.set_defaults(handler=run)


def _format(args: argparse.Namespace) -> str:
    from ..export import ExportError

    if args.format:
        return args.format
    fmt = SUFFIXES.get(args.output.suffix.lower())
    if fmt is None:
        raise ExportError(
            f"cannot tell the format from {args.output.name!r}: use a suffix in "
            f"{sorted(SUFFIXES)} or --format {{{', '.join(sorted(set(SUFFIXES.values())))}}}"
        )
    return fmt


def load_source(args: argparse.Namespace) -> tuple[Any, str]:
    """The module to export and its default name."""
    from ..export import ExportError
    from ..presets import load_chain, load_preset

    rate = args.sample_rate[0] if args.sample_rate else None
    if args.chain:
        if args.source:
            raise ExportError("give either SOURCE or --chain, not both")
        return load_chain(args.chain, rate or 48_000.0), "chain"
    if not args.source:
        raise ExportError("expected SOURCE (a preset, run folder or instrument) or --chain")
    path = Path(args.source)
    if path.is_dir():
        from ..live import load_instrument

        return load_instrument(path), path.resolve().name
    from ..live import INSTRUMENTS

    if args.source in INSTRUMENTS:
        from ..live import load_instrument

        return load_instrument(args.source), args.source
    if path.exists() and path.suffix != ".toml":
        raise ExportError(
            f"{path} is not something to export: expected a preset (.toml), a training run "
            "folder or a shipped instrument"
        )
    try:
        return load_preset(args.source, rate), path.stem or str(args.source)
    except ValueError as e:
        raise ExportError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    from ..export import ExportError, export_model
    from ..export.formats import save
    from ..io import check_outputs

    fmt = _format(args)
    if args.sample_rate and len(args.sample_rate) > 1:
        raise ExportError(f"{fmt} files run at one sample rate: give --sample-rate once")
    source = Path(args.source) if args.source else None
    check_outputs([args.output], [source] if source is not None and source.is_file() else [])
    module, name = load_source(args)
    if hasattr(module, "export_model"):  # a live instrument builds its own pipeline
        model = module.export_model(
            block_size=args.block_size,
            knobs=args.knob,
            sample_rate=args.sample_rate[0] if args.sample_rate else None,
        )
    else:
        model = export_model(
            module, block_size=args.block_size, channels=args.channels, knobs=args.knob
        )
    written = save(model, args.output, fmt, name=args.name or name)
    for path in written:
        print(f"wrote {path}")
    print(
        f"{fmt}: {model.in_channels} in, {model.out_channels} out, "
        f"{model.sample_rate:g} Hz, latency {model.latency} samples, "
        f"knobs {model.knob_names or 'none'}"
    )
    return 0
