"""Mamba-2 (Dao & Gu 2024, "Transformers are SSMs: Generalized Models and Efficient
Algorithms Through Structured State Space Duality"): a selective SSM whose decay is one
scalar per head, trained by the chunked SSD algorithm.

The block widens the input to ``inner`` channels (about ``expand`` times the width, in
``num_heads`` heads of equal size, so that any width works and a parameter budget can
choose it); a short causal
depthwise convolution and SiLU act on x, B and C together; z gates the output:

    z, x, B, C, dt = W_in u               x, B, C = SiLU(conv(x, B, C))
    dt_t = softplus(dt_t + b_dt)          a_t = -exp(A_log) dt_t            (one per head)
    h_t = exp(a_t) h_{t-1} + (dt_t x_t) B_t^T      (each head: head_size x state_size)
    y_t = h_t C_t + D x_t                 out = W_out RMSNorm(y * SiLU(z))    (h: head size x N)

Because exp(a_t) is a scalar per head, the state after t steps is a weighted sum of
earlier inputs with weights exp(s_t - s_j) (s the cumulative sum of a): within a chunk of
``chunk_size`` steps the outputs are one masked matrix product, like attention with a
decaying mask (the "quadratic" dual form), and across chunks only the chunks' end states
are carried, one small recurrence per chunk:

    y_t = sum_{j <= t in chunk} (C_t . B_j) exp(s_t - s_j) dt_j x_j  +  exp(s_t) h_in C_t
    h_out = exp(s_L) h_in + sum_j exp(s_L - s_j) dt_j x_j B_j^T

No exponent is positive (s only falls), so nothing overflows at any length. The step mode
runs the recurrence as written above and is what the chunked form is tested against
(float64, tests/models/test_families.py). B and C are shared by the heads (one group), as
in the paper's default; the block stacks with a pre-norm residual path and no MLP, as
Mamba does (models/blocks.py).
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

SSDState = tuple[torch.Tensor, torch.Tensor]  # the last k - 1 convolution inputs, h


def ssd(
    x: torch.Tensor, a: torch.Tensor, B: torch.Tensor, C: torch.Tensor, h: torch.Tensor, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The chunked SSD form of h_t = exp(a_t) h_{t-1} + x_t B_t^T, y_t = h_t C_t.

    x (batch, T, heads, p) the discretized inputs dt x, a (batch, T, heads) the log decays,
    B and C (batch, T, n), h (batch, heads, p, n) the state before step 1. Returns y
    (batch, T, heads, p) and the state after the last step. Every product is a batched
    matrix product over (batch, chunk, head)."""
    batch, steps, heads, p = x.shape
    chunks = -(-steps // chunk)
    pad = chunks * chunk - steps  # steps that keep the state: no decay, no input
    x = F.pad(x, (0, 0, 0, 0, 0, pad)).view(batch, chunks, chunk, heads, p).transpose(2, 3)
    s = F.pad(a, (0, 0, 0, pad)).view(batch, chunks, chunk, heads).transpose(2, 3).cumsum(-1)
    B, C = (F.pad(t, (0, 0, 0, pad)).view(batch, chunks, 1, chunk, -1) for t in (B, C))
    # s (batch, chunks, heads, L): the log decay from the chunk's start; x (.., heads, L, p)

    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=x.device).tril()
    gaps = (s.unsqueeze(-1) - s.unsqueeze(-2)).masked_fill(~causal, -math.inf)  # s_t - s_j
    within = ((C @ B.transpose(-1, -2)) * gaps.exp()) @ x

    to_end = (s[..., -1:] - s).exp()  # what each step's input has decayed by at the chunk's end
    local = (x * to_end.unsqueeze(-1)).transpose(-1, -2) @ B  # (batch, chunks, heads, p, n)
    whole = s[..., -1].exp()  # (batch, chunks, heads): the decay over the whole chunk
    entering = []
    for whole_k, local_k in zip(whole.unbind(1), local.unbind(1), strict=True):  # unbind: see delta.py
        entering.append(h)
        h = whole_k[..., None, None] * h + local_k
    entering = torch.stack(entering, dim=1)  # (batch, chunks, heads, p, n)
    carried = (C @ entering.transpose(-1, -2)) * s.exp().unsqueeze(-1)
    y = (within + carried).transpose(2, 3).reshape(batch, chunks * chunk, heads, p)
    return y[:, :steps], h


