"""Effect processors without delay lines or long tails: parametric EQ, distortion, stereo
tools, tremolo and phaser (shells over :mod:`ddsp.functional.effects`)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from ..functional import (
    SHAPERS,
    LFilterState,
    distortion,
    pan,
    parametric_eq,
    phaser,
    stereo_width,
    tremolo,
)
from ..params import ParamSpec
from ._controls import per_item
from ._options import flag_option, whole_option
from .base import Processor, check_audio
from .filters import (
    Section,
    _band_states,
    _below_nyquist,
    _sections_fast,
    _silent_sections,
    _stacked,
    section_design,
)

__all__ = ["ParametricEQ", "Distortion", "Panner", "StereoWidth", "Tremolo", "Phaser"]


def _freq(name: str, default: float, description: str) -> ParamSpec:
    return ParamSpec(name, "Hz", 20.0, 20_000.0, default, scale="log", description=description)


def _gain(name: str, description: str) -> ParamSpec:
    return ParamSpec(name, "dB", -24.0, 24.0, 0.0, description=description)


def _q(name: str) -> ParamSpec:
    return ParamSpec(name, "", 0.1, 20.0, 1.0, scale="log", description="peak width")


class ParametricEQ(Processor):
    """Five-band parametric EQ: low cut, low shelf, three peaks, high shelf, high cut.

    Each band is an RBJ biquad (see :func:`ddsp.functional.parametric_eq`); at their
    defaults the shelves and peaks are flat (0 dB) and the cuts sit at 20 Hz / 20 kHz.
    Options ``low_cut`` and ``high_cut`` (default True) switch a cut off altogether: a
    20 kHz low-pass at 44.1 or 48 kHz is far from flat near Nyquist, so an EQ that models
    one without cuts (most plugin EQs' bands) leaves them off. Their ``*_cut_hz``
    parameters then stay in the spec and do nothing.
    Shape: ``(batch, channels, time) -> (batch, channels, time)``.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        _freq("low_cut_hz", 20.0, "high-pass corner"),
        _freq("low_shelf_hz", 120.0, "low shelf corner"),
        _gain("low_shelf_db", "low shelf gain"),
        _freq("peak1_hz", 400.0, "band 1 centre"),
        _gain("peak1_db", "band 1 gain"),
        _q("peak1_q"),
        _freq("peak2_hz", 1500.0, "band 2 centre"),
        _gain("peak2_db", "band 2 gain"),
        _q("peak2_q"),
        _freq("peak3_hz", 5000.0, "band 3 centre"),
        _gain("peak3_db", "band 3 gain"),
        _q("peak3_q"),
        _freq("high_shelf_hz", 8000.0, "high shelf corner"),
        _gain("high_shelf_db", "high shelf gain"),
        _freq("high_cut_hz", 20_000.0, "low-pass corner"),
    )

    BANDS = 7  # low cut, low shelf, three peaks, high shelf, high cut (with both cuts on)

    def __init__(
        self, sample_rate: float, low_cut: bool = True, high_cut: bool = True, **values: float
    ) -> None:
        super().__init__(sample_rate, **values)
        self.low_cut = flag_option("ParametricEQ", "low_cut", low_cut)
        self.high_cut = flag_option("ParametricEQ", "high_cut", high_cut)

    def options(self) -> dict[str, Any]:
        # only cuts switched off: a default EQ saves as before
        return {n: False for n in ("low_cut", "high_cut") if not getattr(self, n)}

    @property
    def bands(self) -> int:
        """Biquads in series: :data:`BANDS` less the cuts switched off."""
        return self.BANDS - (not self.low_cut) - (not self.high_cut)

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        f = {k: _below_nyquist(v, self.sample_rate) for k, v in c.items() if k.endswith("_hz")}
        out = parametric_eq(
            x,
            sample_rate=self.sample_rate,
            peaks=[(f[f"peak{i}_hz"], c[f"peak{i}_db"], c[f"peak{i}_q"]) for i in (1, 2, 3)],
            low_shelf=(f["low_shelf_hz"], c["low_shelf_db"]),
            high_shelf=(f["high_shelf_hz"], c["high_shelf_db"]),
            low_cut_hz=f["low_cut_hz"] if self.low_cut else None,
            high_cut_hz=f["high_cut_hz"] if self.high_cut else None,
            zi=None if state is None else _band_states(state, self.bands),
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], _stacked(out[1]))

    def stream_state(self, batch: int, channels: int, *, dtype, device, **_: Any) -> dict:
        return _silent_sections(batch, channels, self.bands, dtype, device)

    def sections(self) -> list[Section]:
        """The bands as a cascade of biquads, in series order (see :func:`section_design`)."""
        bw = 1 / math.sqrt(2)
        peaks: list[Section] = [
            ("peaking", f"peak{i}_hz", f"peak{i}_q", f"peak{i}_db") for i in (1, 2, 3)
        ]
        low: list[Section] = [("highpass", "low_cut_hz", bw, 0.0)] if self.low_cut else []
        high: list[Section] = [("lowpass", "high_cut_hz", bw, 0.0)] if self.high_cut else []
        return [
            *low,
            ("lowshelf", "low_shelf_hz", bw, "low_shelf_db"),
            *peaks,
            ("highshelf", "high_shelf_hz", bw, "high_shelf_db"),
            *high,
        ]

    def stream_fast(self, x, state, controls, inputs, n):
        """No-gradient blocks with constant controls: one kernel call for all the bands."""

        def design() -> list[tuple]:
            return section_design(self.sections(), controls, self.sample_rate)

        return _sections_fast(x, state, controls, design, self.sample_rate)


