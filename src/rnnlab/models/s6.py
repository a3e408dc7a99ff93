"""A selective state-space layer (S6) in Mamba's block (Gu & Dao 2023, "Mamba: Linear-Time
Sequence Modeling with Selective State Spaces"), in plain torch.

The block widens the input to ``inner = expand * width`` features in two branches. One runs a
short causal depthwise convolution and SiLU, then the selective SSM; the other gates it:

    x, z = W_in u                      x = SiLU(conv(x))          (conv over the last k steps)
    delta_t = softplus(W_dt (W_r x_t) + b_dt)     B_t, C_t = W_B x_t, W_C x_t   (inputs choose them)
    h_t = exp(delta_t A) * h_{t-1} + (delta_t x_t) B_t          (each of the inner channels
    y_t = C_t . h_t + D * x_t                                   has a state of state_size)
    out = W_out (y * SiLU(z))

A = -exp(A_log) is diagonal and negative, so exp(delta_t A) lies in (0, 1): a step keeps
part of its state, forgetting faster where the input makes delta_t large, which is the
selection mechanism. Initialization as in the paper: A_log = log(1..state_size) per
channel (S4D-real), delta's bias set so that softplus gives steps log-uniform in
[0.001, 0.1], D = 1.

Training runs the recurrence by a parallel scan (models/blocks.py:linear_scan) over chunks
of ``CHUNK`` steps, carrying h from one to the next: the (batch, time, inner, state_size)
state is never held whole. Each chunk's states are made, read by C and dropped, and made
again in the backward pass (activation checkpointing), so memory grows with T only by the
(batch, T, inner) inputs: T = 4096 trains where the whole-sequence scan held 1 GiB per
tensor, and chunks that fit the CPU's caches made it 2x faster (docs/benchmarks.md). The
step mode carries the last k - 1 convolution inputs and h_t, as Mamba's generation does.
The block is stacked with a pre-norm residual path and no MLP, as Mamba is
(models/blocks.py).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from rnnlab.declared import Annotated, Field, declared
from rnnlab.models.blocks import Mixer, ResidualStack, causal_conv, linear_scan
from rnnlab.models.net import SequenceNet

S6State = tuple[torch.Tensor, torch.Tensor]  # the last k - 1 convolution inputs, h
CHUNK = 64  # steps whose states are held at once (measured best of 32, 64, 128 at T = 1024)


class S6(Mixer):
    def __init__(self, width: int, state_size: int, expand: int, conv_kernel: int) -> None:
        super().__init__()
        inner, rank = expand * width, math.ceil(width / 16)
        self.inner, self.kernel, self.rank, self.features = inner, conv_kernel, rank, state_size
        self.state_size = inner * state_size + (conv_kernel - 1) * inner  # h, the convolution's inputs
        self.in_proj = nn.Linear(width, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, conv_kernel, groups=inner)
        self.x_proj = nn.Linear(inner, rank + 2 * state_size, bias=False)  # delta (low rank), B, C
        self.dt_proj = nn.Linear(rank, inner)
        self.out_proj = nn.Linear(inner, width, bias=False)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, state_size + 1.0)).repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        nn.init.uniform_(self.dt_proj.weight, -(rank**-0.5), rank**-0.5)
        step = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
        with torch.no_grad():  # the bias whose softplus is that step
            self.dt_proj.bias.copy_(step + torch.log(-torch.expm1(-step)))

    def _selective(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """delta (..., inner), B and C (..., state_size) from the convolved inputs x (..., inner)."""
        low, B, C = self.x_proj(x).split([self.rank, self.features, self.features], dim=-1)
        return F.softplus(self.dt_proj(low)), B, C

    def _chunk(
        self, delta: torch.Tensor, x: torch.Tensor, B: torch.Tensor, C: torch.Tensor, h: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """C . h_t for the steps of one chunk, and the last h: h_t = exp(delta A) h_{t-1} + delta x B."""
        decay = torch.exp(delta.unsqueeze(-1) * -torch.exp(self.A_log))
        drive = (delta * x).unsqueeze(-1) * B.unsqueeze(-2)
        states = linear_scan(decay, drive, h)
        # the last state copied: a view would keep the chunk's states alive until the backward
        return torch.einsum("btdn,btn->btd", states, C), states[:, -1].clone()

    def scan(self, u: torch.Tensor, state: S6State | None = None) -> tuple[torch.Tensor, S6State]:
        x, z = self.in_proj(u).chunk(2, dim=-1)
        x, inputs = causal_conv(x, None if state is None else state[0], self.conv.weight, self.conv.bias)
        x = F.silu(x)
        delta, B, C = self._selective(x)
        h = x.new_zeros(x.shape[0], self.inner, self.features) if state is None else state[1]
        outputs = []
        for start in range(0, x.shape[1], CHUNK):
            part = (t[:, start : start + CHUNK] for t in (delta, x, B, C))
            y, h = checkpoint(self._chunk, *part, h, use_reentrant=False)
            outputs.append(y)
        y = torch.cat(outputs, dim=1) + self.D * x
        return self.out_proj(y * F.silu(z)), (inputs, h)

    def step(self, u_t: torch.Tensor, state: S6State | None = None) -> tuple[torch.Tensor, S6State]:
        x, z = self.in_proj(u_t).chunk(2, dim=-1)
        before = x.new_zeros(x.shape[0], self.kernel - 1, self.inner) if state is None else state[0]
        window = torch.cat([before, x.unsqueeze(1)], dim=1)  # (batch, k, inner)
        x = F.silu(torch.einsum("bkd,dk->bd", window, self.conv.weight[:, 0]) + self.conv.bias)
        delta, B, C = self._selective(x)
        decay = torch.exp(delta.unsqueeze(-1) * -torch.exp(self.A_log))
        drive = (delta * x).unsqueeze(-1) * B.unsqueeze(-2)
        h = drive if state is None else decay * state[1] + drive
        y = (h * C.unsqueeze(-2)).sum(-1) + self.D * x
        return self.out_proj(y * F.silu(z)), (window[:, 1:], h)

    def hidden(self, state: S6State) -> torch.Tensor:
        return state[1]


class S6Net(SequenceNet):
    """A SequenceNet (models/net.py) whose backbone is a residual stack of Mamba blocks."""

    @declared
    def __init__(
        self,
        state_size: Annotated[int, Field(ge=1, description="SSM state features per inner channel")] = 16,
        expand: Annotated[int, Field(ge=1, description="inner channels = expand * hidden_size")] = 2,
        conv_kernel: Annotated[int, Field(ge=1, description="the causal depthwise convolution's width")] = 4,
        **settings,
    ) -> None:
        mixer = partial(S6, state_size=state_size, expand=expand, conv_kernel=conv_kernel)
        super().__init__(partial(ResidualStack, mixer, mlp=False), **settings)
