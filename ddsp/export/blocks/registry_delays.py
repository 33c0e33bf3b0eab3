"""Builders of the delay and reverb blocks, by processor class name (merged into the
central registry of builders)."""

from collections.abc import Callable

from .algorithmic import FDNBlock, FreeverbBlock
from .base import Block
from .delays import ChorusBlock, DelayBlock
from .reverb import ConvolutionBlock

__all__ = ["DELAY_BUILDERS"]

# builder(proc, channels, block_size, knob_params[, delay=]) -> Block
DELAY_BUILDERS: dict[str, Callable[..., Block]] = {
    "Delay": DelayBlock,
    "PingPongDelay": DelayBlock,
    "Chorus": ChorusBlock,
    "Flanger": ChorusBlock,
    "ConvolutionReverb": ConvolutionBlock,
    "NoiseReverb": ConvolutionBlock,
    "FDNReverb": FDNBlock,
    "Freeverb": FreeverbBlock,
}
