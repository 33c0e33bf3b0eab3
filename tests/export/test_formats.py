"""Plugin file formats: each saves, loads as its host would, plays consecutive blocks like
the model (state carried), declares its latency and maps the knobs; bad requests fail
clearly and leave no file behind."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from ddsp.errors import ConfigError, ExportError, MissingDependencyError, OutputError
from ddsp.export import formats
from ddsp.export.formats import nn_tilde, pt2

from .standin import StandIn

TOL = 1e-5
KNOBS = torch.tensor([0.8, 0.1])


def _eager(model: StandIn) -> StandIn:
    fresh = copy.deepcopy(model)
    fresh.reset()
    return fresh


def _blocks(model: StandIn, sizes, batch: int = 1, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(batch, model.in_channels, n, generator=gen) * 2 - 1 for n in sizes]


def _play(run, blocks, knobs) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([run(x, knobs) for x in blocks], -1)


def _assert_plays_like(run, model: StandIn, blocks, knobs=KNOBS) -> None:
    want = _play(_eager(model), blocks, knobs)
    got = _play(run, blocks, knobs)
    assert got.shape == want.shape and got.dtype == torch.float32
    assert float((got - want).abs().max()) <= TOL


def _impulse_response(run, model: StandIn, n: int) -> torch.Tensor:
    x = torch.zeros(1, model.in_channels, n)
    x[..., 0] = 1.0
    with torch.no_grad():
        return run(x, KNOBS)[0, 0]


def _assert_latency(run, model: StandIn) -> None:
    y = _impulse_response(run, model, model.block_size)
    assert float(y[: model.latency].abs().max()) == 0.0
    assert float(y[model.latency].abs()) > 0.01


def _no_leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------------- common


def test_the_formats_are_registered_with_their_suffixes():
    assert set(formats.FORMATS) == {"neutone", "nn_tilde", "pt2"}
    assert {f.suffix for f in formats.FORMATS.values()} == {".nm", ".ts", ".pt2"}


def test_an_unknown_format_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown plugin format 'vst3'.*neutone, nn_tilde, pt2"):
        formats.save(StandIn(), tmp_path / "m.vst3", "vst3", name="m")
    with pytest.raises(ConfigError, match="cannot tell the plugin format"):
        formats.load(tmp_path / "m.vst3")
    assert _no_leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt,suffix", [("nn_tilde", ".ts"), ("pt2", ".pt2"), ("neutone", ".nm")])
def test_unwritable_or_misnamed_paths_are_output_errors(tmp_path, fmt, suffix):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        formats.save(StandIn(), blocker / f"m{suffix}", fmt, name="m")
    (tmp_path / f"dir{suffix}").mkdir()
    with pytest.raises(OutputError, match="a folder stands there"):
        formats.save(StandIn(), tmp_path / f"dir{suffix}", fmt, name="m")
    with pytest.raises(OutputError, match=f"must end with {suffix}"):
        formats.save(StandIn(), tmp_path / "m.bin", fmt, name="m")
    assert _no_leftovers(tmp_path) == ["a_file", f"dir{suffix}"]


@pytest.mark.parametrize("fmt,suffix", [("nn_tilde", ".ts"), ("pt2", ".pt2")])
def test_a_model_breaking_the_contract_is_an_export_error(tmp_path, fmt, suffix):
    model = StandIn()
    del model.knob_defaults
    with pytest.raises(ExportError, match="no attribute 'knob_defaults'"):
        formats.save(model, tmp_path / f"m{suffix}", fmt, name="m")
    model = StandIn()
    model.knob_defaults = [0.5, 1.5]
    with pytest.raises(ExportError, match=r"'1.pole' default 1.5 is not in \[0, 1\]"):
        formats.save(model, tmp_path / f"m{suffix}", fmt, name="m")
    assert _no_leftovers(tmp_path) == []


class _Unscriptable(StandIn):
    def forward(self, x, knobs):
        return torch.from_numpy(x.numpy()) * 1.0  # neither scriptable nor traceable


class _WrongWhenScripted(StandIn):
    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return x[:, :1].repeat(1, self.out_channels, 1)  # not what the eager model does
        return super().forward(x, knobs)


class _WrongWhenExported(StandIn):
    def forward(self, x, knobs):
        if torch.compiler.is_exporting():
            return x[:, :1].repeat(1, self.out_channels, 1)  # not what the eager model does
        return super().forward(x, knobs)


@pytest.mark.parametrize(
    "fmt,suffix,wrong",
    [("nn_tilde", ".ts", _WrongWhenScripted), ("pt2", ".pt2", _WrongWhenExported)],
)
def test_a_failed_save_leaves_no_file_and_keeps_an_old_one(tmp_path, fmt, suffix, wrong):
    path = tmp_path / f"m{suffix}"
    options = {"aoti": False} if fmt == "pt2" else {}
    with pytest.raises(ExportError, match="cannot"):
        formats.save(_Unscriptable(), path, fmt, name="m", **options)
    assert _no_leftovers(tmp_path) == []
    path.write_bytes(b"old")
    with pytest.raises(ExportError, match="differs from the model"):
        formats.save(wrong(), path, fmt, name="m", **options)
    assert _no_leftovers(tmp_path) == [path.name] and path.read_bytes() == b"old"


# ---------------------------------------------------------------------------- nn~


@pytest.mark.parametrize("channels", [(1, 2), (2, 2), (1, 1)])
def test_nn_tilde_plays_consecutive_blocks_like_the_model(tmp_path, channels):
    model = StandIn(*channels)
    (path,) = formats.save_nn_tilde(model, tmp_path / "m.ts", name="m", description="d")
    assert _no_leftovers(tmp_path) == ["m.ts"]
    host = formats.load_nn_tilde(path)
    # nn~ calls with its own buffer size (4096 by default), not the model's block size
    _assert_plays_like(host, model, _blocks(model, [256, 256, 4096, 100, 37]))
    host.reset()
    _assert_latency(host, model)
    assert (host.latency, host.sample_rate, host.block_size) == (37, 48000, 256)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_nn_tilde_follows_nn_tilde_conventions(tmp_path):
    model = StandIn(1, 2)
    (path,) = formats.save_nn_tilde(model, tmp_path / "m.ts", name="m", description="d")
    with torch.no_grad():
        ts = torch.jit.load(str(path))
        assert ts.get_methods() == ["forward"]
        assert ts.forward_params.tolist() == [1, 1, 2, 1]  # in, in ratio, out, out ratio
        assert ts.forward_input_labels == ["(signal) input"]
        assert ts.forward_output_labels == ["(signal) left output", "(signal) right output"]
        assert ts.get_attributes() == ["gain", "k1_pole"]
        for attr in ("gain", "k1_pole"):
            assert getattr(ts, f"{attr}_params").tolist() == [2]  # one float
        assert ts.get_gain() == (0.5,) and ts.get_k1_pole() == (0.25,)
        assert ts.set_gain(0.75) == 0 and ts.get_gain() == (0.75,)
        for bad in (1.5, -0.1, float("nan")):
            assert ts.set_gain(bad) == -1 and ts.get_gain() == (0.75,)
        assert (ts.ddsp_name, ts.ddsp_description) == ("m", "d")
        # nn~'s method test: zeros of its test buffer size, batch 1 (nn~) and 4 (mc.nn~)
        for batch in (1, 4):
            y = ts.forward(torch.zeros(batch, 1, nn_tilde.TEST_BUFFER_SIZE))
            assert y.shape == (batch, 2, nn_tilde.TEST_BUFFER_SIZE) and y.dtype == torch.float32


def test_nn_tilde_runs_batches_of_4_like_the_model(tmp_path):
    model = StandIn(2, 2)
    (path,) = formats.save_nn_tilde(model, tmp_path / "m.ts", name="m")
    host = formats.load_nn_tilde(path)
    _assert_plays_like(host, model, _blocks(model, [256, 300, 256], batch=4))


def test_nn_tilde_knobs_change_the_sound_as_on_the_model(tmp_path):
    model = StandIn(1, 2)
    (path,) = formats.save_nn_tilde(model, tmp_path / "m.ts", name="m")
    host = formats.load_nn_tilde(path)
    blocks = _blocks(model, [256, 256])
    outs = []
    for knobs in (torch.tensor([0.5, 0.25]), torch.tensor([0.9, 0.9])):
        host.reset()
        _assert_plays_like(host, model, blocks, knobs)
        host.reset()
        outs.append(_play(host, blocks, knobs))
    assert float((outs[0] - outs[1]).abs().max()) > 0.1


def test_nn_tilde_attribute_names_from_knob_names(tmp_path):
    assert nn_tilde.attribute_name("threshold_db") == "threshold_db"
    assert nn_tilde.attribute_name("1.ratio") == "k1_ratio"
    assert nn_tilde.attribute_name("mix (%)") == "mix____"
    model = StandIn(knob_names=("a.b", "a_b"))
    with pytest.raises(ExportError, match="clashing nn~ attributes"):
        formats.save_nn_tilde(model, tmp_path / "m.ts", name="m")
    model = StandIn(knob_names=("methods", "gain"))
    with pytest.raises(ExportError, match="'methods' clashes"):
        formats.save_nn_tilde(model, tmp_path / "m.ts", name="m")
    assert _no_leftovers(tmp_path) == []


def test_nn_tilde_without_knobs(tmp_path):
    model = StandIn(knob_names=())
    (path,) = formats.save_nn_tilde(model, tmp_path / "m.ts", name="m")
    host = formats.load_nn_tilde(path)
    assert host.attributes == []
    _assert_plays_like(host, model, _blocks(model, [256, 256]), torch.zeros(0))


# ---------------------------------------------------------------------------- pt2

CHILD = textwrap.dedent(
    """
    import sys

    sys.modules["ddsp"] = None  # from here on, any import of ddsp raises ImportError
    try:
        import ddsp  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("ddsp is importable in the child")
    import time

    import torch

    program, blocks, out = sys.argv[1:4]
    data = torch.load(blocks)
    started = time.perf_counter()
    if program.endswith(".aoti.pt2"):
        import torch._inductor

        run = torch._inductor.aoti_load_package(program)
    else:
        run = torch.export.load(program).module()
    with torch.no_grad():
        ys = [run(x, data["knobs"]) for x in data["x"]]
    seconds = time.perf_counter() - started
    leaked = [n for n, m in sys.modules.items() if n.startswith("ddsp") and m is not None]
    assert not leaked, leaked
    torch.save({"y": ys, "seconds": seconds}, out)
    """
)


def _run_without_ddsp(tmp_path, program, blocks, knobs) -> dict:
    """Run ``program`` on ``blocks`` in a fresh interpreter where ``import ddsp`` fails."""
    work = tmp_path / "child"
    work.mkdir(exist_ok=True)
    (work / "child.py").write_text(CHILD)
    torch.save({"x": blocks, "knobs": knobs}, work / "blocks.pt")
    out = work / f"{program.name}.out.pt"
    # -I: isolated (no PYTHON* variables, no user site, not the current folder on sys.path)
    cmd = [sys.executable, "-I", "child.py", str(program), "blocks.pt", str(out)]
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out)


@pytest.fixture(scope="module")
def pt2_file(tmp_path_factory):
    """A .pt2 (no AOTInductor package) of a mono -> stereo stand-in, with the model."""
    model = StandIn(1, 2)
    folder = tmp_path_factory.mktemp("pt2")
    paths = formats.save_pt2(model, folder / "m.pt2", name="m", description="d", aoti=False)
    assert paths == [folder / "m.pt2"] and _no_leftovers(folder) == ["m.pt2"]
    return model, paths[0]


def test_pt2_plays_like_the_model_in_a_process_without_ddsp(pt2_file, tmp_path):
    model, path = pt2_file
    blocks = _blocks(model, [256] * 4)
    got = _run_without_ddsp(tmp_path, path, blocks, KNOBS)
    want = _play(_eager(model), blocks, KNOBS)
    assert float((torch.cat(got["y"], -1) - want).abs().max()) <= TOL


def test_pt2_host_latency_knobs_and_fixed_shapes(pt2_file):
    model, path = pt2_file
    host = formats.load_pt2(path)
    assert host.meta["name"] == "m" and host.meta["batch"] == 1
    assert host.meta["knob_names"] == ["gain", "1.pole"] and host.latency == 37
    _assert_plays_like(host, model, _blocks(model, [256] * 3))
    host.reset()
    _assert_latency(host, model)
    host.reset()
    blocks = _blocks(model, [256, 256])
    loud = _play(host, blocks, torch.tensor([0.9, 0.9]))
    host.reset()
    quiet = _play(host, blocks, torch.tensor([0.1, 0.9]))
    assert float((loud - 9 * quiet).abs().max()) <= 1e-4  # gain 1.8 vs 0.2, same filter
    with pytest.raises(Exception):  # noqa: B017 (torch's guard error type varies)
        host(torch.zeros(1, 1, 128), KNOBS)  # block size is fixed at export


def test_pt2_batch_is_fixed_at_export(tmp_path):
    model = StandIn(2, 2)
    (path,) = formats.save_pt2(model, tmp_path / "m.pt2", name="m", batch=3, aoti=False)
    host = formats.load_pt2(path)
    assert host.meta["batch"] == 3
    _assert_plays_like(host, model, _blocks(model, [256] * 2, batch=3))
    with pytest.raises(ExportError, match="batch must be a positive integer"):
        formats.save_pt2(model, tmp_path / "n.pt2", name="m", batch=0)
    with pytest.raises(ExportError, match="name of the AOTInductor package"):
        formats.save_pt2(model, tmp_path / "n.aoti.pt2", name="m")


def test_pt2_without_knobs(tmp_path):
    model = StandIn(1, 1, knob_names=())
    (path,) = formats.save_pt2(model, tmp_path / "m.pt2", name="m", aoti=False)
    _assert_plays_like(formats.load_pt2(path), model, _blocks(model, [256] * 2), torch.zeros(0))


def test_pt2_aoti_path():
    assert pt2.aoti_path("a/m.pt2").as_posix() == "a/m.aoti.pt2"


@pytest.mark.slow
@pytest.mark.skipif(not pt2.compiler_available(), reason="needs a C++ compiler")
def test_pt2_aoti_package_plays_like_the_model_without_ddsp(tmp_path):
    # A mono filter memory at batch 1 is a one-element buffer: the case Inductor's
    # constant folding froze (pytorch/pytorch#165444) before pt2.AOTI_CONFIG.
    model = StandIn(1, 2)
    started = time.perf_counter()
    paths = formats.save_pt2(model, tmp_path / "m.pt2", name="m", aoti=True)
    seconds = time.perf_counter() - started
    assert paths == [tmp_path / "m.pt2", tmp_path / "m.aoti.pt2"]
    assert _no_leftovers(tmp_path) == ["m.aoti.pt2", "m.pt2"]
    blocks = _blocks(model, [256] * 4)
    want = _play(_eager(model), blocks, KNOBS)
    for path in paths:
        got = _run_without_ddsp(tmp_path, path, blocks, KNOBS)
        assert float((torch.cat(got["y"], -1) - want).abs().max()) <= TOL, path
        print(f"{path.name}: saved in {seconds:.1f} s, loaded and ran in {got['seconds']:.2f} s")
    host = formats.load_pt2(paths[1])
    assert host.meta["latency"] == 37
    # the package reads dense memory: the host copies strided views (here every other float)
    strided = [torch.stack([x, -x], -1)[..., 0] for x in blocks]
    assert not strided[0].is_contiguous()
    host.reset()
    assert float((_play(host, strided, KNOBS) - want).abs().max()) <= TOL
    host.reset()
    _assert_latency(host, model)


# ---------------------------------------------------------------------------- Neutone


def test_neutone_without_the_sdk_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "neutone_sdk", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'ddsp-numba\[plugins\]'"):
        formats.save_neutone(StandIn(), tmp_path / "m.nm", name="m")
    assert _no_leftovers(tmp_path) == []


def test_neutone_card_limits_are_checked_first(tmp_path):
    pytest.importorskip("neutone_sdk")
    with pytest.raises(ExportError, match="30 characters in name"):
        formats.save_neutone(StandIn(), tmp_path / "m.nm", name="x" * 31)
    with pytest.raises(ExportError, match="15 characters in a tag"):
        formats.save_neutone(StandIn(), tmp_path / "m.nm", name="m", tags=["x" * 16])
    with pytest.raises(ExportError, match="whole sample rate"):
        formats.save_neutone(StandIn(sample_rate=44100.5), tmp_path / "m.nm", name="m")
    assert _no_leftovers(tmp_path) == []


def _save_neutone(folder, channels):
    pytest.importorskip("neutone_sdk")
    model = StandIn(*channels)
    paths = formats.save_neutone(
        model, folder / "m.nm", name="Stand-in", description="A test model", tags=["test"]
    )
    assert paths == [folder / "m.nm"]
    assert _no_leftovers(folder) == ["m.nm"]  # one file: no metadata.json, no samples/
    return model, paths[0]


@pytest.fixture(scope="module")
def neutone_file(tmp_path_factory):
    """A mono -> stereo stand-in through the SDK's submission checks (about 30 s)."""
    return _save_neutone(tmp_path_factory.mktemp("neutone"), (1, 2))


