"""Linear time-invariant filters over whole blocks, in closed form (state space).

A filter with state ``s`` (S values per signal) steps as ``s' = A s + B x``, ``y = C s + D
x``. Over a sub-block of ``L`` samples that is

    y = T x + O s,    s_L = A^L s + G x,

with ``T`` the ``L x L`` lower-triangular Toeplitz matrix of the impulse response
``h = (D, CB, CAB, ...)``, ``O[t] = C A^t`` and ``G[:, tau] = A^(L-1-tau) B``: three
matrix products per sub-block instead of a loop over samples. A block of ``n = M L + r``
samples runs ``M`` sub-blocks and a remainder of ``r`` (the leading rows and columns of
the same matrices), so any block size works. Everything runs in float64.

The state is the one the library's stream carries: for a biquad cascade the direct-form-I
memories (the last two inputs of the first section and the last two outputs of every
section), for the SVF its two integrators. When a knob moves a coefficient, the matrices
are designed again from the new coefficients and the state carries over, as the library
stream does with ``automation="step"``.
"""

import math

import torch
from torch import Tensor

from ...functional.filters import SVF_MODES, rbj_coefficients
from ...modules.filters import NYQUIST_MARGIN, SVF, Section
from .base import Block, exporting, knob_values, param

__all__ = ["LinearBlock", "SectionsBlock", "SVFBlock", "cascade_state_space", "sub_block_matrices"]


