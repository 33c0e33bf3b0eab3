"""Export processors as plugin files, reload them as their hosts do, and play a clip.

    python demos/export_plugin.py --out out/plugins [--formats neutone nn_tilde pt2]

Three sources, each exported at 48 kHz for 512-sample blocks:

1. the ``vocal_chain`` preset (EQ and compressor), with two knobs;
2. a fitted ``ddsp match`` result: a "Compressor | ParametricEQ | Gain" chain fitted so
   the bundled violin clip becomes what a hidden target chain made of it;
3. the ``saw_lead`` voice (inputs f0_hz and gate, no audio input; nn~ and pt2 only:
   Neutone passes audio).

Each file is loaded back with torch alone (Neutone and nn~ through ``torch.jit.load``,
pt2 through ``torch.export.load`` and AOTInductor's loader), the clip
``demos/data/violin.flac`` is streamed through it in 512-sample blocks, and the audio is
written beside the file. The largest difference from the library's own stream is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import ddsp
from ddsp.export import export_model
from ddsp.export.formats import load, save
from ddsp.io import load_audio
from ddsp.match import match_chain

SR, BLOCK = 48_000, 512
CLIP = Path(__file__).parent / "data" / "violin.flac"
SUFFIX = {"neutone": ".nm", "nn_tilde": ".ts", "pt2": ".pt2"}


def _stream(host, x: torch.Tensor) -> torch.Tensor:
    """``x (1, channels, n)`` through a host in blocks (the tail padded to a block)."""
    host.reset()
    n = x.shape[-1]
    x = torch.nn.functional.pad(x, (0, -n % BLOCK))
    with torch.no_grad():
        out = [host(x[..., i : i + BLOCK]) for i in range(0, x.shape[-1], BLOCK)]
    return torch.cat(out, -1)[..., :n]


def _library(module, x: torch.Tensor, **inputs) -> torch.Tensor:
    """The library's stream on the same blocks (the reference)."""
    channels = x.shape[1] if x.shape[1] else 1
    stream = ddsp.Stream(module, channels=channels, automation="step")
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[-1], BLOCK):
            block = {k: v[:, i : i + BLOCK] for k, v in inputs.items()}
            if x.shape[1]:
                out.append(stream.process(x[..., i : i + BLOCK]))
            else:
                n = min(BLOCK, x.shape[-1] - i)
                out.append(stream.process(None, n_samples=n, **block))
    y = torch.cat(out, -1)
    return y if y.dim() == 3 else y[:, None]


def _export_and_play(name, module, x, formats, out: Path, knobs=(), **inputs) -> None:
    model = export_model(module, block_size=BLOCK, knobs=list(knobs))
    want = _library(module, x, **inputs)
    feed = torch.stack([inputs[k] for k in model.input_names], 1) if model.input_names else x
    for fmt in formats:
        if fmt == "neutone" and model.input_names:
            continue  # Neutone passes audio, not a voice's controls
        written = save(model, out / f"{name}{SUFFIX[fmt]}", fmt, name=name)
        for path in written:
            host = load(path)
            y = _stream(host, feed)
            err = float((y - want).abs().max())
            wav = path.with_name(path.name + ".wav")  # vocal_chain.nm.wav, ...
            audio = y[0].numpy().T
            peak = float(np.abs(audio).max())
            sf.write(wav, audio / max(peak, 1.0), SR)
            print(f"{path.name:<28} latency {model.latency:>4} samples, "
                  f"max |file - library| {err:.1e} -> {wav.name}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("out/plugins"))
    p.add_argument("--formats", nargs="+", choices=sorted(SUFFIX), default=sorted(SUFFIX))
    p.add_argument("--seconds", type=float, default=3.0, help="clip length to play")
    p.add_argument("--match-steps", type=int, default=30, help="gradient steps of the fit")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    clip = load_audio(CLIP, sample_rate=SR, mono=True).audio[:, : int(args.seconds * SR)]
    stereo = torch.from_numpy(np.repeat(clip, 2, 0))[None]  # (1, 2, n)

    print("1. the vocal_chain preset, knobs 1.threshold_db and 0.peak2_db")
    vocal = ddsp.load_preset("chains/vocal_chain", sample_rate=SR)
    _export_and_play("vocal_chain", vocal, stereo, args.formats, args.out,
                     knobs=("1.threshold_db", "0.peak2_db"))  # fmt: skip

    print("2. a ddsp match result (a hidden chain fitted from the dry and wet clip)")
    hidden = ddsp.Chain([
        ddsp.Compressor(SR, threshold_db=-24.0, ratio=3.0, attack_ms=8.0, release_ms=120.0),
        ddsp.ParametricEQ(SR, peak2_hz=1500.0, peak2_db=5.0, high_shelf_db=-4.0),
        ddsp.Gain(SR, gain_db=3.0),
    ])  # fmt: skip
    with torch.no_grad():
        wet = hidden(stereo)[0]
    fitted = ddsp.presets.load_chain("Compressor | ParametricEQ | Gain", SR)
    result = match_chain(fitted, stereo[0], wet, steps=args.match_steps, progress=False)
    print(f"   fit: spectral distance {result.distance_before:.3f} -> "
          f"{result.distance_after:.3f}")  # fmt: skip
    ddsp.save_preset(fitted, args.out / "fitted.toml")
    _export_and_play("fitted_chain", fitted, stereo, args.formats, args.out)

    print("3. the saw_lead voice, driven by f0 and gate signals")
    lead = ddsp.load_preset("voices/saw_lead", sample_rate=SR)
    n = stereo.shape[-1]
    t = torch.arange(n) / SR
    f0 = 110.0 * 2 ** (torch.floor(t * 4) % 4 * 3 / 12)[None]  # a rising arpeggio
    gate = ((t * 4) % 1 < 0.7).float()[None]
    _export_and_play("saw_lead", lead, torch.zeros(1, 0, n), args.formats, args.out,
                     f0_hz=f0, gate=gate)  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