def test_neutone_file_carries_the_model_card(neutone_file):
    model, path = neutone_file
    host = formats.load_neutone(path)
    meta = host.metadata
    assert meta["model_name"] == "Stand-in" and meta["model_short_description"] == "A test model"
    assert meta["model_type"] == "mono-stereo" and meta["technical_links"] == {}
    assert meta["native_sample_rates"] == [48000] and meta["native_buffer_sizes"] == [256]
    params = meta["neutone_parameters"]
    assert [params[k]["name"] for k in ("p1", "p2")] == ["gain", "1.pole"]
    assert [params[k]["default_value"] for k in ("p1", "p2")] == [0.5, 0.25]
    assert params["p1"]["description"] == "output gain, 0 to 2"
    assert len(meta["sample_sound_files"]) == 3  # rendered by the SDK, kept in the file


def test_neutone_plays_like_the_model_and_reports_its_latency(neutone_file):
    model, path = neutone_file
    host = formats.load_neutone(path)
    _assert_plays_like(host, model, _blocks(model, [256] * 4))
    host.reset()
    _assert_latency(host, model)
    assert host.model_latency == host.latency == 37  # DAW at the model's rate and block
    host.configure(48000, 128)  # a smaller DAW buffer adds the SDK's buffering delay
    assert host.model_latency == 37 and host.latency == 37 + 128


