"""Effect processors: thin shells over :mod:`ddsp.functional.effects`."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..functional import (
    SHAPERS,
    chorus,
    convolution_reverb,
    delay,
    distortion,
    pan,
    parametric_eq,
    phaser,
    ping_pong_delay,
    stereo_width,
    tremolo,
)
from ..functional.reverb import load_impulse_response, noise_reverb_ir
from ..params import ParamSpec
from .base import Processor, check_audio
from .filters import _below_nyquist

__all__ = [
    "ParametricEQ",
    "Distortion",
    "Panner",
    "StereoWidth",
    "Tremolo",
    "Delay",
    "Chorus",
    "Flanger",
    "PingPongDelay",
    "Phaser",
    "NoiseReverb",
    "ConvolutionReverb",
]


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

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        x = check_audio(x)
        c = self.controls(**controls)
        f = {k: _below_nyquist(v, self.sample_rate) for k, v in c.items() if k.endswith("_hz")}
        return parametric_eq(
            x,
            self.sample_rate,
            peaks=[(f[f"peak{i}_hz"], c[f"peak{i}_db"], c[f"peak{i}_q"]) for i in (1, 2, 3)],
            low_shelf=(f["low_shelf_hz"], c["low_shelf_db"]),
            high_shelf=(f["high_shelf_hz"], c["high_shelf_db"]),
            low_cut_hz=f["low_cut_hz"],
            high_cut_hz=f["high_cut_hz"],
        )


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
        c = self.controls(**controls)
        return distortion(
            check_audio(x),
            drive_db=c["drive_db"],
            shape=self.shape,
            bias=c["bias"],
            mix=c["mix"],
            output_db=c["output_db"],
        )

    def options(self) -> dict[str, Any]:
        return {"shape": self.shape}


def _per_item(value: Any) -> Any:
    # controls() gives (batch, 1) or (batch, 1, frames); these ops read (batch,) or (batch, frames)
    return value[:, 0] if isinstance(value, torch.Tensor) and value.ndim >= 2 else value


class Panner(Processor):
    """Constant-power panner, mono or stereo in, stereo out (see :func:`ddsp.functional.pan`)."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("position", "", -1.0, 1.0, 0.0, description="left -1 .. right 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return pan(check_audio(x), _per_item(self.controls(**controls)["position"]))


