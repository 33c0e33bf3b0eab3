"""``ddsp train DATA_DIR --out RUN_DIR``: train the DDSP autoencoder.

Single process, or ``torchrun --nproc_per_node N -m ddsp.cli train ...`` for
DistributedDataParallel (gloo on CPU, nccl on GPU); each rank reads its own shard of
every epoch's examples, rank 0 writes logs and checkpoints. Config: a TOML file
(``--config``) with ``[model]`` and ``[train]`` tables, and ``--set table.key=value``
overrides; unknown keys are errors.

RUN_DIR receives ``config.toml``, ``metrics.csv`` (step, loss, learning rate, examples
per second, real-time factor, validation loss), ``val/`` (validation audio and
spectrograms), and ``checkpoints/`` (``step_XXXXXXXX.pt``, the last ``keep`` of them, and
``best.pt``), each written atomically. ``--resume`` continues from the newest checkpoint
exactly: model, optimiser, schedule, data order and random states are restored, so the
loss curve matches an uninterrupted run step for step (on the CPU, fixed seed).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import tomllib
import torch

from ..io import CommandError, atomic_path, write_audio
from ..losses import MultiResolutionSTFTLoss
from .data import Examples, load_examples
from .model import Autoencoder, ModelConfig

__all__ = ["TrainConfig", "Config", "load_config", "train", "main", "load_run"]


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


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_toml(self) -> str:
        lines = []
        for table in ("model", "train"):
            lines.append(f"[{table}]")
            for k, v in dataclasses.asdict(getattr(self, table)).items():
                lines.append(f"{k} = {json.dumps(v)}")
            lines.append("")
        return "\n".join(lines)


def _set(obj: object, table: str, key: str, value: object) -> None:
    names = {f.name: f for f in dataclasses.fields(obj)}
    if key not in names:
        raise CommandError(f"unknown config key {table}.{key}; expected one of {sorted(names)}")
    current = getattr(obj, key)
    try:
        value = type(current)(value) if not isinstance(current, bool) else bool(value)
    except (TypeError, ValueError):
        raise CommandError(
            f"{table}.{key}: expected a {type(current).__name__}, got {value!r}"
        ) from None
    setattr(obj, key, value)


def load_config(path: Path | None, overrides: list[str]) -> Config:
    """Defaults, then the TOML file, then ``table.key=value`` overrides."""
    cfg = Config()
    data: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise CommandError(f"cannot read config {path}: {e}") from None
    for table, values in data.items():
        if table not in ("model", "train") or not isinstance(values, dict):
            raise CommandError(f"unknown config table [{table}]; expected [model] and [train]")
        for k, v in values.items():
            _set(getattr(cfg, table), table, k, v)
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise CommandError(f"expected --set table.key=value, got {item!r}")
        dotted, raw = item.split("=", 1)
        table, key = dotted.split(".", 1)
        if table not in ("model", "train"):
            raise CommandError(f"unknown config table {table!r} in --set {item!r}")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        _set(getattr(cfg, table), table, key, value)
    return cfg


# --------------------------------------------------------------------------- distributed


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size())


# --------------------------------------------------------------------------- data order


class Order:
    """Epoch permutations from the seed; this rank's share of each; resumable position."""

    def __init__(self, n: int, batch: int, seed: int, d: Dist) -> None:
        self.n, self.batch, self.seed, self.d = n, batch, seed, d
        self.epoch, self.pos = 0, 0

    def _indices(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        perm = torch.randperm(self.n, generator=g).tolist()
        per_rank = max(1, self.n // self.d.world)
        return perm[self.d.rank * per_rank : (self.d.rank + 1) * per_rank]

    def next(self) -> list[int]:
        idx = self._indices()
        if self.pos + self.batch > len(idx):
            self.epoch, self.pos = self.epoch + 1, 0
            idx = self._indices()
        out = [idx[(self.pos + i) % len(idx)] for i in range(self.batch)]
        self.pos += self.batch
        return out


# --------------------------------------------------------------------------- checkpoints


def _rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
    }


def _set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    random.setstate(s["python"])


def _save(path: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def _load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many types for a damaged file
        raise CommandError(f"cannot read checkpoint {path}: {e}") from None


def _latest(run: Path) -> Path | None:
    found = sorted((run / "checkpoints").glob("step_*.pt"))
    return found[-1] if found else None


# --------------------------------------------------------------------------- training


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _split(n: int) -> tuple[list[int], list[int]]:
    val = [i for i in range(n) if i % 20 == 10] if n >= 2 else []
    if n >= 2 and not val:
        val = [n - 1]
    train_idx = [i for i in range(n) if i not in set(val)]
    return train_idx, val


def _batch(ex: Examples, idx: list[int], device: torch.device) -> tuple[torch.Tensor, ...]:
    t = lambda a: torch.from_numpy(a[idx]).to(device)  # noqa: E731
    return t(ex.audio), t(ex.f0_hz), t(ex.loudness_db)


def _param_digest(model: torch.nn.Module) -> str:
    h = hashlib.sha1()
    for p in model.parameters():
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def train(
    data_dir: Path, run: Path, cfg: Config, *, resume: bool = False, progress: bool = True
) -> dict:
    """Train; returns a summary (steps, last and best validation loss, throughput)."""
    device = _device(cfg.train.device)
    d = _init_distributed(device)
    ex = load_examples(data_dir)
    train_idx, val_idx = _split(ex.audio.shape[0])
    if not train_idx:
        raise CommandError(f"{data_dir} holds too few examples to train on")
    torch.manual_seed(cfg.train.seed + d.rank)
    random.seed(cfg.train.seed + d.rank)
    model = Autoencoder(cfg.model, ex.sample_rate, ex.frame_rate).to(device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    gamma = cfg.train.lr_decay ** (1 / max(1, cfg.train.lr_decay_steps))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
    order = Order(len(train_idx), cfg.train.batch_size, cfg.train.seed, d)
    step, best = 0, math.inf
    if resume:
        ck = _latest(run)
        if ck is None:
            raise CommandError(f"--resume: no checkpoint in {run / 'checkpoints'}")
        state = _load_checkpoint(ck)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, best = state["step"], state["best"]
        order.epoch, order.pos = state["order"]
        _set_rng_state(state["rng"][d.rank] if d.rank < len(state["rng"]) else state["rng"][0])
    elif d.main:
        run.mkdir(parents=True, exist_ok=True)
        with atomic_path(run / "config.toml") as tmp:
            tmp.write_text(cfg.to_toml())
    net: torch.nn.Module = model
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model)
    loss_fn = MultiResolutionSTFTLoss()
    log = _Log(run / "metrics.csv", d.main, append=resume)
    start = last_shown = time.perf_counter()
    seen, val_loss = 0, None
    while step < cfg.train.steps:
        if cfg.train.max_minutes and time.perf_counter() - start > 60 * cfg.train.max_minutes:
            break
        audio, f0_hz, loud = _batch(ex, [train_idx[i] for i in order.next()], device)
        opt.zero_grad()
        pred = net(f0_hz, loud, audio)
        loss = loss_fn(pred, audio)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        opt.step()
        sched.step()
        step += 1
        seen += audio.shape[0] * d.world
        elapsed = time.perf_counter() - start
        rate = seen / max(elapsed, 1e-9)
        rtf = rate * audio.shape[1] / ex.sample_rate
        last = step == cfg.train.steps
        validate = bool(val_idx) and (step % cfg.train.val_every == 0 or last)
        if validate:
            val_loss = _validate(model, ex, val_idx, loss_fn, device, run, step, d)
        show = progress and d.main and (time.perf_counter() - last_shown > 1 or last)
        if validate or show or last or step % cfg.train.log_every == 0:
            # the loss reaches the host only here: no device-to-host sync on other steps
            row = {"step": step, "loss": float(loss.detach()), "lr": sched.get_last_lr()[0],
                   "examples_per_s": rate, "realtime_x": rtf,
                   "val_loss": val_loss if validate else ""}  # fmt: skip
            if validate or last or step % cfg.train.log_every == 0:
                log.write(row)
            if show:
                last_shown = time.perf_counter()
                line = f"step {step}/{cfg.train.steps} loss {row['loss']:.3f}"
                print(f"\r{line} {rate:.1f} ex/s ({rtf:.1f}x real time)", end="", file=sys.stderr)
        if step % cfg.train.checkpoint_every == 0 or last:
            improved = val_loss is not None and val_loss < best
            best = min(best, val_loss) if val_loss is not None else best
            _checkpoint(run, model, opt, sched, step, best, order, cfg, ex, d, improved)
    if step and step % cfg.train.checkpoint_every and step != cfg.train.steps:
        # stopped by the time limit between checkpoints: validate and keep this state too
        if val_idx:
            val_loss = _validate(model, ex, val_idx, loss_fn, device, run, step, d)
        improved = val_loss is not None and val_loss < best
        best = min(best, val_loss) if val_loss is not None else best
        _checkpoint(run, model, opt, sched, step, best, order, cfg, ex, d, improved)
    if progress and d.main:
        print(file=sys.stderr)
    summary = {"steps": step, "val_loss": val_loss, "best_val_loss": best,
               "examples_per_s": seen / max(time.perf_counter() - start, 1e-9),
               "seconds": time.perf_counter() - start, "world_size": d.world}  # fmt: skip
    if d.world > 1:
        import torch.distributed as dist

        digests: list = [None] * d.world
        dist.all_gather_object(digests, _param_digest(model))
        summary["rank_weight_digests"] = digests
        if d.main:
            with atomic_path(run / "ddp_check.json") as tmp:
                tmp.write_text(json.dumps(digests))
        dist.barrier()
    return summary


def _checkpoint(run, model, opt, sched, step, best, order, cfg, ex, d, improved) -> None:
    rng = [_rng_state()]
    if d.world > 1:
        import torch.distributed as dist

        rng = [None] * d.world
        dist.all_gather_object(rng, _rng_state())
    if not d.main:
        return
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "step": step,
        "best": best,
        "order": (order.epoch, order.pos),
        "rng": rng,
        "config": dataclasses.asdict(cfg),
        "sample_rate": ex.sample_rate,
        "frame_rate": ex.frame_rate,
        "statistics": ex.statistics,
    }
    _save(run / "checkpoints" / f"step_{step:08d}.pt", state)
    for old in sorted((run / "checkpoints").glob("step_*.pt"))[: -cfg.train.keep]:
        old.unlink(missing_ok=True)
    if improved or not (run / "checkpoints" / "best.pt").exists():
        _save(run / "checkpoints" / "best.pt", state)


@torch.no_grad()
def _validate(model, ex, val_idx, loss_fn, device, run, step, d) -> float:
    model.eval()
    rng = torch.get_rng_state()
    torch.manual_seed(12345)  # the same noise every validation, and training's RNG untouched
    losses = []
    for i in range(0, len(val_idx), 8):
        audio, f0_hz, loud = _batch(ex, val_idx[i : i + 8], device)
        pred = model(f0_hz, loud, audio)
        losses.append(float(loss_fn(pred, audio)) * audio.shape[0])
        if i == 0 and d.main:
            out = run / "val"
            write_audio(out / f"step_{step:08d}.wav", pred[:1].cpu().numpy(), ex.sample_rate,
                        "PCM_16")  # fmt: skip
            from ..resynth import spectrogram_png

            spectrogram_png(out / f"step_{step:08d}.png", audio[0].cpu().numpy(),
                            pred[0].cpu().numpy(), ex.sample_rate)  # fmt: skip
    torch.set_rng_state(rng)
    model.train()
    return sum(losses) / len(val_idx)


class _Log:
    FIELDS = ["step", "loss", "lr", "examples_per_s", "realtime_x", "val_loss"]

    def __init__(self, path: Path, enabled: bool, append: bool) -> None:
        self.path, self.enabled = path, enabled
        if enabled and not append:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", newline="") as f:
                csv.writer(f).writerow(self.FIELDS)
        if enabled and append:
            self._truncate_after_checkpoint()

    def _truncate_after_checkpoint(self) -> None:
        # rows logged after the checkpoint we resume from are replayed: drop them
        ck = _latest(self.path.parent)
        if ck is None or not self.path.exists():
            return
        step = int(ck.stem.split("_")[1])
        rows = list(csv.reader(open(self.path, newline="")))
        keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(keep)

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([row[k] for k in self.FIELDS])


def load_run(run: Path, which: str = "best") -> tuple[Autoencoder, dict]:
    """The trained model of a run folder and its checkpoint data (statistics, rates)."""
    path = run / "checkpoints" / f"{which}.pt"
    if not path.exists():
        path = _latest(run) or path
    if not path.exists():
        raise CommandError(f"{run} has no checkpoint (expected {path})")
    state = _load_checkpoint(path)
    try:
        mcfg = ModelConfig(**state["config"]["model"])
        model = Autoencoder(mcfg, state["sample_rate"], state["frame_rate"])
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise CommandError(
            f"checkpoint {path} does not hold a model of this version: {e}"
        ) from None
    model.eval()
    return model, state


def main(argv: list[str] | None = None) -> int:
    """``ddsp train``."""
    p = argparse.ArgumentParser(prog="ddsp train", description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="a folder written by ddsp prepare")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--config", type=Path, help="TOML with [model] and [train] tables")
    p.add_argument("--set", action="append", default=[], help="table.key=value override")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = load_config(args.config, args.set)
        if args.resume and args.config is None and (args.out / "config.toml").exists():
            cfg = load_config(args.out / "config.toml", args.set)
        summary = train(args.data, args.out, cfg, resume=args.resume)
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=1, default=str))
    return 0
