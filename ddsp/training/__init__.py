"""Timbre transfer: data preparation, the DDSP autoencoder, training and transfer."""

from .data import Examples, load_examples, prepare
from .model import Autoencoder, ModelConfig
from .train import Config, TrainConfig, load_config, load_run, train
from .transfer import adapt, transfer

__all__ = [
    "prepare",
    "load_examples",
    "Examples",
    "Autoencoder",
    "ModelConfig",
    "Config",
    "TrainConfig",
    "load_config",
    "train",
    "load_run",
    "adapt",
    "transfer",
]