class SSD(Mixer):
    def __init__(
        self, width: int, state_size: int, expand: int, num_heads: int, conv_kernel: int, chunk_size: int
    ) -> None:
        super().__init__()
        self.heads, self.head_size = num_heads, math.ceil(expand * width / num_heads)
        self.inner, self.features = num_heads * self.head_size, state_size
        self.kernel, self.chunk = conv_kernel, chunk_size
        self.conv_width = self.inner + 2 * state_size  # x, B and C go through the convolution
        self.state_size = self.inner * state_size + (conv_kernel - 1) * self.conv_width
        self.in_proj = nn.Linear(width, self.inner + self.conv_width + self.heads, bias=False)
        self.conv = nn.Conv1d(self.conv_width, self.conv_width, conv_kernel, groups=self.conv_width)
        self.norm = nn.RMSNorm(self.inner, eps=1e-5)
        self.out_proj = nn.Linear(self.inner, width, bias=False)
        # the paper's initialization: A in [1, 16], dt log-uniform in [0.001, 0.1], D = 1
        self.A_log = nn.Parameter(torch.log(torch.empty(self.heads).uniform_(1, 16)))
        self.D = nn.Parameter(torch.ones(self.heads))
        step = torch.exp(torch.rand(self.heads) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
        self.dt_bias = nn.Parameter(step + torch.log(-torch.expm1(-step)))  # softplus(dt_bias) = step

    def _split(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.in_proj(u).split([self.inner, self.conv_width, self.heads], dim=-1)

    def _ssm_inputs(self, xBC: torch.Tensor, dt: torch.Tensor):
        """x (..., heads, p), B, C (..., n), the step dt and the log decay a (..., heads)."""
        x, B, C = xBC.split([self.inner, self.features, self.features], dim=-1)
        dt = F.softplus(dt + self.dt_bias)
        return x.unflatten(-1, (self.heads, self.head_size)), B, C, dt, -torch.exp(self.A_log) * dt

    def _out(self, y: torch.Tensor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        y = (y + self.D[:, None] * x).flatten(-2)
        return self.out_proj(self.norm(y * F.silu(z)))

    def scan(self, u: torch.Tensor, state: SSDState | None = None) -> tuple[torch.Tensor, SSDState]:
        z, xBC, dt = self._split(u)
        batch = u.shape[0]
        xBC, inputs = causal_conv(xBC, None if state is None else state[0], self.conv.weight, self.conv.bias)
        x, B, C, dt, a = self._ssm_inputs(F.silu(xBC), dt)
        h = x.new_zeros(batch, self.heads, self.head_size, self.features) if state is None else state[1]
        y, h = ssd(x * dt.unsqueeze(-1), a, B, C, h, self.chunk)
        return self._out(y, x, z), (inputs, h)

    def step(self, u_t: torch.Tensor, state: SSDState | None = None) -> tuple[torch.Tensor, SSDState]:
        z, xBC, dt = self._split(u_t)
        batch = u_t.shape[0]
        before = xBC.new_zeros(batch, self.kernel - 1, self.conv_width) if state is None else state[0]
        window = torch.cat([before, xBC.unsqueeze(1)], dim=1)  # (batch, k, channels)
        xBC = torch.einsum("bkd,dk->bd", window, self.conv.weight[:, 0]) + self.conv.bias
        x, B, C, dt, a = self._ssm_inputs(F.silu(xBC), dt)
        h = x.new_zeros(batch, self.heads, self.head_size, self.features) if state is None else state[1]
        h = a.exp()[..., None, None] * h + (dt[..., None] * x)[..., None] * B[:, None, None, :]
        y = torch.einsum("bhpn,bn->bhp", h, C)
        return self._out(y, x, z), (window[:, 1:], h)

    def hidden(self, state: SSDState) -> torch.Tensor:
        return state[1]


class Mamba2Net(SequenceNet):
    """A SequenceNet (models/net.py) whose backbone is a residual stack of Mamba-2 blocks."""

    @declared
    def __init__(
        self,
        state_size: Annotated[int, Field(ge=1, description="SSM state features per head channel (N)")] = 32,
        expand: Annotated[int, Field(ge=1, description="inner channels = expand * hidden_size")] = 2,
        num_heads: Annotated[
            int, Field(ge=1, description="heads of the inner channels: each has a decay, all share B and C")
        ] = 4,
        conv_kernel: Annotated[int, Field(ge=1, description="the causal depthwise convolution's width")] = 4,
        chunk_size: Annotated[
            int, Field(ge=1, description="steps per chunk of the SSD algorithm (any length is padded)")
        ] = 64,
        **settings,
    ) -> None:
        mixer = partial(
            SSD,
            state_size=state_size,
            expand=expand,
            num_heads=num_heads,
            conv_kernel=conv_kernel,
            chunk_size=chunk_size,
        )
        super().__init__(partial(ResidualStack, mixer, mlp=False), **settings)
