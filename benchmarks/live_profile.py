"""Where an exported instrument's block time goes: its AOTInductor program timed whole, then
with the decoder, and then the reverb, taken out (a diagnostic, not a product path).

    python benchmarks/live_profile.py [--instrument violin] [--rate 48000] [--block 512]

Each variant is exported to ``.pt2`` + AOTInductor (``torch.export``), loaded back, and
fed 2 s of a tone in contiguous blocks on one thread; the median of 7 passes is printed
per block. "no decoder" replaces the decoder step by constant controls, "no reverb" drops
the reverb block; the differences are those parts' shares of the block time.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time

import torch
from torch import Tensor, nn

from ddsp.export.formats import load, save
from ddsp.live import load_instrument


class _ConstantDecoder(nn.Module):
    """Fixed controls in the decoder step's shapes (no weights read)."""

    def __init__(self, n_harmonics: int, n_bands: int) -> None:
        super().__init__()
        self.n_harmonics, self.n_bands = n_harmonics, n_bands

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        pass

    def forward(self, f0_hz: Tensor, loudness_db: Tensor, count: Tensor):
        ones = torch.ones_like(f0_hz)[..., None]
        return (
            0.1 * ones[..., 0],
            0.01 * ones.expand(-1, -1, self.n_harmonics),
            1e-3 * ones.expand(-1, -1, self.n_bands),
        )


def _time(model, block: int, rate: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        paths = save(model, f"{folder}/m.pt2", "pt2", name="m")
        host = load(paths[-1])
        t = torch.arange(2 * rate) / rate
        x = (0.2 * torch.sin(2 * math.pi * 330 * t))[None, None]
        blocks = [
            x[..., i : i + block].contiguous() for i in range(0, x.shape[-1] - block + 1, block)
        ]
        for b in blocks[:10]:
            host(b)
        passes = []
        for _ in range(7):
            t0 = time.perf_counter()
            for b in blocks:
                host(b)
            passes.append((time.perf_counter() - t0) / len(blocks))
    return statistics.median(passes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instrument", default="violin")
    p.add_argument("--rate", type=int, default=48_000)
    p.add_argument("--block", type=int, default=512)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    inst = load_instrument(args.instrument)
    rows = []
    for variant in ("whole", "no decoder", "no reverb"):
        model = inst.export_model(block_size=args.block, sample_rate=args.rate)
        pipe = model.root
        if variant == "no decoder":
            pipe.decoder = _ConstantDecoder(pipe.decoder.n_harmonics, pipe.decoder.n_bands)
        if variant == "no reverb":
            pipe.reverb = nn.ModuleList([])
        seconds = _time(model, args.block, args.rate)
        rows.append((variant, seconds))
        print(f"{variant:<12} {seconds * 1e6:8.0f} us per block, RTF "
              f"{args.block / args.rate / seconds:5.1f}")  # fmt: skip
    whole = rows[0][1]
    for variant, seconds in rows[1:]:
        print(f"{variant[3:]} share: {100 * (whole - seconds) / whole:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
