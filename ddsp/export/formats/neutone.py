"""Neutone FX (``.nm``): the model wrapped with Neutone's SDK and saved with its checks.

Saving needs the optional package ``neutone-sdk`` (``pip install 'ddsp-numba[plugins]'``);
loading and running a ``.nm`` file needs torch alone (:func:`load_neutone`).

The SDK's ``save_neutone_model(..., submission=True)`` scripts the model inside Neutone's
sample queue wrapper (which adapts any DAW rate, buffer size and channel count to the
model's), renders its three bundled demo sounds through it (kept in the file's metadata as
MP3, as the Neutone site shows them), reloads the file, checks the metadata against its
JSON schema, checks that the reloaded file renders like the scripted model, runs the
plugin's entry points at 48 kHz / 512 and in offline mode, and reports latency for DAW
buffers of 128 to 2048 samples. It writes a folder (``model.nm``, ``metadata.json``,
``samples/``); the ``.nm`` holds the metadata and samples itself, so only it is kept, at
the path asked for. Nothing is fetched: the model card has no links to check.

Then, unless ``check=False``, the file is loaded as the plugin does and played at the
model's rate and block size against the model, block after block.
"""

# No `from __future__ import annotations`: TorchScript reads the wrapper's class
# annotations as types, and resolves the names in its methods' signatures here.
import contextlib
import functools
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Dict, List, Union  # noqa: UP035 (TorchScript reads these annotations)

import torch
from torch import Tensor

from ...errors import ExportError
from ...io import atomic_path
from ._common import (
    ModelInfo,
    check_blocks,
    check_output_path,
    fresh_copy,
    model_info,
    quiet_torchscript,
    require,
)

__all__ = ["save_neutone", "load_neutone", "NeutoneHost", "LIMITS"]

SUFFIX = ".nm"
# The SDK's metadata limits (neutone_sdk/metadata.py and core.py docstrings).
LIMITS = {
    "name": 30,
    "description": 150,
    "long_description": 500,
    "technical_description": 500,
    "citation": 300,
    "authors": 5,
    "tags": 7,
    "tag": 15,
    "sample_rate": 96000,
}


def _card(info: ModelInfo, **fields: object) -> dict:
    """The model card, checked against the SDK's limits before any work."""
    card = dict(fields)
    card["sample_rate"] = info.sample_rate
    for key in ("name", "description", "long_description", "technical_description", "citation"):
        text = str(card[key])
        if len(text) > LIMITS[key]:
            raise ExportError(f"Neutone allows {LIMITS[key]} characters in {key}: {text!r}")
        card[key] = text
    if not card["name"].strip():
        raise ExportError("a Neutone model needs a name")
    authors, tags = [str(a) for a in card["authors"]], [str(t) for t in card["tags"]]
    if not 1 <= len(authors) <= LIMITS["authors"] or len(set(authors)) != len(authors):
        raise ExportError(f"Neutone wants 1 to {LIMITS['authors']} distinct authors: {authors}")
    if len(tags) > LIMITS["tags"] or len(set(tags)) != len(tags):
        raise ExportError(f"Neutone allows {LIMITS['tags']} distinct tags: {tags}")
    for tag in tags:
        if len(tag) > LIMITS["tag"]:
            raise ExportError(f"Neutone allows {LIMITS['tag']} characters in a tag: {tag!r}")
    rate = info.sample_rate
    if rate != int(rate) or rate > LIMITS["sample_rate"]:
        raise ExportError(
            f"Neutone needs a whole sample rate up to {LIMITS['sample_rate']} Hz, not {rate}"
        )
    card.update(authors=authors, tags=tags, short_description=card.pop("description"))
    return card


