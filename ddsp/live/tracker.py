"""The streaming pitch tracker with its state in buffers (what an exported model needs).

:class:`ddsp.features.PitchTracker` keeps no state: it takes and returns a dict. Here that
dict lives in registered buffers, so TorchScript and ``torch.export`` carry it between
calls, and every call returns a fixed number of frame slots with the count of decided
ones (the rest padding), so the shapes do not depend on the data.
"""

import torch
from torch import Tensor, nn

__all__ = ["TrackerBlock"]

_KEYS = ("buffer", "n_samples", "n_frames", "delta", "q", "paths_f", "paths_v", "past", "last_f0")


class TrackerBlock(nn.Module):
    """``forward(x (B, n), count_in (1,)) -> (f0_hz (B, S), confidence (B, S), count
    (1,))``: the frames the block decided, in ``S = n // hop + 1`` slots of which the first
    ``count`` are real.

    Attributes: ``hop``, ``latency_samples``, ``centre_delay`` (see
    :class:`~ddsp.features.PitchTracker`), ``gate`` (the confidence threshold).
    """

    def __init__(self, tracker: nn.Module) -> None:
        super().__init__()
        self.tracker = tracker
        self.hop = int(tracker.hop)
        self.latency_samples = int(tracker.latency_samples)
        self.centre_delay = int(tracker.centre_delay)
        self.gate = float(tracker.gate)
        state = tracker.initial_state(1)
        if tuple(state) != _KEYS:  # the buffers below name each key
            raise RuntimeError(f"PitchTracker state keys changed: {tuple(state)} != {_KEYS}")
        for key, value in state.items():
            self.register_buffer("s_" + key, value)

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        state = self.tracker.initial_state(batch)
        self.s_buffer = state["buffer"]
        self.s_n_samples = state["n_samples"]
        self.s_n_frames = state["n_frames"]
        self.s_delta = state["delta"]
        self.s_q = state["q"]
        self.s_paths_f = state["paths_f"]
        self.s_paths_v = state["paths_v"]
        self.s_past = state["past"]
        self.s_last_f0 = state["last_f0"]

    def forward(self, x: Tensor, count_in: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``count_in`` (1,) int64: the real samples at the front of ``x`` (the rest
        padding)."""
        state = {
            "buffer": self.s_buffer,
            "n_samples": self.s_n_samples,
            "n_frames": self.s_n_frames,
            "delta": self.s_delta,
            "q": self.s_q,
            "paths_f": self.s_paths_f,
            "paths_v": self.s_paths_v,
            "past": self.s_past,
            "last_f0": self.s_last_f0,
        }
        hz, conf, count, new = self.tracker.slots(x, state, count_in)
        self.s_buffer.copy_(new["buffer"])
        self.s_n_samples.copy_(new["n_samples"])
        self.s_n_frames.copy_(new["n_frames"])
        self.s_delta.copy_(new["delta"])
        self.s_q.copy_(new["q"])
        self.s_paths_f.copy_(new["paths_f"])
        self.s_paths_v.copy_(new["paths_v"])
        self.s_past.copy_(new["past"])
        self.s_last_f0.copy_(new["last_f0"])
        return hz, conf, count