def test_neutone_knobs_and_defaults(neutone_file):
    model, path = neutone_file
    host = formats.load_neutone(path)
    blocks = _blocks(model, [256] * 3)
    _assert_plays_like(host, model, blocks, torch.tensor([0.9, 0.9]))
    host.reset()
    want = _play(_eager(model), blocks, torch.tensor(model.knob_defaults))
    got = _play(host, blocks, None)  # the plugin's defaults are the model's
    assert float((got - want).abs().max()) <= TOL


def test_neutone_at_another_daw_rate_and_buffer(neutone_file):
    model, path = neutone_file
    host = formats.load_neutone(path, sample_rate=44100)
    y = _play(host, _blocks(model, [128] * 20), KNOBS)
    assert host.metadata["native_sample_rates"] == [48000] and host.module.is_resampling()
    assert y.shape == (1, 2, 128 * 20) and torch.isfinite(y).all() and y.abs().max() > 0.01
    with pytest.raises(ExportError, match="one stream"):
        host(torch.zeros(2, 1, 128), KNOBS)


@pytest.mark.slow
def test_neutone_stereo_model(tmp_path):
    model, path = _save_neutone(tmp_path, (2, 2))
    host = formats.load_neutone(path)
    assert host.metadata["model_type"] == "stereo-stereo"
    _assert_plays_like(host, model, _blocks(model, [256] * 3))
