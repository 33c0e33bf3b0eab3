"""Timbre transfer (``ddsp transfer RUN_DIR INPUT OUT``): play a trained instrument with
another recording's melody.

f0 and loudness are extracted from INPUT, adapted to the trained instrument as the DDSP
demo does -- f0 shifted by whole octaves toward the training set's mean pitch, loudness
mapped so its mean and spread match the training set's (audible frames) -- then
synthesised by the model and written at the model's sample rate. ``--octaves`` and
``--loudness-shift`` override the automatic choices.

With ``stream=True`` (``ddsp transfer --stream``) the input is played through the live
pipeline instead (:class:`ddsp.live.LivePipeline`, what the exported plugin runs), block
by block at the input's own rate (at least the model's), latency compensated; the octave
and a constant loudness offset are chosen from the whole file as above and set as the
pipeline's pitch-shift and loudness-offset knobs.

RUN is a training run folder or a shipped instrument's name (``violin``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..features import f0, loudness
from ..io import load_audio
from ..units import hz_to_midi
from .checkpoints import load_run

__all__ = ["adapt", "transfer"]


def adapt(
    f0_hz: torch.Tensor,
    voicing: torch.Tensor,
    loud_db: torch.Tensor,
    stats: dict,
    *,
    octaves: int | None = None,
    loudness_shift: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Octave-shift f0 and match loudness statistics to the training set's ``stats``."""
    voiced = voicing > 0.5
    if octaves is None:
        if bool(voiced.any()) and stats.get("f0_midi_mean") is not None:
            midi = hz_to_midi(f0_hz[voiced])
            octaves = int(round((stats["f0_midi_mean"] - float(midi.mean())) / 12))
        else:
            octaves = 0
    f0_out = f0_hz * 2.0**octaves
    audible = loud_db > -70
    if loudness_shift is not None:
        loud_out = loud_db + loudness_shift
    elif bool(audible.any()) and stats.get("loudness_db_mean") is not None:
        mean, std = loud_db[audible].mean(), loud_db[audible].std().clamp_min(1e-3)
        z = (loud_db - mean) / std
        loud_out = torch.where(
            audible, stats["loudness_db_mean"] + z * stats["loudness_db_std"], loud_db - 20
        )
    else:
        loud_out = loud_db
    return f0_out, loud_out, {"octaves": octaves}


def load_model(run: str | Path) -> tuple[torch.nn.Module, dict]:
    """The model and its checkpoint state (rates, statistics) of a run folder or a shipped
    instrument."""
    from ..live import INSTRUMENTS, load_instrument

    if str(run) in INSTRUMENTS and not Path(run).is_dir():
        inst = load_instrument(str(run))
        state = {"sample_rate": inst.sample_rate, "frame_rate": inst.frame_rate,
                 "statistics": inst.statistics}  # fmt: skip
        return inst.model, state
    return load_run(Path(run))


@torch.no_grad()
def transfer(
    run: str | Path,
    src: Path,
    *,
    octaves: int | None = None,
    loudness_shift: float | None = None,
    stream: bool = False,
    block_size: int = 512,
) -> tuple[np.ndarray, int, dict]:
    if octaves is not None and (
        isinstance(octaves, bool) or not isinstance(octaves, int) or not -4 <= octaves <= 4
    ):
        raise ValueError(f"expected octaves as a whole number in [-4, 4], got {octaves!r}")
    if loudness_shift is not None and (
        isinstance(loudness_shift, bool)
        or not isinstance(loudness_shift, (int, float))
        or not -60 <= loudness_shift <= 60  # NaN fails too
    ):
        raise ValueError(f"expected loudness_shift in [-60, 60] dB, got {loudness_shift!r}")
    model, state = load_model(run)
    if stream:
        return _stream(model, state, src, octaves, loudness_shift, block_size)
    sr = int(state["sample_rate"])
    loaded = load_audio(src, sample_rate=sr, mono=True)
    mono = torch.from_numpy(loaded.audio)
    if float(mono.abs().max()) < 1e-6:
        raise ValueError(f"{src} is silent: nothing to transfer")
    hz, voicing = f0(mono, sr, state["frame_rate"])
    loud = loudness(mono, sr, state["frame_rate"])
    hz2, loud2, info = adapt(hz, voicing, loud, state["statistics"], octaves=octaves,
                             loudness_shift=loudness_shift)  # fmt: skip
    y = model(hz2, loud2, mono if model.config.z_dim else None, n_samples=mono.shape[-1])
    y = y[0].numpy()
    peak = float(np.abs(y).max())
    if peak > 0.99:
        y = y * (0.99 / peak)
    info.update({"input_f0_hz": hz2, "input_voicing": voicing, "input_loudness_db": loud2,
                 "input_audio": mono, "input_channels": loaded.channels})  # fmt: skip
    return y, sr, info


def _stream(model, state: dict, src: Path, octaves, loudness_shift, block_size: int):
    from ..live import Instrument

    inst = Instrument(model, state, Path(str(src)).stem)
    rate = int(state["sample_rate"])
    loaded = load_audio(src, mono=True)
    if loaded.sample_rate < rate:  # the pipeline runs at the model's rate or above
        loaded = load_audio(src, sample_rate=rate, mono=True)
    sr = int(loaded.sample_rate)
    mono = torch.from_numpy(loaded.audio)
    if float(mono.abs().max()) < 1e-6:
        raise ValueError(f"{src} is silent: nothing to transfer")
    hz, voicing = f0(mono, sr, state["frame_rate"])
    loud = loudness(mono, sr, state["frame_rate"])
    _, _, info = adapt(hz, voicing, loud, state["statistics"], octaves=octaves)
    if loudness_shift is None:  # one offset for the file: the audible frames' means
        audible = loud > -70
        mean = state["statistics"].get("loudness_db_mean")
        shift = float(mean - loud[audible].mean()) if bool(audible.any()) and mean else 0.0
        loudness_shift = max(-24.0, min(24.0, shift))
    controls = {"pitch_shift_st": 12.0 * info["octaves"], "loudness_offset_db": loudness_shift}
    y = inst.render(loaded.audio, sr, block_size=block_size, controls=controls)
    peak = float(np.abs(y).max())
    if peak > 0.99:
        y = y * (0.99 / peak)
    info.update({"loudness_shift_db": loudness_shift, "input_channels": loaded.channels,
                 "stream": True, "block_size": block_size})  # fmt: skip
    return y, sr, info
