"""``ddsp match``: find the settings of an effect chain that turn a dry recording into a wet one.

    ddsp match dry.wav wet.wav --chain "ParametricEQ | Compressor | Delay | Gain" -o fitted.toml

Analyses the pair first (echoes, decay, EQ response, level mapping, levels), searches where
gradients cannot help (delay times without a clear echo, LFO rates, drive), then runs
``--steps`` gradient steps on random crops (``--seconds`` optionally caps that phase).
Writes the fitted chain as a preset (``fitted.toml``, learned tensors beside it in
``fitted.npz``) and a report (``fitted.report.json``): per parameter the value, the range
within which the loss rises by under 1% and whether the audio determines it; the spectral
distance before, after the analysis and after the fit; a plain verdict. A constant offset
between the files is found (within ``--max-offset-ms``) and removed, and reported.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ._options import number, whole

__all__ = ["add_parser", "run"]

DEFAULT_STEPS = 60


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
        "--steps",
        type=whole(0, 10_000_000),
        default=DEFAULT_STEPS,
        help=f"gradient steps after the analysis (default {DEFAULT_STEPS}; 0: analysis only)",
    )
    p.add_argument(
        "--seconds",
        type=number(0.0, 86_400.0, low_open=True, unit="s"),
        help="optional time budget for the gradient steps",
    )
    p.add_argument(
        "--lr", type=number(0.0, 10.0, low_open=True), default=0.02, help="learning rate"
    )
    p.add_argument("--loss", choices=["spectral", "both"], default="spectral")
    p.add_argument(
        "--no-analysis",
        action="store_true",
        help="start the gradient steps from the chain's own values (no analysis, no search)",
    )
    p.add_argument(
        "--max-offset-ms",
        type=number(0.0, 1000.0, unit="ms"),
        default=20.0,
        help="largest constant offset between the files to find and remove (0: none)",
    )
    p.add_argument("--seed", type=whole(0, 2**31 - 1), default=0, help="crop draws")
    p.add_argument("--threads", type=whole(1, 1024), default=None, help="torch threads")
    p.set_defaults(handler=run)


def _fmt(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.4g}"


def run(args: argparse.Namespace) -> int:
    import torch

    from ..errors import Interrupted
    from ..io import atomic_path, check_outputs
    from ..match import load_pair, match_chain
    from ..presets import load_chain, save_preset

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.out.suffix != ".toml":
        raise ValueError(f"expected -o/--out to end in .toml, got {args.out}")
    report_path = args.out.with_suffix(".report.json")
    outputs = [args.out, args.out.with_suffix(".npz"), report_path]
    for path in (args.dry, args.wet):
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
    check_outputs(outputs, inputs=[args.dry, args.wet])
    if not any(part.strip() for part in args.chain.split("|")):
        raise ValueError(
            f'--chain names no processor: expected a preset or a chain such as "ParametricEQ '
            f'| Compressor | Gain", got {args.chain!r}'
        )
    probe_chain = load_chain(args.chain, 48_000.0)  # a bad preset or spec fails before reading
    if len(probe_chain) == 0:
        raise ValueError(f"--chain names no processor, got {args.chain!r}")
    pair = load_pair(args.dry, args.wet, max_offset_ms=args.max_offset_ms)
    rate = pair.sample_rate
    chain = load_chain(args.chain, float(rate))
    x = torch.from_numpy(pair.dry)
    with torch.no_grad():
        probe = chain(x[None, :, : min(x.shape[-1], rate)])
    if probe.shape[1] != pair.wet.shape[0]:
        raise ValueError(
            f"channel counts do not fit: {args.dry.name} has {pair.dry.shape[0]} channel(s), "
            f"{args.wet.name} has {pair.wet.shape[0]}, and the chain turns "
            f"{pair.dry.shape[0]} into {probe.shape[1]}"
        )
    for note in pair.notes:
        print(f"match: {note}", file=sys.stderr)
    start_values = [proc.parameter_values() for proc in chain]
    try:
        res = match_chain(
            chain,
            x,
            torch.from_numpy(pair.wet),
            steps=args.steps,
            seconds=args.seconds,
            lr=args.lr,
            analysis=not args.no_analysis,
            loss=args.loss,
            seed=args.seed,
        )
    except KeyboardInterrupt:
        raise Interrupted("interrupted during the fit; nothing was written") from None
    written = save_preset(chain, args.out)
    processors = []
    for i, proc in enumerate(chain):
        params = {name: d.as_dict() for name, d in res.determination.get(i, {}).items()}
        entry = {"processor": type(proc).__name__, "parameters": params}
        if proc.options():  # what the analysis chose besides values (a detector, cuts off)
            entry["options"] = proc.options()
        processors.append(entry)
    report = {
        "dry": str(args.dry),
        "wet": str(args.wet),
        "chain": args.chain,
        "sample_rate": rate,
        "channels": {"dry": int(pair.dry.shape[0]), "wet": int(pair.wet.shape[0])},
        "alignment": {
            "offset_samples": pair.offset_samples,
            "offset_ms": round(1000 * pair.offset_samples / rate, 3),
            "notes": pair.notes,
        },
        "verdict": res.verdict,
        "message": res.message,
        "coherence": round(res.coherence, 4),
        "distance": {
            "before": res.distance_before,
            "after_analysis": None if math.isnan(res.distance_analysis) else res.distance_analysis,
            "after_fit": res.distance_after,
            "dry_as_is": res.distance_identity,
        },
        "reduction": None if math.isnan(res.reduction) else res.reduction,
        "timing": {
            "analysis_s": round(res.analysis_seconds, 2),
            "fit_s": round(res.fit_seconds, 2),
            "report_s": round(res.report_seconds, 2),
            "total_s": round(res.seconds, 2),
            "steps": res.iterations,
            "steps_per_second": None
            if math.isnan(res.steps_per_second)
            else round(res.steps_per_second, 3),
            "threads": torch.get_num_threads(),
        },
        "notes": res.notes,
        "processors": processors,
        # the fields of earlier reports, kept for scripts that read them
        "spectral_distance_before": res.distance_before,
        "spectral_distance_after": res.distance_after,
        "iterations": res.iterations,
        "fit_seconds": round(res.fit_seconds, 2),
        "start": start_values,
        "fitted": [proc.parameter_values() for proc in chain],
    }
    with atomic_path(report_path) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    written.append(report_path)
    analysed = "" if math.isnan(res.distance_analysis) else f" -> {res.distance_analysis:.3f}"
    print(
        f"spectral distance {res.distance_before:.3f}{analysed} -> {res.distance_after:.3f} "
        f"({res.iterations} steps, {_fmt(res.steps_per_second)} steps/s, {res.seconds:.0f} s)"
    )
    for entry in processors:
        print(entry["processor"])
        for name, d in entry["parameters"].items():
            if d["status"] == "unused":
                continue
            span = f"  [{_fmt(d['low'])} .. {_fmt(d['high'])}]" if d["low"] is not None else ""
            print(f"  {name:16s} {_fmt(d['value']):>10s}{span}  {d['status']}")
    print(res.message)
    for note in res.notes:
        print(f"note: {note}")
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0