def _start_phase(proc: Processor, delay: int, device: Any) -> torch.Tensor:
    """An LFO's phase (cycles) ``delay`` samples before the time origin: the streamed
    signal arrives that late, so the LFO starts that far back."""
    rate = float(proc.rate_hz.detach())
    return torch.tensor([(-rate * delay / proc.sample_rate) % 1.0], dtype=torch.float64).to(device)


class Distortion(Processor):
    """Waveshaping distortion (see :func:`ddsp.functional.distortion`).

    Shape: ``(batch, channels, time) -> (batch, channels, time)``.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("drive_db", "dB", 0.0, 48.0, 12.0, description="gain into the shaper"),
        ParamSpec("bias", "", -1.0, 1.0, 0.0, description="asymmetry"),
        ParamSpec("mix", "", 0.0, 1.0, 1.0, description="dry 0 .. wet 1"),
        ParamSpec("output_db", "dB", -48.0, 12.0, -6.0, description="output gain"),
    )

    def __init__(self, sample_rate: float, shape: str = "tanh", **values: float) -> None:
        if shape not in SHAPERS:
            raise ValueError(f"expected shape in {SHAPERS}, got {shape!r}")
        super().__init__(sample_rate, **values)
        self.shape = shape

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        y = distortion(
            x,
            drive_db=c["drive_db"],
            shape=self.shape,
            bias=c["bias"],
            mix=c["mix"],
            output_db=c["output_db"],
        )
        return y, state  # memoryless: nothing to carry

    def options(self) -> dict[str, Any]:
        return {"shape": self.shape}


class Panner(Processor):
    """Constant-power panner, mono or stereo in, stereo out (see :func:`ddsp.functional.pan`)."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("position", "", -1.0, 1.0, 0.0, description="left -1 .. right 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        return pan(x, per_item(c["position"])), state

    def stream_channels(self, channels: int) -> int:
        if channels not in (1, 2):
            raise ValueError(f"expected 1 or 2 channels into Panner, got {channels} channels")
        return 2


class StereoWidth(Processor):
    """Mid/side stereo width (see :func:`ddsp.functional.stereo_width`); stereo in and out."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("width", "", 0.0, 2.0, 1.0, description="0 mono, 1 as is, 2 wide"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        return stereo_width(x, per_item(c["width"])), state

    def stream_channels(self, channels: int) -> int:
        if channels != 2:
            raise ValueError(f"expected 2 channels into StereoWidth, got {channels} channels")
        return 2


class Tremolo(Processor):
    """Sine tremolo (see :func:`ddsp.functional.tremolo`)."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rate_hz", "Hz", 0.1, 30.0, 5.0, scale="log", description="LFO rate"),
        ParamSpec("depth", "", 0.0, 1.0, 0.5, description="0 none .. 1 full"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        out = tremolo(
            x,
            c["rate_hz"],
            c["depth"],
            sample_rate=self.sample_rate,
            phase=None if state is None else state["phase"],
            return_state=state is not None,
        )
        return (out, None) if state is None else (out[0], {"phase": out[1]})

    def stream_state(self, batch: int, channels: int, *, device, delay: int = 0, **_: Any) -> dict:
        return {"phase": _start_phase(self, delay, device)}


class Phaser(Processor):
    """Phaser: LFO-swept allpass chain mixed with the dry signal (see
    :func:`ddsp.functional.phaser`). Option ``stages`` (default 4)."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rate_hz", "Hz", 0.02, 10.0, 0.5, scale="log", description="sweep rate"),
        ParamSpec("depth_octaves", "oct", 0.0, 4.0, 2.0, description="sweep half-range"),
        ParamSpec("centre_hz", "Hz", 50.0, 5000.0, 800.0, scale="log", description="centre"),
        ParamSpec("mix", "", 0.0, 1.0, 0.5, description="dry 0 .. wet 1 (0.5: deepest)"),
    )

    def __init__(self, sample_rate: float, stages: int = 4, **values: float) -> None:
        super().__init__(sample_rate, **values)
        self.stages = whole_option("Phaser", "stages", stages, 1, 12)

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return self._run(check_audio(x), self.controls(**controls), None)[0]

    def _run(self, x: torch.Tensor, c: dict[str, Any], state: dict | None) -> tuple:
        out = phaser(
            x,
            sample_rate=self.sample_rate,
            rate_hz=c["rate_hz"],
            depth_octaves=c["depth_octaves"],
            centre_hz=_below_nyquist(c["centre_hz"], self.sample_rate),
            stages=self.stages,
            mix=c["mix"],
            state=None if state is None else (state["phase"], state["stages"]),
            return_state=state is not None,
        )
        if state is None:
            return out, None
        return out[0], {"phase": out[1][0], "stages": out[1][1]}

    def stream_state(
        self, batch: int, channels: int, *, dtype, device, delay: int = 0, **_: Any
    ) -> dict:
        def zeros() -> torch.Tensor:
            return torch.zeros(batch, channels, 1, dtype=dtype, device=device)

        stages = [LFilterState(zeros(), zeros()) for _ in range(self.stages)]
        return {"phase": _start_phase(self, delay, device), "stages": stages}

    def options(self) -> dict[str, Any]:
        return {"stages": self.stages}
