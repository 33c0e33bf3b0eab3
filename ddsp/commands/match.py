"""``ddsp match``: fit an effect chain so that it turns a dry recording into a wet one.

    ddsp match dry.wav wet.wav --chain "ParametricEQ | Compressor | Gain" -o fitted.toml

Writes the fitted chain as a preset (``fitted.toml``, learned tensors beside it in
``fitted.npz``) and a report (``fitted.report.json``). The fit stops after ``--steps``
steps or ``--seconds`` seconds, whichever comes first; ``--steps`` alone: no time limit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._options import number, whole

__all__ = ["add_parser", "run"]

DEFAULT_SECONDS, DEFAULT_STEPS = 60.0, 500


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "match",
        help="fit an effect chain so that it turns dry into wet",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dry", type=Path)
    p.add_argument("wet", type=Path)
    p.add_argument("--chain", required=True, help="preset name/path or chain spec")
    p.add_argument("-o", "--out", type=Path, required=True, help="fitted preset (.toml)")
    p.add_argument(
        "--seconds",
        type=number(0.0, 86_400.0, low_open=True, unit="s"),
        help=f"time budget (default {DEFAULT_SECONDS:g} unless --steps)",
    )
    p.add_argument(
        "--steps", type=whole(1, 10_000_000), help=f"most steps (default {DEFAULT_STEPS})"
    )
    p.add_argument(
        "--lr", type=number(0.0, 10.0, low_open=True), default=0.05, help="learning rate"
    )
    p.add_argument("--loss", choices=["spectral", "both"], default="spectral")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..errors import Interrupted
    from ..io import atomic_path, check_outputs
    from ..match import fit_chain, load_pair
    from ..presets import load_chain, save_preset

    if args.out.suffix != ".toml":
        raise ValueError(f"expected -o/--out to end in .toml, got {args.out}")
    report_path = args.out.with_suffix(".report.json")
    outputs = [args.out, args.out.with_suffix(".npz"), report_path]
    for path in (args.dry, args.wet):
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
    check_outputs(outputs, inputs=[args.dry, args.wet])
    load_chain(args.chain, 48_000.0)  # a bad preset or spec fails before the files are read
    dry, wet, rate = load_pair(args.dry, args.wet)
    chain = load_chain(args.chain, float(rate))
    x, target = torch.from_numpy(dry)[None], torch.from_numpy(wet)[None]
    with torch.no_grad():
        probe = chain(x[..., : min(x.shape[-1], rate)])
    if probe.shape[1] != target.shape[1]:
        raise ValueError(
            f"the chain turns {x.shape[1]}-channel {args.dry.name} into {probe.shape[1]} "
            f"channel(s), but {args.wet.name} has {target.shape[1]}"
        )
    start_values = [proc.parameter_values() for proc in chain]
    seconds = args.seconds if args.seconds is not None or args.steps else DEFAULT_SECONDS
    try:
        res = fit_chain(
            chain,
            x,
            target,
            seconds=seconds,
            max_steps=args.steps or DEFAULT_STEPS,
            lr=args.lr,
            loss=args.loss,
        )
    except KeyboardInterrupt:
        raise Interrupted("interrupted during the fit; nothing was written") from None
    written = save_preset(chain, args.out)
    report = {
        "dry": str(args.dry),
        "wet": str(args.wet),
        "chain": args.chain,
        "spectral_distance_before": res.distance_before,
        "spectral_distance_after": res.distance_after,
        "reduction": 1 - res.distance_after / res.distance_before
        if res.distance_before > 0
        else None,
        "iterations": res.iterations,
        "fit_seconds": round(res.seconds, 2),
        "start": start_values,
        "fitted": [proc.parameter_values() for proc in chain],
    }
    with atomic_path(report_path) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    written.append(report_path)
    print(
        f"spectral distance {res.distance_before:.3f} -> {res.distance_after:.3f} in "
        f"{res.iterations} steps"
    )
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0
