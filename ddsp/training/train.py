"""Training of the DDSP autoencoder (``ddsp train DATA_DIR --out RUN_DIR``).

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
loss curve matches an uninterrupted run step for step (on the CPU, fixed seed). A folder
that already holds a run is refused without ``--resume`` or ``--overwrite``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import CheckpointError, ConfigError, DdspError, Interrupted
from ..evaluation import spectrogram_png
from ..io import atomic_path, write_audio
from ..losses import MultiResolutionSTFTLoss
from ..progress import Progress
from .checkpoints import (
    latest_checkpoint,
    load_checkpoint,
    model_config,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .config import Config
from .data import Examples, load_examples
from .model import Autoencoder

__all__ = ["train", "prepare_run_folder", "RUN_ENTRIES"]

# what a run folder holds; --overwrite removes these and nothing else
RUN_ENTRIES = ("config.toml", "metrics.csv", "val", "checkpoints", "ddp_check.json")


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


# --------------------------------------------------------------------------- training


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device = {name!r}, but torch sees no CUDA GPU here")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"train.device = {name!r}, but torch sees {torch.cuda.device_count()} GPU(s)"
            )
    return torch.device(name)


def prepare_run_folder(run: Path, *, resume: bool, overwrite: bool, clear: bool = True) -> None:
    """Check (and with ``overwrite`` and ``clear``, clear) the run folder before any work.

    A folder that already holds something is refused unless ``resume`` (continue the run
    there) or ``overwrite`` (remove the previous run's files; anything else in the folder
    makes it refuse rather than delete files it did not write). ``clear=False`` checks
    only, so that nothing is deleted before the data and the model are known to be usable.
    """
    run = Path(run)
    if run.exists() and not run.is_dir():
        raise DdspError(f"--out {run} is a file, not a run folder")
    if resume:
        if overwrite:
            raise DdspError("--resume and --overwrite contradict each other: choose one")
        if latest_checkpoint(run) is None:  # before any data is read
            raise CheckpointError(f"--resume: no checkpoint in {run / 'checkpoints'}")
        return
    entries = sorted(p.name for p in run.iterdir()) if run.exists() else []
    if not entries:
        return
    if not overwrite:
        raise DdspError(
            f"{run} already holds a run ({', '.join(entries[:5])}): continue it with --resume, "
            "replace it with --overwrite, or choose another --out folder"
        )
    foreign = [e for e in entries if e not in RUN_ENTRIES]
    if foreign:
        raise DdspError(
            f"--overwrite: {run} holds files that are not a run's ({', '.join(foreign[:5])}); "
            "refusing to delete them: choose an empty or new --out folder"
        )
    if not clear:
        return
    for e in entries:
        path = run / e
        shutil.rmtree(path) if path.is_dir() else path.unlink()


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
    data_dir: Path,
    run: Path,
    cfg: Config,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Train; returns a summary (steps, last and best validation loss, throughput).

    Raises ``DdspError`` subclasses for unusable data, run folders and checkpoints, and
    :class:`~ddsp.errors.Interrupted` on Ctrl-C (saying what was saved and how to resume).
    """
    run = Path(run)
    cfg = Config.from_dict(cfg.as_dict(), where="config")  # every value checked, however built
    device = _device(cfg.train.device)
    d = _init_distributed(device)
    if d.main:
        prepare_run_folder(run, resume=resume, overwrite=overwrite, clear=False)
    ex = load_examples(data_dir)
    train_idx, val_idx = _split(ex.audio.shape[0])
    if not train_idx:
        raise DdspError(f"{data_dir} holds too few examples to train on")
    torch.manual_seed(cfg.train.seed + d.rank)
    random.seed(cfg.train.seed + d.rank)
    model = Autoencoder(cfg.model, ex.sample_rate, ex.frame_rate).to(device)
    if d.main and overwrite:  # the data and the model are usable: now the old run may go
        prepare_run_folder(run, resume=resume, overwrite=overwrite)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    gamma = cfg.train.lr_decay ** (1 / max(1, cfg.train.lr_decay_steps))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
    order = Order(len(train_idx), cfg.train.batch_size, cfg.train.seed, d)
    step, best = 0, math.inf
    if resume:
        ck = latest_checkpoint(run)
        if ck is None:
            raise CheckpointError(f"--resume: no checkpoint in {run / 'checkpoints'}")
        state = load_checkpoint(ck)
        saved = model_config(state, str(ck))
        if saved != cfg.model:
            diff = {
                k: (getattr(saved, k), getattr(cfg.model, k))
                for k in vars(saved)
                if getattr(saved, k) != getattr(cfg.model, k)
            }
            changes = ", ".join(f"model.{k}: {a} -> {b}" for k, (a, b) in diff.items())
            raise CheckpointError(
                f"--resume: the checkpoint's model differs from the config ({changes}); "
                "resume without changing [model], or start a new run"
            )
        if (state["sample_rate"], state["frame_rate"]) != (ex.sample_rate, ex.frame_rate):
            raise CheckpointError(
                f"--resume: the run was trained at {state['sample_rate']} Hz and "
                f"{state['frame_rate']} frames/s, {data_dir} holds {ex.sample_rate} Hz and "
                f"{ex.frame_rate} frames/s"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, best = int(state["step"]), float(state["best"])
        order.epoch, order.pos = (int(v) for v in state["order"])
        rngs = state["rng"]
        set_rng_state(rngs[d.rank] if d.rank < len(rngs) else rngs[0])
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
    start = time.perf_counter()
    seen, val_loss, saved_step = 0, None, step
    bar = Progress(cfg.train.steps, "train", enabled=progress and d.main)
    bar.update(step)
    try:
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
            rate = seen / max(time.perf_counter() - start, 1e-9)
            last = step == cfg.train.steps
            validate = bool(val_idx) and (step % cfg.train.val_every == 0 or last)
            if validate:
                val_loss = _validate(model, ex, val_idx, loss_fn, device, run, step, d)
            if validate or last or step % cfg.train.log_every == 0:
                # the loss reaches the host only here: no device-to-host sync on other steps
                row = {"step": step, "loss": float(loss.detach()), "lr": sched.get_last_lr()[0],
                       "examples_per_s": rate, "realtime_x": rate * audio.shape[1] / ex.sample_rate,
                       "val_loss": val_loss if validate else ""}  # fmt: skip
                log.write(row)
                bar.update(0, loss=row["loss"])
            bar.update()
            if step % cfg.train.checkpoint_every == 0 or last:
                improved = val_loss is not None and val_loss < best
                best = min(best, val_loss) if val_loss is not None else best
                _checkpoint(run, model, opt, sched, step, best, order, cfg, ex, d, improved)
                saved_step = step
    except KeyboardInterrupt:
        bar.close()
        where = f"step {saved_step}" if saved_step else "no checkpoint yet"
        raise Interrupted(
            f"interrupted at step {step}; saved: {where} in {run / 'checkpoints'}; continue "
            f"with: ddsp train {data_dir} --out {run} --resume"
        ) from None
    if step and step % cfg.train.checkpoint_every and step != cfg.train.steps:
        # stopped by the time limit between checkpoints: validate and keep this state too
        if val_idx:
            val_loss = _validate(model, ex, val_idx, loss_fn, device, run, step, d)
        improved = val_loss is not None and val_loss < best
        best = min(best, val_loss) if val_loss is not None else best
        _checkpoint(run, model, opt, sched, step, best, order, cfg, ex, d, improved)
    bar.close()
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
    rng = [rng_state()]
    if d.world > 1:
        import torch.distributed as dist

        rng = [None] * d.world
        dist.all_gather_object(rng, rng_state())
    if not d.main:
        return
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "step": step,
        "best": best,
        "order": [order.epoch, order.pos],
        "rng": rng,
        "config": cfg.as_dict(),
        "sample_rate": ex.sample_rate,
        "frame_rate": ex.frame_rate,
        "statistics": ex.statistics,
    }
    folder = run / "checkpoints"
    save_checkpoint(folder / f"step_{step:08d}.pt", state)
    for old in sorted(folder.glob("step_*.pt"))[: -cfg.train.keep]:
        old.unlink(missing_ok=True)
    if improved or not (folder / "best.pt").exists():
        save_checkpoint(folder / "best.pt", state)


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
        ck = latest_checkpoint(self.path.parent)
        if ck is None or not self.path.exists():
            return
        step = int(ck.stem.split("_")[1])
        with open(self.path, newline="") as f:
            rows = list(csv.reader(f))
        keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(keep)

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([row[k] for k in self.FIELDS])
