"""``ddsp resynth`` and ``ddsp render``: resynthesize a recording, then edit and re-render it.

    ddsp resynth violin.wav -o out/resynth --seconds 60
    ddsp resynth violin.wav -o out/resynth --steps 300        # a fixed amount of work
    ddsp resynth violin.wav -o out/rs --model runs/violin     # a trained model instead
    ddsp render out/resynth/violin.controls.npz up.wav --pitch-shift 7 --no-reverb

The fit stops after ``--steps`` steps or ``--seconds`` seconds, whichever comes first;
with ``--steps`` alone it has no time limit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._options import number, whole

__all__ = ["add_parser", "run_resynth", "run_render"]

DEFAULT_SECONDS, DEFAULT_STEPS = 60.0, 2000
DEFAULT_RATE, DEFAULT_CHUNK, DEFAULT_GROUP = 22_050, 8.0, 8


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "resynth",
        help="fit harmonic+noise+reverb to a recording",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", type=Path, help="audio file (mono or stereo)")
    p.add_argument("-o", "--out", type=Path, default=Path("out/resynth"), help="output folder")
    p.add_argument(
        "--seconds",
        type=number(0.0, 86_400.0, low_open=True, unit="s"),
        help=f"time budget of the fit (default {DEFAULT_SECONDS:g} unless --steps)",
    )
    p.add_argument(
        "--steps", type=whole(1, 10_000_000), help=f"most fit steps (default {DEFAULT_STEPS})"
    )
    p.add_argument(
        "--rate",
        type=whole(8000, 192_000, unit="Hz"),
        help=f"model sample rate (Hz, default {DEFAULT_RATE})",
    )
    p.add_argument(
        "--chunk",
        type=number(0.25, 3600.0, unit="s"),
        help=f"seconds per chunk (long files; default {DEFAULT_CHUNK:g})",
    )
    p.add_argument(
        "--group", type=whole(1, 1024), help=f"chunks fitted at once (default {DEFAULT_GROUP})"
    )
    p.add_argument("--threads", type=whole(1, 1024), default=None, help="torch threads")
    p.add_argument("--model", type=Path, help="a run folder of ddsp train: resynthesize with it")
    p.set_defaults(handler=run_resynth)

    r = sub.add_parser(
        "render",
        help="re-render controls from ddsp resynth, with edits",
        description="Re-render fitted controls (a .controls.npz of ddsp resynth), with edits.",
    )
    r.add_argument("controls", type=Path, help="a .controls.npz written by ddsp resynth")
    r.add_argument("output", type=Path, help="audio file to write")
    r.add_argument("--pitch-shift", type=number(-48.0, 48.0, unit="semitones"), default=0.0)
    r.add_argument(
        "--time-stretch", type=number(0.05, 20.0, unit="x"), default=1.0, help="duration factor"
    )
    r.add_argument("--harmonic-gain", type=number(-120.0, 24.0, unit="dB"), default=0.0)
    r.add_argument("--noise-gain", type=number(-120.0, 24.0, unit="dB"), default=0.0)
    r.add_argument("--no-reverb", action="store_true")
    r.set_defaults(handler=run_render)


def run_resynth(args: argparse.Namespace) -> int:
    import torch

    from ..errors import Interrupted, UsageError
    from ..io import check_outputs
    from ..resynth import output_paths, resynthesize

    if args.threads:
        torch.set_num_threads(args.threads)
    fit_options = {"--seconds": args.seconds, "--steps": args.steps, "--rate": args.rate,
                   "--chunk": args.chunk, "--group": args.group}  # fmt: skip
    given = [k for k, v in fit_options.items() if v is not None]
    if args.model is not None and given:  # never ignore an option
        raise UsageError(
            f"--model plays the trained model as it is, without a fit: {', '.join(given)} "
            "do not apply (drop them, or drop --model to fit)"
        )
    if not args.input.is_file():
        raise FileNotFoundError(f"no such file: {args.input}")
    paths = output_paths(args.input, args.out)
    if args.out.exists() and not args.out.is_dir():
        raise FileExistsError(f"--out {args.out} is a file, not a folder")
    check_outputs(paths.values(), inputs=[args.input])
    if args.model is not None:
        return _with_model(args, paths)
    seconds = args.seconds if args.seconds is not None or args.steps else DEFAULT_SECONDS
    steps = args.steps or DEFAULT_STEPS
    try:
        rep, written = resynthesize(
            args.input,
            args.out,
            rate=args.rate or DEFAULT_RATE,
            seconds=seconds,
            steps=steps,
            chunk_s=args.chunk or DEFAULT_CHUNK,
            group=args.group or DEFAULT_GROUP,
        )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted during the fit; nothing was written in {args.out}: run the command "
            "again (fewer --steps or --seconds finish sooner)"
        ) from None
    print(json.dumps(rep, indent=2))
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0


def _with_model(args: argparse.Namespace, paths: dict[str, Path]) -> int:
    """Resynthesis by a trained autoencoder: no fitting, the model as it is."""
    import time

    import torch

    from ..evaluation import report, spectrogram_png
    from ..io import atomic_path, write_audio
    from ..training.transfer import transfer

    start = time.perf_counter()
    y, sr, info = transfer(args.model, args.input, octaves=0, loudness_shift=0.0)
    mono = info["input_audio"]  # the input as the model heard it (mono, model rate)
    rep = report(mono, torch.from_numpy(y)[None], sr)
    rep.update(
        {
            "input": str(args.input),
            "model": str(args.model),
            "seconds": round(time.perf_counter() - start, 2),
        }
    )
    write_audio(paths["audio"], y[None], sr, "PCM_16")
    spectrogram_png(paths["picture"], mono[0].numpy(), y, sr)
    with atomic_path(paths["report"]) as tmp:
        tmp.write_text(json.dumps(rep, indent=2))
    print(json.dumps(rep, indent=2))
    written = [paths["audio"], paths["picture"], paths["report"]]
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0


def run_render(args: argparse.Namespace) -> int:
    import math

    import numpy as np

    from ..io import check_audio_output, check_outputs, write_audio
    from ..resynth import Controls, render

    if not args.controls.is_file():
        raise FileNotFoundError(f"no such file: {args.controls}")
    check_outputs([args.output], inputs=[args.controls])
    check_audio_output(args.output, "PCM_16")
    c = Controls.load(args.controls)
    y = render(
        c,
        pitch_shift=args.pitch_shift,
        time_stretch=args.time_stretch,
        harmonic_gain_db=args.harmonic_gain,
        noise_gain_db=args.noise_gain,
        reverb=not args.no_reverb,
    )
    peak = float(np.abs(y).max()) if y.size else 0.0
    if peak > 1.0:
        print(
            f"warning: {args.output.name} peaks at {20 * math.log10(peak):+.1f} dBFS and "
            "will clip in PCM_16 (lower --harmonic-gain or --noise-gain)",
            file=sys.stderr,
        )
    write_audio(args.output, y[None], int(c.sample_rate), "PCM_16")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