class StereoWidth(Processor):
    """Mid/side stereo width (see :func:`ddsp.functional.stereo_width`); stereo in and out."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("width", "", 0.0, 2.0, 1.0, description="0 mono, 1 as is, 2 wide"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        return stereo_width(check_audio(x), _per_item(self.controls(**controls)["width"]))


class Tremolo(Processor):
    """Sine tremolo (see :func:`ddsp.functional.tremolo`)."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rate_hz", "Hz", 0.1, 30.0, 5.0, scale="log", description="LFO rate"),
        ParamSpec("depth", "", 0.0, 1.0, 0.5, description="0 none .. 1 full"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        return tremolo(check_audio(x), self.sample_rate, c["rate_hz"], c["depth"])


class Delay(Processor):
    """Feedback delay / echo (see :func:`ddsp.functional.delay`), modulatable delay time."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("delay_ms", "ms", 1.0, 2000.0, 250.0, scale="log", description="delay time"),
        ParamSpec("feedback", "", -0.95, 0.95, 0.3, description="echo feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.3, description="dry 0 .. wet 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        return delay(
            check_audio(x), self.sample_rate, c["delay_ms"], feedback=c["feedback"], mix=c["mix"]
        )


class Chorus(Processor):
    """Chorus: an LFO-swept delay of 5-40 ms (see :func:`ddsp.functional.chorus`)."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rate_hz", "Hz", 0.05, 10.0, 0.8, scale="log", description="sweep rate"),
        ParamSpec("depth_ms", "ms", 0.0, 4.5, 2.5, description="sweep depth"),
        ParamSpec("centre_ms", "ms", 5.0, 40.0, 15.0, description="mean delay"),
        ParamSpec("feedback", "", -0.9, 0.9, 0.0, description="feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.5, description="dry 0 .. wet 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        return chorus(
            check_audio(x),
            self.sample_rate,
            rate_hz=c["rate_hz"],
            depth_ms=c["depth_ms"],
            centre_ms=c["centre_ms"],
            feedback=c["feedback"],
            mix=c["mix"],
        )


class Flanger(Chorus):
    """Flanger: a short (2.5-10 ms) swept delay with feedback, comb-filter sweeps."""

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rate_hz", "Hz", 0.05, 5.0, 0.3, scale="log", description="sweep rate"),
        ParamSpec("depth_ms", "ms", 0.0, 2.0, 1.5, description="sweep depth"),
        ParamSpec("centre_ms", "ms", 2.5, 10.0, 3.0, description="mean delay"),
        ParamSpec("feedback", "", -0.95, 0.95, 0.6, description="feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.5, description="dry 0 .. wet 1"),
    )


class PingPongDelay(Processor):
    """Stereo ping-pong delay (see :func:`ddsp.functional.ping_pong_delay`).

    Shape: ``(batch, C, time) -> (batch, 2, time)``, ``C`` in {1, 2}.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("delay_ms", "ms", 1.0, 2000.0, 300.0, scale="log", description="per bounce"),
        ParamSpec("feedback", "", -0.95, 0.95, 0.5, description="echo feedback"),
        ParamSpec("mix", "", 0.0, 1.0, 0.3, description="dry 0 .. wet 1"),
    )

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        return ping_pong_delay(
            check_audio(x), self.sample_rate, c["delay_ms"], feedback=c["feedback"], mix=c["mix"]
        )


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
        if not (isinstance(stages, int) and 1 <= stages <= 12):
            raise ValueError(f"expected stages as an integer in [1, 12], got {stages!r}")
        self.stages = stages

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        centre = _below_nyquist(c["centre_hz"], self.sample_rate)
        return phaser(
            check_audio(x),
            self.sample_rate,
            rate_hz=c["rate_hz"],
            depth_octaves=c["depth_octaves"],
            centre_hz=centre,
            stages=self.stages,
            mix=c["mix"],
        )

    def options(self) -> dict[str, Any]:
        return {"stages": self.stages}


class NoiseReverb(Processor):
    """Parametric noise reverb (see :func:`ddsp.functional.noise_reverb_ir`), mixed in.

    Options: ``max_seconds`` (IR length), ``seed``. Give the input room for the tail.
    Shape: ``(batch, channels, time) -> (batch, channels, time)``.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("rt60_s", "s", 0.1, 10.0, 1.5, scale="log", description="decay time (60 dB)"),
        ParamSpec("pre_delay_ms", "ms", 0.0, 200.0, 10.0, description="gap before the tail"),
        ParamSpec("high_rt60_ratio", "", 0.1, 1.5, 0.5, description="high-band decay / rt60"),
        ParamSpec("mix", "", 0.0, 1.0, 0.25, description="dry 0 .. wet 1"),
    )

    # the pre-delay shifts the IR by whole samples: no gradient reaches it
    nondifferentiable: ClassVar[tuple[str, ...]] = ("pre_delay_ms",)

    def __init__(
        self, sample_rate: float, max_seconds: float = 4.0, seed: int = 0, **values: float
    ) -> None:
        super().__init__(sample_rate, **values)
        if not max_seconds > 0:
            raise ValueError(f"expected max_seconds > 0, got {max_seconds!r}")
        self.max_seconds = float(max_seconds)
        self.seed = int(seed)

    def impulse_response(self) -> torch.Tensor:
        """The current IR, ``(L,)``."""
        return noise_reverb_ir(
            self.rt60_s,
            int(self.max_seconds * self.sample_rate),
            self.sample_rate,
            pre_delay_ms=float(self.pre_delay_ms.detach()),
            high_rt60_ratio=self.high_rt60_ratio,
            seed=self.seed,
        )[0]

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        ir = noise_reverb_ir(
            c["rt60_s"],
            int(self.max_seconds * self.sample_rate),
            self.sample_rate,
            pre_delay_ms=float(torch.as_tensor(c["pre_delay_ms"]).detach().reshape(-1)[0]),
            high_rt60_ratio=c["high_rt60_ratio"],
            seed=self.seed,
        ).to(x.dtype)
        if ir.shape[0] > 1:  # per-item decay times: one IR per batch item
            ir = ir[:, None, :]
        return convolution_reverb(check_audio(x), ir, mix=_per_item(c["mix"]))

    def options(self) -> dict[str, Any]:
        return {"max_seconds": self.max_seconds, "seed": self.seed}


class ConvolutionReverb(Processor):
    """Convolution with a learnable impulse response (initially a 1 s noise tail).

    Use :meth:`load` for a measured IR file. Shape: ``(batch, channels, time)`` in and out.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("mix", "", 0.0, 1.0, 0.25, description="dry 0 .. wet 1"),
    )

    def __init__(self, sample_rate: float, ir_seconds: float = 1.0, **values: float) -> None:
        super().__init__(sample_rate, **values)
        n = max(1, int(ir_seconds * sample_rate))
        self.ir = torch.nn.Parameter(noise_reverb_ir(ir_seconds / 1.5, n, sample_rate)[0])

    def load(self, path: str, channel: int = 0) -> ConvolutionReverb:
        """Replace the IR by a measured one (resampled to this sample rate)."""
        ir = load_impulse_response(path, self.sample_rate, channel=channel)[0]
        self.ir = torch.nn.Parameter(ir / ir.square().sum().sqrt().clamp_min(1e-12))
        return self

    def forward(self, x: torch.Tensor, **controls: Any) -> torch.Tensor:
        c = self.controls(**controls)
        return convolution_reverb(check_audio(x), self.ir.to(x.dtype), mix=_per_item(c["mix"]))

    def options(self) -> dict[str, Any]:
        return {"ir_seconds": self.ir.shape[0] / self.sample_rate}