@functools.cache
def _wrapper_class() -> type:
    """The SDK wrapper class, defined on first use: the SDK is an optional dependency."""
    from neutone_sdk import ContinuousNeutoneParameter, NeutoneParameter, WaveformToWaveformBase

    class DdspNeutoneModel(WaveformToWaveformBase):
        """An exported model as a Neutone waveform-to-waveform model.

        Neutone's sample queue wrapper (which the SDK puts around this class in the ``.nm``
        file) resamples the DAW's audio to ``native_sample_rate``, cuts it into blocks of the
        model's ``block_size`` and mixes the DAW's channels to the model's, so
        :meth:`do_forward_pass` always sees ``(in_channels, block_size)`` at the model's rate.
        The knobs arrive as one value per block (the mean of the automation over the block).
        """

        # TorchScript reads a class's own annotations only: the SDK's are repeated here.
        neutone_parameters_metadata: Dict[  # noqa: UP006
            str, Dict[str, Union[int, float, str, bool, List[str], List[int]]]  # noqa: UP006, UP007
        ]
        remapped_params: Dict[str, torch.Tensor]  # noqa: UP006
        neutone_parameter_names: List[str]  # noqa: UP006
        nm_name: str
        nm_authors: list[str]
        nm_short_description: str
        nm_long_description: str
        nm_technical_description: str
        nm_citation: str
        nm_tags: list[str]
        nm_version: str
        nm_experimental: bool
        native_sample_rate: int

        def __init__(self, model: torch.nn.Module, card: dict) -> None:
            # Read by NeutoneModel.__init__ (metadata, parameters), so set before it runs.
            self.nm_name = card["name"]
            self.nm_authors = list(card["authors"])
            self.nm_short_description = card["short_description"]
            self.nm_long_description = card["long_description"]
            self.nm_technical_description = card["technical_description"]
            self.nm_citation = card["citation"]
            self.nm_tags = list(card["tags"])
            self.nm_version = card["version"]
            self.nm_experimental = bool(card["experimental"])
            self.native_sample_rate = int(card["sample_rate"])
            self._knob_cards = [
                (str(n), str(d), float(v))
                for n, d, v in zip(model.knob_names, model.knob_descriptions, model.knob_defaults)
            ]
            super().__init__(model, use_debug_mode=True)
            self.register_buffer("knobs", torch.tensor([c[2] for c in self._knob_cards]))

        def get_model_name(self) -> str:
            return self.nm_name

        def get_model_authors(self) -> list[str]:
            return self.nm_authors

        def get_model_short_description(self) -> str:
            return self.nm_short_description

        def get_model_long_description(self) -> str:
            return self.nm_long_description

        def get_technical_description(self) -> str:
            return self.nm_technical_description

        def get_citation(self) -> str:
            return self.nm_citation

        def get_tags(self) -> list[str]:
            return self.nm_tags

        def get_model_version(self) -> str:
            return self.nm_version

        def is_experimental(self) -> bool:
            return self.nm_experimental

        def get_neutone_parameters(self) -> list[NeutoneParameter]:
            return [ContinuousNeutoneParameter(n, d, v) for n, d, v in self._knob_cards]

        @torch.jit.export
        def is_input_mono(self) -> bool:
            return self.model.in_channels == 1

        @torch.jit.export
        def is_output_mono(self) -> bool:
            return self.model.out_channels == 1

        @torch.jit.export
        def get_native_sample_rates(self) -> list[int]:
            return [self.native_sample_rate]

        @torch.jit.export
        def get_native_buffer_sizes(self) -> list[int]:
            return [self.model.block_size]

        @torch.jit.export
        def calc_model_delay_samples(self) -> int:
            return self.model.latency

        def reset_model(self) -> bool:
            self.model.reset()
            return True

        def do_forward_pass(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
            # params: knob name -> tensor (1,), this block's value in [0, 1]
            for i, name in enumerate(self.neutone_parameter_names):
                self.knobs[i] = params[name][0]
            return self.model(x.unsqueeze(0), self.knobs).squeeze(0)

    return DdspNeutoneModel


@contextlib.contextmanager
def _sdk_logs(verbose: bool) -> Iterator[None]:
    """The SDK logs each step at INFO; keep warnings only unless ``verbose``."""
    loggers = [
        logging.getLogger(n)
        for n in list(logging.root.manager.loggerDict)
        if n == "neutone_sdk" or n.startswith("neutone_sdk.")
    ]
    levels = [lg.level for lg in loggers]
    if not verbose:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def save_neutone(
    model: torch.nn.Module,
    path: str | os.PathLike,
    *,
    name: str,
    description: str = "",
    authors: Sequence[str] = ("ddsp",),
    tags: Sequence[str] = ("ddsp",),
    version: str = "1.0.0",
    long_description: str | None = None,
    technical_description: str = "Exported from ddsp (differentiable DSP for PyTorch).",
    citation: str = "",
    experimental: bool = False,
    speed_benchmark: bool = False,
    check: bool = True,
    verbose: bool = False,
) -> list[Path]:
    """Save ``model`` as a Neutone FX model ``path`` (``.nm``), through the SDK's
    submission checks.

    Args:
        name: shown in the plugin (30 characters at most).
        description: the short description (150 characters).
        authors, tags, version, long_description (defaults to ``description``),
            technical_description, citation, experimental: the rest of the model card.
        speed_benchmark: also run the SDK's speed benchmark (off by default: it only logs
            timings, and takes a while).
        check: play the saved file as the plugin does against the model.
        verbose: show the SDK's INFO log.

    The model's knobs become Neutone's continuous parameters (name, description,
    default); its sample rate and block size the native ones; its latency is reported
    to the DAW (``calc_model_delay_samples``). Written atomically.

    Returns:
        ``[path]``.

    Raises:
        MissingDependencyError: neutone-sdk is not installed.
        OutputError: a path that cannot be written or does not end with ``.nm``.
        ExportError: a model or card the SDK refuses, or a file that fails the checks.
    """
    require("neutone_sdk", "neutone-sdk", "saving a Neutone model")
    path = check_output_path(path, SUFFIX, "Neutone")
    info = model_info(model)
    card = _card(
        info,
        name=name,
        description=description,
        authors=authors,
        tags=tags,
        version=str(version),
        long_description=description if long_description is None else long_description,
        technical_description=technical_description,
        citation=citation,
        experimental=experimental,
    )
    import neutone_sdk.benchmark  # noqa: F401 (imported by the save: its logger, made now, is quieted)
    from neutone_sdk.utils import save_neutone_model

    try:
        wrapper = _wrapper_class()(fresh_copy(model), card)
    except (AssertionError, ValueError) as e:
        raise ExportError(f"the Neutone SDK refuses {type(model).__name__}: {e}") from None
    with atomic_path(path) as tmp, quiet_torchscript(), _sdk_logs(verbose):
        with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=tmp.parent) as root:
            try:
                save_neutone_model(
                    wrapper,
                    Path(root),
                    dump_samples=True,
                    submission=True,
                    speed_benchmark=speed_benchmark,
                )
            except Exception as e:  # the SDK's checks are assertions and schema errors
                kind = type(e).__name__
                raise ExportError(f"Neutone's submission checks failed: {kind}: {e}") from None
            os.replace(Path(root) / "model.nm", tmp)
        if check:
            host = load_neutone(tmp)
            what = f"the Neutone file for {type(model).__name__}"
            # at its native rate and block size (resampling scales the delay it reports)
            host.configure(host.native_sample_rate, info.block_size)
            if host.model_latency != info.latency:
                raise ExportError(f"{what} reports {host.model_latency} samples of latency")
            check_blocks(fresh_copy(model), host, info, what=what)
    return [path]


