"""The delta rule: DeltaNet (Schlag, Irie & Schmidhuber 2021, "Linear Transformers Are
Secretly Fast Weight Programmers"; trained in chunks as Yang, Wang, Zhang, Shen & Kim 2024,
"Parallelizing Linear Transformers with the Delta Rule over Sequence Length") and Gated
DeltaNet (Yang, Kautz & Hatamizadeh 2025, "Gated Delta Networks").

A head keeps a matrix memory S (key size x value size). Each step it reads what S holds
for the key, and writes the difference between the new value and that, scaled by beta:

    S_t = alpha_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T        o_t = S_t^T q_t

with keys and queries L2-normalized, beta_t = sigmoid(w_b . x_t) in (0, 1), and for the
gated form a decay alpha_t = exp(-exp(A_log) softplus(w_a . x_t + b_a)) in (0, 1), as
Mamba-2's (DeltaNet: alpha_t = 1). Where linear attention only adds v k^T (and so mixes
every key it has seen), the delta rule replaces the value stored at a key, which is what
lets it recall: the reason the recall studies measure it.

Training runs it in chunks of C steps (the WY/UT form). Writing the step as
S_t = alpha_t S_{t-1} + k_t u_t^T with u_t = beta_t (v_t - alpha_t S_{t-1}^T k_t), and
g_t = log alpha summed from the chunk's start, the u of a chunk solve one unit lower
triangular system, and the chunk's outputs and end state follow from the state S_0 that
enters it:

    (I + diag(beta) M) U = diag(beta) (V - diag(e^g) K S_0),   M_tj = e^{g_t - g_j} k_t . k_j  (j < t)
    O = diag(e^g) Q S_0 + [(Q K^T) o e^{g_t - g_j}]_{j <= t} U
    S_C = e^{g_C} S_0 + (K o e^{g_C - g_j})^T U

Every exponent is <= 0, so nothing overflows. The two solves (for V and for K) run for
all chunks at once; only S is carried from chunk to chunk. The step mode computes the
first equation as written, the independent computation the chunked form is tested
against (float64, tests/models/test_families.py).

Around the memory, as in the papers: q, k and v through short causal convolutions and
SiLU (``short_conv``), the output normalized per head and, with ``output_gate``, gated by
SiLU(W_g x); the block stacks with a pre-norm residual path and an MLP (models/blocks.py).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from rnnlab.declared import Annotated, Field, declared
from rnnlab.models.blocks import Mixer, ResidualStack, causal_conv
from rnnlab.models.net import SequenceNet

# the state: S (batch, heads, key, value), and the last k - 1 inputs of the q, k, v convolutions
DeltaState = tuple[torch.Tensor, torch.Tensor]


def delta_rule(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    g: torch.Tensor | None,
    S: torch.Tensor,
    chunk: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The chunked (WY/UT) form of the (gated) delta rule; see the module docstring.

    q, k (batch, heads, T, key), v (batch, heads, T, value), beta (batch, heads, T), g
    (batch, heads, T) the log decays (None: no decay), S (batch, heads, key, value) the
    state before step 1. Returns the outputs (batch, heads, T, value) and the last state."""
    batch, heads, steps, _ = k.shape
    chunks = -(-steps // chunk)
    pad = chunks * chunk - steps  # steps that write nothing (beta 0) and keep the state (g 0)
    q, k, v = (F.pad(t, (0, 0, 0, pad)).unflatten(2, (chunks, chunk)) for t in (q, k, v))
    beta = F.pad(beta, (0, pad)).unflatten(2, (chunks, chunk)).unsqueeze(-1)
    if g is None:
        g = q.new_zeros(batch, heads, chunks, chunk)
    else:
        g = F.pad(g, (0, pad)).unflatten(2, (chunks, chunk)).cumsum(-1)
    # g (batch, heads, chunks, C): the log decay from the chunk's start to each step
    lower = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    decay = (g.unsqueeze(-1) - g.unsqueeze(-2)).masked_fill(~lower, -math.inf).exp()  # e^{g_t - g_j}

    eye = torch.eye(chunk, dtype=q.dtype, device=q.device)
    system = eye + beta * (k @ k.transpose(-1, -2)) * decay.tril(-1)
    solve = partial(torch.linalg.solve_triangular, system, upper=False, unitriangular=True)
    values, keys = solve(beta * v), solve(beta * g.exp().unsqueeze(-1) * k)
    scores = (q @ k.transpose(-1, -2)) * decay  # what each key adds to each query, decayed
    ends = (k * (g[..., -1:] - g).exp().unsqueeze(-1)).transpose(-1, -2)  # K o e^{g_C - g_j}, transposed
    # per chunk, by unbind: indexing in the loop would make every slice's backward a
    # zero-filled tensor of the whole input
    per_chunk = zip(
        *(t.unbind(2) for t in (values, keys, g.exp().unsqueeze(-1), q, scores, g[..., -1].exp(), ends)),
        strict=True,
    )
    outputs = []
    for values_c, keys_c, into_c, q_c, scores_c, whole_c, ends_c in per_chunk:
        U = values_c - keys_c @ S
        outputs.append(into_c * (q_c @ S) + scores_c @ U)
        S = whole_c[..., None, None] * S + ends_c @ U
    return torch.stack(outputs, dim=2).flatten(2, 3)[:, :, :steps], S


class DeltaRule(Mixer):
    def __init__(
        self,
        width: int,
        num_heads: int,
        expand: int,
        gated: bool,
        short_conv: bool,
        conv_kernel: int,
        output_gate: bool,
        chunk_size: int,
    ) -> None:
        super().__init__()
        self.heads, self.head_size = num_heads, math.ceil(expand * width / num_heads)
        self.inner, self.gated, self.chunk = num_heads * self.head_size, gated, chunk_size
        self.kernel = conv_kernel if short_conv else 1
        self.qkv = nn.Linear(width, 3 * self.inner, bias=False)
        self.beta = nn.Linear(width, num_heads)
        channels = 3 * self.inner
        self.conv = nn.Conv1d(channels, channels, conv_kernel, groups=channels) if short_conv else None
        if gated:  # Mamba-2's decay: A in [1, 16], the step softplus(w_a . x + b_a) in [0.001, 0.1]
            self.decay = nn.Linear(width, num_heads, bias=False)
            self.A_log = nn.Parameter(torch.log(torch.empty(num_heads).uniform_(1, 16)))
            step = torch.exp(torch.rand(num_heads) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
            self.dt_bias = nn.Parameter(step + torch.log(-torch.expm1(-step)))
        self.gate = nn.Linear(width, self.inner, bias=False) if output_gate else None
        self.norm = nn.RMSNorm(self.head_size, eps=1e-5)
        self.out_proj = nn.Linear(self.inner, width, bias=False)
        self.state_size = num_heads * self.head_size**2 + (self.kernel - 1) * 3 * self.inner

    def _inputs(self, u: torch.Tensor, before: torch.Tensor | None):
        """q, k (L2-normalized), v, beta and the log decay g (None ungated) of u (batch, T,
        width), heads first: (batch, heads, T, ...); and the convolution's last inputs."""
        qkv = self.qkv(u)
        inputs = qkv[:, :0]  # without the convolutions, no inputs to keep
        if self.conv is not None:
            qkv, inputs = causal_conv(qkv, before, self.conv.weight, self.conv.bias)
        q, k, v = F.silu(qkv).unflatten(-1, (3, self.heads, self.head_size)).permute(2, 0, 3, 1, 4)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        beta = torch.sigmoid(self.beta(u)).transpose(1, 2)
        g = None
        if self.gated:
            g = (-self.A_log.exp() * F.softplus(self.decay(u) + self.dt_bias)).transpose(1, 2)
        return q, k, v, beta, g, inputs

    def _out(self, o: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """o (batch, heads, T, value) normalized per head, gated, projected back."""
        o = self.norm(o).transpose(1, 2).flatten(-2)
        if self.gate is not None:
            o = o * F.silu(self.gate(u))
        return self.out_proj(o)

    def _empty(self, u: torch.Tensor) -> torch.Tensor:
        return u.new_zeros(u.shape[0], self.heads, self.head_size, self.head_size)

    def scan(self, u: torch.Tensor, state: DeltaState | None = None) -> tuple[torch.Tensor, DeltaState]:
        S, before = (self._empty(u), None) if state is None else state
        q, k, v, beta, g, inputs = self._inputs(u, before)
        o, S = delta_rule(q, k, v, beta, g, S, self.chunk)
        return self._out(o, u), (S, inputs)

    def step(self, u_t: torch.Tensor, state: DeltaState | None = None) -> tuple[torch.Tensor, DeltaState]:
        S, before = (self._empty(u_t), None) if state is None else state
        q, k, v, beta, g, inputs = self._inputs(u_t.unsqueeze(1), before)
        q, k, v, beta = q[:, :, 0], k[:, :, 0], v[:, :, 0], beta[:, :, 0, None, None]
        alpha = 1.0 if g is None else g[:, :, 0].exp()[..., None, None]
        eye = torch.eye(self.head_size, dtype=u_t.dtype, device=u_t.device)
        erase = eye - beta * k.unsqueeze(-1) * k.unsqueeze(-2)  # I - beta k k^T
        S = alpha * (erase @ S) + beta * k.unsqueeze(-1) * v.unsqueeze(-2)
        o = (q.unsqueeze(-2) @ S).squeeze(-2)  # S^T q
        return self._out(o.unsqueeze(2), u_t.unsqueeze(1))[:, 0], (S, inputs)

    def hidden(self, state: DeltaState) -> torch.Tensor:
        return state[0]


class DeltaNet(SequenceNet):
    """A SequenceNet (models/net.py) whose backbone is a residual stack of delta-rule layers;
    ``gated``: Gated DeltaNet."""

    @declared
    def __init__(
        self,
        gated: Annotated[bool, Field(description="Gated DeltaNet: a decay alpha_t on the memory")] = False,
        num_heads: Annotated[int, Field(ge=1, description="heads, each with its own matrix memory")] = 4,
        expand: Annotated[int, Field(ge=1, description="q, k, v channels: about expand * hidden_size")] = 1,
        short_conv: Annotated[bool, Field(description="short causal convolutions on q, k and v")] = True,
        conv_kernel: Annotated[int, Field(ge=2, description="their width")] = 4,
        output_gate: Annotated[bool, Field(description="gate the normalized output by SiLU(W_g x)")] = False,
        chunk_size: Annotated[
            int, Field(ge=1, description="steps per chunk of the WY/UT form (any length is padded)")
        ] = 64,
        **settings,
    ) -> None:
        mixer = partial(
            DeltaRule,
            num_heads=num_heads,
            expand=expand,
            gated=gated,
            short_conv=short_conv,
            conv_kernel=conv_kernel,
            output_gate=output_gate,
            chunk_size=chunk_size,
        )
        super().__init__(partial(ResidualStack, mixer), **settings)
