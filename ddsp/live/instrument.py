"""Instruments: a trained timbre-transfer model ready to play live.

An :class:`Instrument` comes from a training run folder (its best checkpoint) or from the
instruments shipped in the package (:data:`INSTRUMENTS`: ``ddsp/instruments/<name>/``,
float16 weights in ``instrument.pt.xz`` with the training command, config and validation
curve beside them). It builds the live pipeline (:class:`~ddsp.live.LivePipeline`) at any
sample rate, exports it (:meth:`Instrument.export_model`, the four knobs of
:data:`~ddsp.live.pipeline.KNOBS`) and renders files through exactly that path
(:meth:`Instrument.render`, ``ddsp transfer --stream``).
"""

from __future__ import annotations

import io
import lzma
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, ExportError
from ..io import atomic_path
from ..training.checkpoints import load_run, model_config
from ..training.model import Autoencoder
from .pipeline import KNOBS

__all__ = [
    "INSTRUMENTS",
    "INSTRUMENT_FILE",
    "INSTRUMENT_FORMAT",
    "Instrument",
    "load_instrument",
    "save_instrument",
]

INSTRUMENT_FORMAT = 1
INSTRUMENT_FILE = "instrument.pt.xz"  # a shipped instrument's weights, in its folder
_XZ_MAGIC = b"\xfd7zXZ\x00"
INSTRUMENTS = ("violin",)


class Instrument:
    """A trained model with its training statistics and rates (see the module docstring)."""

    def __init__(self, model: Autoencoder, state: dict[str, Any], name: str) -> None:
        self.model = model.eval()
        self.name = name
        self.sample_rate = int(state["sample_rate"])
        self.frame_rate = float(state["frame_rate"])
        self.statistics = dict(state.get("statistics") or {})

    def __repr__(self) -> str:
        c = self.model.config
        return (
            f"Instrument({self.name!r}, {self.sample_rate} Hz, {self.frame_rate:g} frames/s, "
            f"gru={c.gru}, harmonics={c.n_harmonics}, bands={c.n_bands})"
        )

    # ------------------------------------------------------------------ the pipeline

    def pipeline(
        self,
        *,
        sample_rate: float | None = None,
        channels: int = 1,
        block_size: int = 512,
        defaults: dict[str, float] | None = None,
    ):
        """The live pipeline at ``sample_rate`` (default: the model's)."""
        from ..export.blocks.reverb import ConvolutionBlock
        from ..features.pitch_stream import PitchTracker
        from ..modules import ConvolutionReverb
        from .decimate import Decimator, decimation_factor
        from .decoder import DecoderStep
        from .pipeline import LivePipeline
        from .tracker import TrackerBlock

        rate = float(sample_rate or self.sample_rate)
        if rate < self.sample_rate:
            raise ExportError(
                f"{self.name} was trained at {self.sample_rate} Hz; run it at that rate or "
                f"higher (got {rate:g} Hz)"
            )
        hop = int(round(rate / self.frame_rate))
        factor = decimation_factor(rate, self.sample_rate, hop)
        analysis = PitchTracker(rate / factor, self.frame_rate)
        if analysis.hop * factor != hop:  # the rounding of the two hops disagrees
            factor, analysis = 1, PitchTracker(rate, self.frame_rate)
        tracker = TrackerBlock(analysis)
        source = self.model.reverb
        reverb = ConvolutionReverb(rate, ir_seconds=source.ir.shape[0] / self.sample_rate,
                                   mix=float(source.mix.detach()))  # fmt: skip
        with torch.no_grad():
            reverb.load_learned_tensors({"ir": source.ir.detach()}, self.sample_rate)
        knob_names = [s.name for s in KNOBS]
        # float32 partitions: half the FFT cost of the float64 default, ~1e-6 of the signal
        reverb_block = ConvolutionBlock(reverb, 1, block_size, ["mix"], precision=torch.float32)
        values = {"mix": float(source.mix.detach()), **(defaults or {})}
        unknown = sorted(set(values) - set(knob_names))
        if unknown:
            raise ExportError(f"unknown control(s) {unknown}; expected some of {knob_names}")
        return LivePipeline(
            DecoderStep(self.model),
            tracker,
            Decimator(factor),
            reverb_block,
            sample_rate=rate,
            model_rate=self.sample_rate,
            in_channels=channels,
            max_block=max(block_size, 4096),
            defaults=values,
        )

    def export_model(
        self,
        *,
        block_size: int = 512,
        knobs: Sequence[str] = (),
        sample_rate: float | None = None,
        channels: int = 1,
    ):
        """An :class:`~ddsp.export.ExportedModel` of the pipeline; ``knobs`` default to all
        four (pitch shift, loudness offset, balance, reverb mix)."""
        from ..export.model import ExportedModel, Knob

        names = list(knobs) or [s.name for s in KNOBS]
        specs = {s.name: s for s in KNOBS}
        unknown = [k for k in names if k not in specs]
        if unknown:
            raise ExportError(f"unknown knob(s) {unknown}; an instrument has {list(specs)}")
        if len(names) > 4:
            raise ExportError(f"expected at most 4 knobs, got {len(names)}")
        pipe = self.pipeline(sample_rate=sample_rate, channels=channels, block_size=block_size)
        values = {s.name: float(getattr(pipe, s.name)) for s in KNOBS}
        knob_list = [Knob(k, specs[k], float(specs[k].to_normalized(values[k])), k) for k in names]
        return ExportedModel(
            pipe,
            knob_list,
            sample_rate=pipe.sample_rate,
            block_size=block_size,
            in_channels=channels,
            input_names=[],
        )

    @torch.no_grad()
    def render(
        self,
        audio: np.ndarray,
        sample_rate: float,
        *,
        block_size: int = 512,
        controls: dict[str, float] | None = None,
    ) -> np.ndarray:
        """Play ``audio (channels, time)`` through the live pipeline block by block, as a
        plugin would; returns ``(time,)`` at ``sample_rate``, latency compensated."""
        pipe = self.pipeline(sample_rate=sample_rate, channels=audio.shape[0],
                             block_size=block_size, defaults=controls)  # fmt: skip
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
        x = torch.nn.functional.pad(x, (0, pipe.latency))
        out = [pipe(x[..., i : i + block_size], {}) for i in range(0, x.shape[-1], block_size)]
        y = torch.cat(out, -1)[0, 0, pipe.latency :]
        return y.numpy()


