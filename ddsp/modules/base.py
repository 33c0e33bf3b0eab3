"""The processor base: an ``nn.Module`` whose parameters are described by ParamSpecs.

Two ways to drive a processor:

* its own learnable parameters, stored unconstrained and mapped through the spec
  (a sigmoid clipped to [0, 1], then ``to_physical``), so a value can never leave its
  range while it learns; set them in physical units (``proc.cutoff_hz = 800.0``);
* controls passed to ``forward`` in physical units (or to ``forward_normalized`` in
  [0, 1]), which override the parameter of the same name for that call.

Audio is ``(batch, channels, time)``. A control is a float, a ``(batch,)`` tensor (one
value per item) or a ``(batch, frames)`` tensor (time-varying; frames are spread over the
signal and interpolated by the functional op). Modules never store batch-sized data.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from ..params import ParamSpec

__all__ = ["Processor", "PROCESSORS", "check_audio"]

# name -> class, filled by Processor.__init_subclass__ (used by presets and chains)
PROCESSORS: dict[str, type[Processor]] = {}

_U_MARGIN = 1e-3  # stretch of the sigmoid past [0, 1], so the range ends have finite raw values
_RAW = "raw_"  # prefix of the unconstrained parameters behind each spec


def _normalized_from_raw(raw: torch.Tensor) -> torch.Tensor:
    # A sigmoid stretched slightly past [0, 1] and clipped: both ends of the range are
    # reachable (exactly) from finite raw values. The clip passes gradients straight
    # through, so a parameter sitting at a range end can still learn its way back.
    u = (1 + 2 * _U_MARGIN) * torch.sigmoid(raw) - _U_MARGIN
    return u + (u.clamp(0.0, 1.0) - u).detach()


def _raw_from_physical(spec: ParamSpec, value: Any, owner: str = "") -> torch.Tensor:
    """Unconstrained value whose ``spec.to_physical(_normalized_from_raw(raw))`` is ``value``.

    The range check and the map run in float64 on the value as given, so both ends of the
    range are accepted exactly (a float32 rounding of 0.99 lies above 0.99).
    """
    where = f"{owner}.{spec.name}" if owner else spec.name
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise TypeError(f"expected a number for {where}, got {value!r}")
    value = (
        value.detach().to(torch.float64)
        if isinstance(value, torch.Tensor)
        else torch.tensor(float(value), dtype=torch.float64)
    )
    if value.numel() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"expected a finite value for {where}, got {value.tolist()}")
    try:
        spec.check(value if value.ndim else float(value))
    except ValueError as e:
        raise ValueError(f"{owner + ': ' if owner else ''}{e}") from None
    u = spec.to_normalized(value).clamp(0.0, 1.0)
    raw = torch.logit((u + _U_MARGIN) / (1 + 2 * _U_MARGIN))
    return raw.to(torch.get_default_dtype())


def check_audio(x: Any, name: str = "x") -> torch.Tensor:
    """Check a module input: a float tensor ``(batch, channels, time)``."""
    from .._checks import check_signal

    x = check_signal(x, name)
    if x.ndim != 3:
        raise ValueError(
            f"expected {name} of shape (batch, channels, time), got shape {tuple(x.shape)}"
        )
    return x


class Processor(nn.Module):
    """Base class of every processor; subclasses list their ``specs`` and implement ``process``.

    Args:
        sample_rate: Hz.
        **values: initial parameter values in physical units, keyed by spec name;
            unspecified ones take the spec's default.
    """

    specs: ClassVar[tuple[ParamSpec, ...]] = ()
    # parameters documented as not differentiable (e.g. a delay in whole samples)
    nondifferentiable: ClassVar[tuple[str, ...]] = ()
    # streaming (see ddsp.streaming): a source renders from named inputs instead of audio;
    # ``stream_inputs`` names them, ``per_sample_inputs`` those given as (batch, n) per block
    is_source: ClassVar[bool] = False
    stream_inputs: ClassVar[tuple[str, ...]] = ()
    per_sample_inputs: ClassVar[tuple[str, ...]] = ()
    # inputs that are frames (one per frame_size samples) when a stream has a frame_size
    frame_inputs: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            PROCESSORS[cls.__name__] = cls

    def __init__(self, sample_rate: float, **values: float) -> None:
        super().__init__()
        if not (
            isinstance(sample_rate, (int, float))
            and not isinstance(sample_rate, bool)
            and math.isfinite(sample_rate)
            and sample_rate > 0
        ):
            raise ValueError(f"expected a positive sample_rate in Hz, got {sample_rate!r}")
        self.sample_rate = float(sample_rate)
        names = self.spec_names()
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} for {type(self).__name__}; "
                f"expected some of {list(names)}"
            )
        for spec in self.specs:
            raw = _raw_from_physical(spec, values.get(spec.name, spec.default), type(self).__name__)
            self.register_parameter(_RAW + spec.name, nn.Parameter(raw))

    # Each spec name reads as its physical value, mapped from the unconstrained parameter
    # ``raw_<name>`` (clipped sigmoid, then the spec's scale); assigning a physical value sets
    # the parameter: the value can never leave its range while it learns.
    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") and name in type(self).spec_names():
            raw = super().__getattr__(_RAW + name)
            return self.spec(name).to_physical(_normalized_from_raw(raw))
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and name in type(self).spec_names():
            raw = super().__getattr__(_RAW + name)
            with torch.no_grad():
                raw.copy_(_raw_from_physical(self.spec(name), value, type(self).__name__).to(raw))
            return
        super().__setattr__(name, value)

    @classmethod
    def spec_names(cls) -> tuple[str, ...]:
        return tuple(s.name for s in cls.specs)

    @classmethod
    def spec(cls, name: str) -> ParamSpec:
        for s in cls.specs:
            if s.name == name:
                return s
        raise KeyError(f"{cls.__name__} has no parameter {name!r}; it has {list(cls.spec_names())}")

    # ------------------------------------------------------------------ controls

    def controls(self, **overrides: Any) -> dict[str, Any]:
        """Physical values of every spec for one call: overrides, else the parameters.

        Tensor overrides ``(batch,)`` become per-item controls ``(batch, 1)`` and
        ``(batch, frames)`` become time-varying ``(batch, 1, frames)`` for
        ``(batch, channels, time)`` audio.
        """
        unknown = sorted(set(overrides) - set(self.spec_names()))
        if unknown:
            raise ValueError(
                f"unknown control(s) {unknown} for {type(self).__name__}; "
                f"expected some of {list(self.spec_names())}"
            )
        out: dict[str, Any] = {}
        for spec in self.specs:
            if spec.name not in overrides or overrides[spec.name] is None:
                out[spec.name] = getattr(self, spec.name)
                continue
            value = overrides[spec.name]
            spec.check(value)
            if isinstance(value, torch.Tensor):
                if value.ndim == 1:
                    value = value[:, None]
                elif value.ndim == 2:
                    value = value[:, None, :]
                elif value.ndim != 0:
                    raise ValueError(
                        f"expected control {spec.name} as a float, (batch,) or (batch, frames), "
                        f"got shape {tuple(value.shape)}"
                    )
            out[spec.name] = value
        return out

    # ------------------------------------------------------------------ streaming
    # A processor streams through three methods; ``ddsp.Stream`` owns the state and calls
    # them block by block. The state is a dict of tensors (and ints), never stored here.

    def stream_channels(self, channels: int) -> int:
        """Output channels for ``channels`` input channels (ValueError if it cannot take them)."""
        return channels

    def stream_latency(self, frame_size: int | None = None) -> int:
        """Samples by which the streamed output lags the offline output."""
        return 0

    def stream_tail(self) -> int:
        """Samples the output keeps sounding after the input falls silent."""
        return 0

    def stream_state(
        self,
        batch: int,
        channels: int,
        *,
        dtype: torch.dtype,
        device: torch.device,
        delay: int = 0,
        frame_size: int | None = None,
    ) -> dict[str, Any]:
        """The state of a silent stream. ``delay``: samples by which this processor's input
        lags the offline time origin (its clocks, e.g. an LFO's phase, start that far back)."""
        return {}

    def stream_step(
        self,
        x: torch.Tensor | None,
        state: dict[str, Any],
        controls: dict[str, Any],
        inputs: dict[str, Any],
        n: int,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Process one block of ``n`` samples from ``state``; return the output and the new
        state (``state`` itself is left unchanged). ``controls`` are physical values as
        :meth:`controls` gives them (``(batch, 1, n)`` when ramped per sample).

        Effects implement ``_run(x, controls, state) -> (y, state)``, shared with
        ``forward`` (``state=None``: offline, from silence); sources override this method.
        """
        run = getattr(self, "_run", None)
        if run is None or self.is_source:
            raise NotImplementedError(f"{type(self).__name__} has no streaming form")
        return run(x, controls, state)

    def forward_normalized(self, x: torch.Tensor, **normalized: Any) -> torch.Tensor:
        """Like ``forward`` with controls given in [0, 1] and mapped through the specs."""
        physical = {k: self.spec(k).to_physical(v) for k, v in normalized.items()}
        return self(x, **physical)

    # ------------------------------------------------------------------ options, repr

    def options(self) -> dict[str, Any]:
        """Construction options that are not parameters (``kind``, ``mode``, ...)."""
        return {}

    def preset_values(self) -> dict[str, float]:
        """Parameter values for a preset: physical units, read in float64 from the stored
        parameter, 9 significant digits (float32 round trip), clipped to the range."""
        out = {}
        for spec in self.specs:
            raw = super().__getattr__(_RAW + spec.name).detach().double()
            value = float(spec.to_physical(_normalized_from_raw(raw)))
            out[spec.name] = min(max(float(f"{value:.9g}"), spec.minimum), spec.maximum)
        return out

    def learned_tensors(self) -> dict[str, torch.Tensor]:
        """Parameters and buffers beyond the specs (an FDN's matrix, a learned IR), by name.

        Presets store these beside the TOML file (see :func:`ddsp.save_preset`).
        """
        out = {n: p for n, p in self.named_parameters() if not n.startswith(_RAW)}
        out.update(self.named_buffers())
        return out

    def load_learned_tensors(self, tensors: dict[str, Any], sample_rate: float) -> None:
        """Set :meth:`learned_tensors` from arrays saved at ``sample_rate`` (shapes checked).

        Raises ``ValueError`` naming the tensor for unknown or missing names and wrong shapes.
        """
        own = self.learned_tensors()
        unknown, missing = sorted(set(tensors) - set(own)), sorted(set(own) - set(tensors))
        if unknown or missing:
            raise ValueError(
                f"{type(self).__name__}: expected tensors {sorted(own)}, got unknown {unknown} "
                f"and missing {missing}"
            )
        with torch.no_grad():
            for name, value in tensors.items():
                value = torch.as_tensor(value)
                if value.shape != own[name].shape:
                    raise ValueError(
                        f"{type(self).__name__}.{name}: expected shape {tuple(own[name].shape)}, "
                        f"got {tuple(value.shape)} (saved at {sample_rate:g} Hz)"
                    )
                own[name].copy_(value.to(own[name]))

    def parameter_values(self) -> dict[str, float]:
        """Current parameter values in physical units, to 6 significant digits."""
        return {s.name: float(f"{float(getattr(self, s.name).detach()):.6g}") for s in self.specs}

    def extra_repr(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self.options().items()]
        parts.append(f"sample_rate={self.sample_rate:g}")
        for spec in self.specs:
            unit = f" {spec.unit}" if spec.unit else ""
            parts.append(f"{spec.name}={float(getattr(self, spec.name).detach()):.4g}{unit}")
        return ", ".join(parts)
