"""The ``ddsp`` commands: argument parsing and checks, then calls into the library.

Each module defines ``add_parser(subparsers)``, which registers its command with a
``handler(args) -> int`` default. Modules import the heavy library parts inside ``run``, so
``ddsp --help`` stays fast. Errors are raised, not printed: :mod:`ddsp.cli` turns them
into one message and an exit status in one place.
"""

COMMANDS = {
    "process": "run a preset or chain over audio files",
    "resynth": "fit harmonic+noise+reverb to a recording",
    "render": "re-render controls from ddsp resynth, with edits",
    "match": "fit an effect chain so that it turns dry into wet",
    "prepare": "slice recordings into a training set with f0 and loudness",
    "train": "train the DDSP autoencoder (torchrun for several processes)",
    "transfer": "play a trained instrument with another recording's melody",
    "export": "write a plugin file (Neutone, nn~, torch.export)",
    "bench": "benchmarks against peer libraries",
}

__all__ = ["COMMANDS"]