# --------------------------------------------------------------------------- loading


def load_instrument(source: str | Path) -> Instrument:
    """A run folder (best checkpoint) or a shipped instrument's name."""
    if isinstance(source, str) and source in INSTRUMENTS:
        folder = resources.files("ddsp.instruments").joinpath(source)
        data = folder.joinpath(INSTRUMENT_FILE).read_bytes()
        return _from_bytes(data, f"the shipped instrument {source!r}", source)
    path = Path(source)
    if not path.is_dir():
        raise CheckpointError(
            f"{source} is neither a training run folder nor a shipped instrument "
            f"({', '.join(INSTRUMENTS)})"
        )
    model, state = load_run(path)
    return Instrument(model, state, path.resolve().name)


def _from_bytes(data: bytes, where: str, name: str) -> Instrument:
    """An instrument from its file's bytes: xz-compressed (as :func:`save_instrument`
    writes) or plain ``torch.save`` data."""
    try:
        if data.startswith(_XZ_MAGIC):
            data = lzma.decompress(data)
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"cannot read {where}: {e}") from None
    if not isinstance(state, dict) or state.get("format") != INSTRUMENT_FORMAT:
        raise CheckpointError(f"{where} is not an instrument file of format {INSTRUMENT_FORMAT}")
    model = Autoencoder(model_config(state, where), int(state["sample_rate"]),
                        float(state["frame_rate"]))  # fmt: skip
    weights = {k: v.float() for k, v in state["model"].items()}
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"{where} does not hold a usable model: {e}") from None
    return Instrument(model, state, name)


def save_instrument(model: Autoencoder, state: dict[str, Any], path: str | Path) -> Path:
    """Write an instrument file: the model's weights in float16 and the rates,
    statistics and config a checkpoint holds (plain data, ``weights_only`` loadable),
    xz-compressed (float16 weights shrink by about a tenth)."""
    data = {
        "format": INSTRUMENT_FORMAT,
        "config": {"model": model.config.as_dict()},
        "sample_rate": int(state["sample_rate"]),
        "frame_rate": float(state["frame_rate"]),
        "statistics": {
            k: float(v)
            for k, v in (state.get("statistics") or {}).items()
            if isinstance(v, (int, float))
        },  # fmt: skip
        "model": {k: v.detach().half() for k, v in model.state_dict().items()},
    }
    buf = io.BytesIO()
    torch.save(data, buf)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(lzma.compress(buf.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    return path
