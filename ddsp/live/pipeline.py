"""The live timbre-transfer pipeline: audio in, the trained instrument out, block by block.

    input -> mono -> PitchTracker (f0, confidence)  --+
                  -> loudness per frame (A-weighted) -+-> gate -> decoder (GRU state) ->
    harmonic + filtered noise (LiveSynth) -> reverb (partitioned convolution) -> output

The synthesis runs at the host's sample rate (the model's own rate only shapes its masks,
see :mod:`ddsp.live.synth`) on frames of ``hop = round(sample_rate / frame_rate)``
samples. The analysis runs on the input decimated to the rate nearest the model's
(:mod:`ddsp.live.decimate`; 48 kHz: 16 kHz, as the model's training features were
computed): frame ``j`` is decided once the decimator's and the tracker's lookahead past
input sample ``j * hop`` have arrived, and plays one hop later. Its pitch, though, comes
from before ``j * hop``: YIN's window and lags sit as far back as the tracker's 32 ms
window lookahead requires, so the frame stands for input sample ``j * hop - centre``
(``centre``: the tracker's ``centre_delay``, 61 analysis samples, 183 at 48 kHz). Its
loudness is measured there too (a Hann window twice the tracker's lookahead, centred on
that sample). The output therefore lags the input by the lookaheads, one hop and the
centre: that is ``latency``, what the file declares (2715 samples at 48 kHz;
``benchmarks/live_eval.py`` measures pitch steps of the input in the output; the centre
moves with the input's period, see :class:`~ddsp.features.PitchTracker`). The gate: a
frame is played only where the tracker's confidence reaches its gate and the loudness is
above ``gate_db``; elsewhere the amplitude and the noise are zero, so silence, breath and
background noise make no sound.

Input samples that are NaN or infinite are read as silence (a host's stream must not
stop the plugin).

Knobs (``inputs``, ``(1, 1)``): ``pitch_shift_st`` (semitones), ``loudness_offset_db``,
``balance`` (0: harmonic only, 0.5: both at full level, 1: noise only) and ``mix`` (the
reverb's wet level).
"""

import torch
from torch import Tensor, nn

from ..export.blocks.base import Block, constant, param
from ..features.loudness import a_weighting_db
from ..params import ParamSpec
from .decimate import Decimator
from .decoder import DecoderStep
from .synth import LiveSynth

__all__ = ["LivePipeline", "KNOBS", "GATE_DB"]

GATE_DB = -60.0  # loudness below which a frame is silent, dB (A-weighted)

KNOBS = (
    ParamSpec("pitch_shift_st", "st", -24.0, 24.0, 0.0, description="pitch shift"),
    ParamSpec("loudness_offset_db", "dB", -24.0, 24.0, 0.0, description="loudness offset"),
    ParamSpec("balance", "", 0.0, 1.0, 0.5, description="harmonic 0 .. noise 1"),
    ParamSpec("mix", "", 0.0, 1.0, 0.5, description="reverb wet level"),
)


