"""``ddsp prepare``, ``ddsp train`` and ``ddsp transfer``: timbre transfer from the shell.

ddsp prepare recordings/violin/ --out data/violin
ddsp train data/violin --out runs/violin --set train.max_minutes=30
ddsp train data/violin --out runs/violin --resume
ddsp transfer runs/violin flute.wav flute_as_violin.wav
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ._options import number, whole

__all__ = ["add_parser", "run_prepare", "run_train", "run_transfer"]

RATES = (16_000, 22_050, 24_000, 32_000, 44_100, 48_000)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="slice recordings into a training set with f0 and loudness",
        description="Slice recordings into examples with f0 and loudness.",
    )
    p.add_argument("inputs", type=Path, nargs="+", help="audio files or folders")
    p.add_argument("--out", type=Path, required=True, help="data folder")
    p.add_argument("--sample-rate", type=int, choices=RATES, default=16_000, help="model rate (Hz)")
    p.add_argument("--example-seconds", type=number(0.25, 60.0, unit="s"), default=4.0)
    p.add_argument(
        "--hop-seconds", type=number(0.05, 60.0, unit="s"), default=None, help="default: no overlap"
    )
    p.set_defaults(handler=run_prepare)

    t = sub.add_parser(
        "train",
        help="train the DDSP autoencoder (torchrun for several processes)",
        description="Train the DDSP autoencoder on a prepared data folder.",
    )
    t.add_argument("data", type=Path, help="a folder written by ddsp prepare")
    t.add_argument("--out", type=Path, required=True, help="run folder")
    t.add_argument("--config", type=Path, help="TOML with [model] and [train] tables")
    t.add_argument("--set", action="append", default=[], help="table.key=value override")
    t.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    t.add_argument("--threads", type=whole(1, 1024), default=None)
    t.set_defaults(handler=run_train)

    x = sub.add_parser(
        "transfer",
        help="play a trained instrument with another recording's melody",
        description="Play a trained instrument with another recording's melody.",
    )
    x.add_argument(
        "run", type=Path, help="a run folder written by ddsp train, or a shipped instrument: violin"
    )
    x.add_argument("input", type=Path, help="audio whose melody and dynamics to play")
    x.add_argument("output", type=Path, help="audio file to write")
    x.add_argument(
        "--octaves", type=whole(-4, 4), default=None, help="f0 shift (default: automatic)"
    )
    x.add_argument(
        "--loudness-shift",
        type=number(-60.0, 60.0, unit="dB"),
        default=None,
        help="dB (default: matched to the training set)",
    )
    x.add_argument(
        "--stream",
        action="store_true",
        help="play through the live pipeline block by block, as the exported plugin does",
    )
    x.add_argument(
        "--block-size",
        type=whole(16, 1 << 16, unit="samples"),
        default=512,
        help="block size of --stream (default 512)",
    )
    x.set_defaults(handler=run_transfer)


def run_prepare(args: argparse.Namespace) -> int:
    from ..errors import OutputError
    from ..training.data import prepare

    if args.out.exists() and not args.out.is_dir():
        raise OutputError(f"--out {args.out} is a file, not a folder")
    m = prepare(
        args.inputs,
        args.out,
        sample_rate=args.sample_rate,
        example_seconds=args.example_seconds,
        hop_seconds=args.hop_seconds,
    )
    s = m["statistics"]
    print(
        f"{s['examples']} examples, {s['minutes']:.1f} min of audio, f0 {s['f0_hz_min']:.0f}-"
        f"{s['f0_hz_max']:.0f} Hz ({100 * s['voiced_fraction']:.0f}% voiced), loudness "
        f"{s['loudness_db_mean']:.1f} +- {s['loudness_db_std']:.1f} dB; "
        f"{len(m['skipped'])} file(s) skipped; wrote {args.out / 'manifest.json'} and "
        f"{len(m['sources'])} shard(s) in {args.out / 'shards'}"
    )
    return 0


def run_train(args: argparse.Namespace) -> int:
    import torch

    from ..training.config import load_config
    from ..training.train import train

    if args.threads:
        torch.set_num_threads(args.threads)
    config = args.config
    if args.resume and config is None and (args.out / "config.toml").exists():
        config = args.out / "config.toml"
    cfg = load_config(config, args.set)
    summary = train(args.data, args.out, cfg, resume=args.resume, overwrite=args.overwrite)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=1, default=str))
        print(f"wrote {args.out / 'checkpoints'}, {args.out / 'metrics.csv'}", file=sys.stderr)
    return 0


def run_transfer(args: argparse.Namespace) -> int:
    from ..io import check_audio_output, check_outputs, write_audio
    from ..training.transfer import transfer

    if not args.input.is_file():
        raise FileNotFoundError(f"no such file: {args.input}")
    check_outputs([args.output], inputs=[args.input])
    check_audio_output(args.output, "PCM_16")
    y, sr, info = transfer(
        args.run,
        args.input,
        octaves=args.octaves,
        loudness_shift=args.loudness_shift,
        stream=args.stream,
        block_size=args.block_size,
    )
    if info.get("input_channels", 1) > 1:
        print(
            f"note: {args.input.name} has {info['input_channels']} channels; playing their mix",
            file=sys.stderr,
        )
    write_audio(args.output, y[None], sr, "PCM_16")
    report = {"octaves": info["octaves"], "seconds": len(y) / sr, "sample_rate": sr}
    if args.stream:
        report.update(loudness_shift_db=round(info["loudness_shift_db"], 2), stream=True)
    print(json.dumps(report))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
