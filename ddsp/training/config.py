"""Training configuration: ``[model]`` and ``[train]`` tables, validated on every path in.

Defaults, then a TOML file, then ``--set table.key=value`` overrides. Every value is
checked the same way wherever it comes from: the key must exist, the type must match
exactly (an integer where a whole number is meant: ``7.9`` and ``true`` are refused, not
truncated), and numbers must be finite and in range. Messages name the key, the
expected range and the value.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from ..errors import ConfigError
from .model import ModelConfig

__all__ = ["TrainConfig", "Config", "load_config", "MODEL_RANGES", "TRAIN_RANGES"]


@dataclass
class TrainConfig:
    steps: int = 30_000
    batch_size: int = 8
    lr: float = 1e-3
    lr_decay: float = 0.98  # multiplied every lr_decay_steps (DDSP's schedule)
    lr_decay_steps: int = 10_000
    grad_clip: float = 3.0
    seed: int = 0
    log_every: int = 10
    val_every: int = 500
    checkpoint_every: int = 500
    keep: int = 3
    max_minutes: float = 0.0  # 0: no time limit
    device: str = "auto"


# (low, high, low open?) per numeric key; None: unbounded on that side
MODEL_RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "hidden": (1, 8192, False),
    "gru": (1, 8192, False),
    "layers": (1, 16, False),
    "n_harmonics": (1, 512, False),
    "n_bands": (2, 1025, False),
    "reverb_seconds": (0.0, 10.0, True),
    "z_dim": (0, 512, False),
    "n_mfcc": (1, 128, False),
}
TRAIN_RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "steps": (1, None, False),
    "batch_size": (1, 4096, False),
    "lr": (0.0, 10.0, True),
    "lr_decay": (0.0, 1.0, True),
    "lr_decay_steps": (1, None, False),
    "grad_clip": (0.0, None, True),
    "seed": (0, 2**31 - 1, False),
    "log_every": (1, None, False),
    "val_every": (1, None, False),
    "checkpoint_every": (1, None, False),
    "keep": (1, 1000, False),
    "max_minutes": (0.0, None, False),
}
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.as_dict())

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {"model": dataclasses.asdict(self.model), "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> Config:
        cfg = cls()
        for table, values in data.items():
            _table(cfg, table, where)
            if not isinstance(values, dict):
                raise ConfigError(f"{where}: expected [{table}] to be a table")
            for key, value in values.items():
                set_value(cfg, table, key, value, where)
        return cfg


def _table(cfg: Config, table: str, where: str) -> Any:
    if table not in ("model", "train"):
        raise ConfigError(f"{where}: unknown config table [{table}]; expected [model] and [train]")
    return getattr(cfg, table)


def set_value(cfg: Config, table: str, key: str, value: Any, where: str = "config") -> None:
    """Set ``table.key`` to ``value`` after checking name, type and range."""
    obj = _table(cfg, table, where)
    kinds = {f.name: f.type for f in dataclasses.fields(obj)}
    if key not in kinds:
        raise ConfigError(
            f"{where}: unknown config key {table}.{key}; expected one of {sorted(kinds)}"
        )
    current = getattr(obj, key)
    name = f"{table}.{key}"
    ranges = MODEL_RANGES if table == "model" else TRAIN_RANGES
    span = ""
    if key in ranges:
        low, high, open_low = ranges[key]
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        span = f" in {'(' if open_low else '['}{lo}, {hi}]"
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false for {name}, got {value!r}")
    elif isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected {name} as a whole number{span}, got {value!r}")
    elif isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected {name} as a number{span}, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: expected {name} as a finite number{span}, got {value!r}")
    elif isinstance(current, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string for {name}, got {value!r}")
    if key in ranges:
        low, high, open_low = ranges[key]
        ok = (low is None or (value > low if open_low else value >= low)) and (
            high is None or value <= high
        )
        if not ok:
            raise ConfigError(f"{where}: expected {name}{span}, got {value!r}")
    if table == "train" and key == "device" and not _DEVICE.match(value):
        raise ConfigError(
            f"{where}: expected train.device 'auto', 'cpu', 'cuda' or 'cuda:N', got {value!r}"
        )
    setattr(obj, key, value)


def load_config(path: Path | None, overrides: list[str]) -> Config:
    """Defaults, then the TOML file at ``path``, then ``table.key=value`` overrides."""
    cfg = Config()
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read config {path}: {e}") from None
        cfg = Config.from_dict(data, where=str(path))
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"expected --set table.key=value, got {item!r}")
        dotted, raw = item.split("=", 1)
        table, key = dotted.split(".", 1)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw  # a bare word: a string such as cpu
        set_value(cfg, table, key, value, where=f"--set {item}")
    return cfg