class NeutoneHost:
    """A ``.nm`` file loaded as the Neutone FX plugin does (``torch.jit.load``), called on
    ``(1, channels, n)`` blocks.

    The plugin sits on a stereo track: a mono input is sent to both channels (the file
    mixes them back to mono for a mono model), and a mono model's output, which comes back
    on both channels, is returned as one. ``host(x, knobs)`` sends each knob as a constant
    over the block (``knobs`` None: the model's defaults). The DAW's rate is
    ``sample_rate`` (the model's own unless set) and its buffer size that of the last
    block; a change of either reconfigures the file, which clears its state.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int | None = None) -> None:
        extra = {"metadata.json": ""}
        with quiet_torchscript():
            self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        self.module.eval()
        self.metadata = json.loads(extra["metadata.json"])
        self.in_channels = 1 if self.metadata["is_input_mono"] else 2
        self.out_channels = 1 if self.metadata["is_output_mono"] else 2
        self.native_sample_rate = int(self.metadata["native_sample_rates"][0])
        self.sample_rate = self.native_sample_rate if sample_rate is None else int(sample_rate)
        self.n_knobs = len(self.metadata["neutone_parameters"])
        self.max_knobs = 4
        self._daw: tuple[int, int] | None = None

    @property
    def model_latency(self) -> int:
        """Samples the model itself delays by (``calc_model_delay_samples``)."""
        return int(self.module.calc_model_delay_samples())

    @property
    def latency(self) -> int:
        """All the delay reported to the DAW: buffering plus the model's."""
        return int(self.module.calc_buffering_delay_samples()) + self.model_latency

    def configure(self, sample_rate: int, buffer_size: int) -> None:
        """What the DAW tells the plugin before playing (clears the state)."""
        self.module.set_daw_sample_rate_and_buffer_size(int(sample_rate), int(buffer_size))
        self.sample_rate = int(sample_rate)
        self._daw = (self.sample_rate, int(buffer_size))

    def reset(self) -> None:
        self.module.reset()

    def __call__(self, x: Tensor, knobs: Tensor | None = None) -> Tensor:
        if x.ndim != 3 or x.shape[0] != 1 or x.shape[1] != self.in_channels:
            raise ExportError(
                f"a Neutone plugin plays one stream of {self.in_channels} channel(s): "
                f"(1, {self.in_channels}, n), not {tuple(x.shape)}"
            )
        n = x.shape[-1]
        if self._daw != (self.sample_rate, n):
            self.configure(self.sample_rate, n)
        track = x[0].expand(2, n).contiguous()
        params = None
        if knobs is not None:
            params = torch.zeros(self.max_knobs, n)
            params[: self.n_knobs] = knobs.reshape(-1, 1).to(params)
        with torch.no_grad():
            y = self.module.forward(track, params)
        return y[: self.out_channels].unsqueeze(0).clone()


def load_neutone(path: str | os.PathLike, sample_rate: int | None = None) -> NeutoneHost:
    """Load a ``.nm`` file with ``torch.jit.load`` (neither ddsp nor the SDK needed)."""
    return NeutoneHost(path, sample_rate)