def cascade_state_space(b: Tensor, a: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Biquads in series, ``b, a (K, 3)`` (``a0 = 1``), as ``(A (S, S), B (S,), C (S,), D ())``
    with ``S = 2K + 2``: state ``(u0[-1], u0[-2], u1[-1], u1[-2], ..., uK[-1], uK[-2])``,
    ``u0`` the input and ``uk`` the output of section k (direct form I)."""
    k_count = b.shape[0]
    size = 2 * k_count + 2
    # one step from each unit state (rows 0..S-1) and from a unit input (row S)
    z = torch.cat([torch.eye(size, dtype=b.dtype), torch.zeros(1, size, dtype=b.dtype)])
    cur = torch.zeros(size + 1, dtype=b.dtype)
    cur[size] = 1.0
    cols = [cur, z[:, 0]]
    for k in range(k_count):
        out = (
            b[k, 0] * cur
            + b[k, 1] * z[:, 2 * k]
            + b[k, 2] * z[:, 2 * k + 1]
            - a[k, 1] * z[:, 2 * k + 2]
            - a[k, 2] * z[:, 2 * k + 3]
        )
        cols.append(out)
        cols.append(z[:, 2 * k + 2])
        cur = out
    step = torch.stack(cols, -1)  # (S + 1, S): the new state from each unit
    return step[:size].t(), step[size], cur[:size], cur[size]


def _powers(a: Tensor, count: int) -> Tensor:
    """``A^0 .. A^(count-1)`` as ``(count, S, S)``, by doubling."""
    p = torch.stack([torch.eye(a.shape[0], dtype=a.dtype), a])
    while p.shape[0] < count:
        p = torch.cat([p, torch.matmul(p[1:], p[-1])])
    return p[:count]


def sub_block_matrices(
    a: Tensor, b: Tensor, c: Tensor, d: Tensor, length: int
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``T (L, L)``, ``O (L, S)``, powers ``P (L + 1, S, S)`` and ``G (L, S)`` with
    ``G[j] = A^j B`` (see the module docstring)."""
    p = _powers(a, length + 1)
    g = torch.matmul(p[:length], b)  # (L, S): A^j B
    o = torch.matmul(c, p[:length])  # (L, S): C A^t
    h = torch.cat([d.reshape(1), torch.matmul(g[: length - 1], c)])  # impulse response
    lag = torch.arange(length)[:, None] - torch.arange(length)[None, :]
    t = torch.where(lag >= 0, h[lag.clamp_min(0)], torch.zeros_like(h[:1]))
    return t, o, p, g


class LinearBlock(Block):
    """Base of the closed-form LTI blocks: subclasses give ``design(inputs) -> (A, B, C,
    D)`` and name the parameters that knobs may move (``knob_params``)."""

    knob_params: list[str]

    def __init__(
        self, name: str, channels: int, size: int, length: int, knob_params: list[str]
    ) -> None:
        super().__init__(name, channels, channels)
        self.length = int(length)
        self.size = int(size)
        self.knob_params = list(knob_params)
        eye = torch.eye(size, dtype=torch.float64)
        self.register_buffer("mat_t", torch.zeros(length, length, dtype=torch.float64))
        self.register_buffer("mat_o", torch.zeros(length, size, dtype=torch.float64))
        self.register_buffer("mat_p", eye.expand(length + 1, size, size).clone())
        self.register_buffer("mat_g", torch.zeros(length, size, dtype=torch.float64))
        self.register_buffer("last", torch.full((len(knob_params),), math.nan))
        self.register_buffer("state", torch.zeros(1, channels, size, dtype=torch.float64))

    def _build(self) -> None:
        """Matrices for the export-time values (called by subclasses' constructors)."""
        self._install({})

    def design(self, inputs: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def _install(self, inputs: dict[str, Tensor]) -> None:
        a, b, c, d = self.design(inputs)
        t, o, p, g = sub_block_matrices(a, b, c, d, self.length)
        self.mat_t.copy_(t)
        self.mat_o.copy_(o)
        self.mat_p.copy_(p)
        self.mat_g.copy_(g)

    def _follow_knobs(self, inputs: dict[str, Tensor]) -> None:
        moved: list[Tensor] = []
        for k in self.knob_params:
            if k in inputs:
                moved.append(inputs[k].reshape(1))
        if len(moved) == 0:
            return
        values = torch.cat(moved).to(torch.float64)
        if values.shape == self.last.shape:
            # a data-dependent test TorchScript and eager runs can afford; an exported
            # program designs every block instead
            if torch.jit.is_scripting() or not exporting():
                if bool(torch.equal(values, self.last)):
                    return
            self.last.copy_(values)
        self._install(inputs)

    @torch.jit.export
    def allocate(self, batch: int) -> None:
        self.batch = batch
        self.state = torch.zeros(batch, self.in_channels, self.size, dtype=torch.float64)

    def forward(self, x: Tensor, inputs: dict[str, Tensor]) -> Tensor:
        self._follow_knobs(inputs)
        batch, channels, n = x.shape[0], x.shape[1], x.shape[2]
        rows = batch * channels
        u = x.reshape(rows, n).to(torch.float64)
        s = self.state.reshape(rows, self.size)
        length = self.length
        full = n // length
        rest = n - full * length
        pieces: list[Tensor] = []
        if full > 0:
            xs = u[:, : full * length].reshape(rows, full, length)
            y = torch.matmul(xs, self.mat_t.t())
            ends = torch.matmul(xs, self.mat_g.flip(0))  # zero-state end of each sub-block
            a_l = self.mat_p[length].t()
            starts: list[Tensor] = []
            for m in range(full):
                starts.append(s)
                s = torch.matmul(s, a_l) + ends[:, m]
            y = y + torch.matmul(torch.stack(starts, 1), self.mat_o.t())
            pieces.append(y.reshape(rows, full * length))
        if rest > 0:
            xr = u[:, full * length :]
            pieces.append(
                torch.matmul(xr, self.mat_t[:rest, :rest].t())
                + torch.matmul(s, self.mat_o[:rest].t())
            )
            s = torch.matmul(s, self.mat_p[rest].t()) + torch.matmul(xr, self.mat_g[:rest].flip(0))
        self.state.copy_(s.reshape(batch, channels, self.size))
        if len(pieces) == 0:
            return x
        return torch.cat(pieces, -1).reshape(batch, channels, n).to(x.dtype)


def _length_for(block_size: int) -> int:
    """Sub-block length: about a quarter of the block, 16 to 256 samples."""
    return int(min(256, max(16, 2 ** round(math.log2(max(block_size, 1) / 4)))))


class SectionsBlock(LinearBlock):
    """A biquad cascade (``Biquad``, ``ParametricEQ``): RBJ sections as the library designs
    them (:meth:`sections` of the processor), cutoffs kept below Nyquist."""

    knob_params: list[str]
    kinds: list[str]
    fc_names: list[str]
    q_names: list[str]
    gain_names: list[str]

    def __init__(self, proc, channels: int, block_size: int, knob_params: list[str]) -> None:
        sections: list[Section] = proc.sections()
        values = knob_values(proc, knob_params)

        def column(i: int) -> Tensor:
            return torch.tensor(
                [float(values[s[i]]) if isinstance(s[i], str) else float(s[i]) for s in sections],
                dtype=torch.float64,
            )

        fc, q, gain = column(1), column(2), column(3)
        super().__init__(
            type(proc).__name__, channels, 2 * len(sections) + 2, _length_for(block_size),
            knob_params,
        )  # fmt: skip
        self.sample_rate = float(proc.sample_rate)
        self.kinds = [s[0] for s in sections]
        self.fc_names, self.q_names, self.gain_names = (
            [s[i] if isinstance(s[i], str) else "" for s in sections] for i in (1, 2, 3)
        )
        self.register_buffer("fc", fc)
        self.register_buffer("q", q)
        self.register_buffer("gain", gain)
        self.nyquist = NYQUIST_MARGIN * self.sample_rate
        self._build()

    def _column(self, inputs: dict[str, Tensor], names: list[str], values: Tensor) -> Tensor:
        out: list[Tensor] = []
        for i in range(len(names)):
            v = values[i : i + 1]
            if names[i] != "":
                v = param(inputs, names[i], v).reshape(1).to(torch.float64)
            out.append(v)
        return torch.cat(out)

    def design(self, inputs: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        fc = self._column(inputs, self.fc_names, self.fc).clamp(max=self.nyquist)
        q = self._column(inputs, self.q_names, self.q)
        gain = self._column(inputs, self.gain_names, self.gain)
        w0 = (2.0 * math.pi / self.sample_rate) * fc
        bs: list[Tensor] = []
        as_: list[Tensor] = []
        for i in range(len(self.kinds)):
            b, a = rbj_coefficients(self.kinds[i], w0[i], q[i], gain[i])
            bs.append(b)
            as_.append(a)
        return cascade_state_space(torch.stack(bs), torch.stack(as_))


class SVFBlock(LinearBlock):
    """The trapezoidal SVF with static controls (its modulated form is not LTI)."""

    knob_params: list[str]

    def __init__(self, proc: SVF, channels: int, block_size: int, knob_params: list[str]) -> None:
        values = knob_values(proc, knob_params)
        super().__init__("SVF", channels, 2, _length_for(block_size), knob_params)
        self.sample_rate = float(proc.sample_rate)
        self.nyquist = NYQUIST_MARGIN * self.sample_rate
        self.register_buffer("cutoff", torch.tensor([values["cutoff_hz"]], dtype=torch.float64))
        self.register_buffer("resonance", torch.tensor([values["resonance"]], dtype=torch.float64))
        self.register_buffer("mix", torch.tensor(SVF_MODES[proc.mode], dtype=torch.float64))
        self._build()

    def design(self, inputs: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        fc = param(inputs, "cutoff_hz", self.cutoff).reshape(1).to(torch.float64)
        res = param(inputs, "resonance", self.resonance).reshape(1).to(torch.float64)
        g = torch.tan((math.pi / self.sample_rate) * fc.clamp(max=self.nyquist))[0]
        k = 2.0 * (1.0 - res[0])
        a1 = 1.0 / (1.0 + g * (g + k))
        a2 = g * a1
        a3 = g * a2
        # rows: unit s1, unit s2, unit x -> (v1, v2, y); then s' = 2 v - s
        s1 = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
        s2 = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
        xx = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
        v3 = xx - s2
        v1 = a1 * s1 + a2 * v3
        v2 = s2 + a2 * s1 + a3 * v3
        y = self.mix[0] * v2 + self.mix[1] * v1 + self.mix[2] * (xx - k * v1 - v2)
        n1, n2 = 2 * v1 - s1, 2 * v2 - s2
        step = torch.stack([n1, n2], -1)  # (3, 2): new state from each unit
        return step[:2].t(), step[2], y[:2], y[2]
