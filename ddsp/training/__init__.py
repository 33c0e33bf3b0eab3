"""Timbre transfer: data preparation, the DDSP autoencoder, training, checkpoints, transfer."""

from .checkpoints import load_checkpoint, load_run, save_checkpoint
from .config import Config, TrainConfig, load_config
from .data import Examples, load_examples, prepare
from .model import Autoencoder, ModelConfig
from .train import train
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
    "load_checkpoint",
    "save_checkpoint",
    "adapt",
    "transfer",
]