class LivePipeline(Block):
    """See the module docstring. ``forward(x (B, C, n), inputs) -> (B, 1, n)``.

    Args:
        decoder: :class:`DecoderStep` of the trained model.
        tracker: a :class:`~ddsp.live.tracker.TrackerBlock` at the analysis rate
            (``sample_rate / decimator.factor``) and the model's frame rate.
        decimator: the :class:`~ddsp.live.decimate.Decimator` in front of the analysis.
        reverb: the reverb's block (or None), mono.
        sample_rate, model_rate: host and model Hz. n_harmonics, n_bands: model sizes.
        max_block: blocks longer than this are processed in pieces.
        defaults: export-time knob values (physical), by name.
    """

    def __init__(
        self,
        decoder: DecoderStep,
        tracker: nn.Module,
        decimator: Decimator,
        reverb: Block | None,
        *,
        sample_rate: float,
        model_rate: float,
        in_channels: int,
        max_block: int,
        defaults: dict[str, float],
        gate_db: float = GATE_DB,
    ) -> None:
        factor = int(decimator.factor)
        self.hop = int(tracker.hop) * factor  # host samples per frame
        self.hop_a = int(tracker.hop)  # analysis samples per frame
        lookahead = int(tracker.latency_samples) * factor + int(decimator.lookahead)
        self.centre = int(tracker.centre_delay)  # analysis samples (see the docstring)
        # frame j plays one hop after it is decided; it stands for input sample
        # j * hop - centre * factor, so that is how far the output lags the input
        delay = lookahead + self.hop
        latency = delay + self.centre * factor
        super().__init__("LivePipeline", in_channels, 1, latency)
        self.decoder = decoder
        self.tracker = tracker
        self.decimator = decimator
        self.has_reverb = reverb is not None
        self.reverb = nn.ModuleList([] if reverb is None else [reverb])
        self.sample_rate = float(sample_rate)
        self.max_block = int(max_block)
        self.gate = float(tracker.gate)
        self.gate_db = float(gate_db)
        self.lookahead = int(tracker.latency_samples)  # analysis samples
        rate_a = float(sample_rate) / factor
        self.synth = LiveSynth(
            sample_rate=sample_rate,
            model_rate=model_rate,
            hop=self.hop,
            n_harmonics=decoder.n_harmonics,
            n_bands=decoder.n_bands,
            delay=delay,
            max_block=max_block,
        )
        # loudness: Hann window of 2 * lookahead samples centred where the frame's pitch
        # is (the frame's centre less the tracker's centre delay)
        self.n_fft = max(16, 2 * self.lookahead)
        window = torch.hann_window(self.n_fft, periodic=True, dtype=torch.float64)
        freqs = torch.fft.rfftfreq(self.n_fft, 1.0 / rate_a).double()
        weight = 10 ** (a_weighting_db(freqs) / 10)
        weight[1:-1] *= 2
        weight = weight / (self.n_fft * float(window.square().sum()))
        self.register_buffer("window", window.float())
        self.register_buffer("weight", weight.float())
        self.keep = self.n_fft + self.lookahead + self.centre + 2 * self.hop_a  # kept
        for spec in KNOBS:
            value = defaults.get(spec.name, spec.default)
            self.register_buffer(spec.name, constant(value))
        self.register_buffer("history", torch.zeros(1, self.keep))
        self.allocate(1)

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.decoder.allocate(batch)
        self.decimator.allocate(batch)
        self.tracker.allocate(batch)
        self.synth.allocate(batch)
        for block in self.reverb:
            block.allocate(batch)
        self.history = torch.zeros(batch, self.keep)

    def _loudness(self, frames: Tensor, signal: Tensor, origin: Tensor) -> Tensor:
        """dB of the decided frames (frame index per slot in ``frames``); ``signal`` holds
        analysis samples from ``origin`` on."""
        start = frames * self.hop_a - self.centre - self.n_fft // 2 - origin
        index = start[:, None] + torch.arange(self.n_fft)
        inside = (index >= 0) & (index < signal.shape[1])
        windows = signal[:, index.clamp(0, signal.shape[1] - 1)] * inside.float()
        power = torch.view_as_real(torch.fft.rfft(windows * self.window)).square().sum(-1)
        mean_square = (power * self.weight).sum(-1)
        return 10 * torch.log10(mean_square + 1e-12)

    def _piece(self, mono: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        batch, n = mono.shape[0], mono.shape[1]
        decided_before = self.synth.decided.clone()
        origin = self.decimator.made - self.keep  # analysis sample at history[0]
        low, given = self.decimator(mono)
        hz, conf, count = self.tracker(low, given)
        signal = torch.cat([self.history, low], 1)  # real up to keep + given
        self.history.copy_(signal.index_select(1, given + torch.arange(self.keep)))
        frames = decided_before + torch.arange(hz.shape[1])
        loud = self._loudness(frames, signal, origin)
        shift = param(inputs, "pitch_shift_st", self.pitch_shift_st)
        offset = param(inputs, "loudness_offset_db", self.loudness_offset_db)
        f0 = hz * torch.pow(2.0, shift / 12.0)
        voiced = ((conf >= self.gate) & (loud > self.gate_db)).float()
        amp, dist, noise = self.decoder(f0, loud + offset, count)
        balance = param(inputs, "balance", self.balance)
        harmonic_gain = (2 * (1 - balance)).clamp(0.0, 1.0)
        noise_gain = (2 * balance).clamp(0.0, 1.0)
        self.synth.push(f0, amp * voiced * harmonic_gain, dist,
                        noise * (voiced * noise_gain)[..., None], count)  # fmt: skip
        y = self.synth(n, batch)[:, None]
        for block in self.reverb:
            wet: dict[str, Tensor] = {}
            wet["mix"] = param(inputs, "mix", self.mix)
            y = block(y, wet)
        return y

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        # a host's NaN or infinite samples are read as silence (a plugin must not fail)
        mono = torch.nan_to_num(x.mean(1), nan=0.0, posinf=0.0, neginf=0.0)
        n = mono.shape[1]
        pieces: list[Tensor] = []
        for at in range(0, n, self.max_block):
            pieces.append(self._piece(mono[:, at : at + self.max_block], inputs))
        if len(pieces) == 0:
            return x.new_zeros(x.shape[0], 1, 0)
        return torch.cat(pieces, -1)
