"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): the GRU and the LSTM
with every gate computed from x_t alone, so that training runs over the whole sequence by
a parallel scan instead of a loop.

    minGRU     z_t = s(W_z x_t + b_z)          h~_t = g(W_h x_t + b_h)
               h_t = (1 - z_t) * h_{t-1} + z_t * h~_t
    minLSTM    f_t = s(W_f x_t + b_f)    i_t = s(W_i x_t + b_i)    h~_t = g(W_h x_t + b_h)
               f'_t, i'_t = f_t / (f_t + i_t), i_t / (f_t + i_t)      (time-independent scale)
               h_t = f'_t * h_{t-1} + i'_t * h~_t

s is the sigmoid and g(v) = v + 1/2 for v >= 0, s(v) below: a continuous activation that
keeps every h~_t, and so every h_t from a positive (or zero) start, positive. That is what
the paper's log-space scan needs: h_t = a_t h_{t-1} + b_t with a_t = 1 - z_t (or f'_t) and
b_t = z_t h~_t (or i'_t h~_t), all positive, so log h_t is a cumulative sum and a
log-cumsum-exp of logs that are computed directly from the pre-activations with softplus
(log s(v) = -softplus(-v), log(1 - s(v)) = -softplus(v)), never by taking the log of a
number that has underflowed (Heinsen 2023; models/blocks.py:log_space_scan).

``scan="linear"`` (the default) runs the same recurrence by the chunked linear scan of
models/blocks.py on a_t and b_t themselves: with a_t in (0, 1) nothing overflows there
either, and it is 4x faster on a CPU (forward + backward, batch 16, width 128, T=1024:
logcumsumexp and its backward, two more logcumsumexps and flips, were 28% of the
log-space time; docs/benchmarks.md). ``scan="log"`` is the paper's form. Both are tested
equal to the step mode, the recurrence written above with no logs, in float64. The layers
run inside the residual stack of models/blocks.py, as in the paper's language model.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from rnnlab.declared import Annotated, Field, declared
from rnnlab.models.blocks import Mixer, ResidualStack, linear_scan, log_space_scan
from rnnlab.models.net import SequenceNet


def g(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v >= 0, (F.relu(v) + 0.5).log(), -F.softplus(-v))


class MinGRU(Mixer):
    def __init__(self, width: int, scan: str = "linear") -> None:
        super().__init__()
        self.state_size = width  # h
        self.linear = nn.Linear(width, 2 * width)  # the candidate h~ and the update gate z
        self.log_space = scan == "log"

    def scan(self, u: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        k_h, k_z = self.linear(u).chunk(2, dim=-1)
        if self.log_space:
            log_a = -F.softplus(k_z)  # log(1 - z)
            log_b = -F.softplus(-k_z) + log_g(k_h)  # log(z * h~)
            h = log_space_scan(log_a, log_b, state)
        else:
            z = torch.sigmoid(k_z)
            h = linear_scan(1 - z, z * g(k_h), state)
        return h, h[:, -1]

    def step(self, u_t: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        k_h, k_z = self.linear(u_t).chunk(2, dim=-1)
        z, candidate = torch.sigmoid(k_z), g(k_h)
        h = z * candidate if state is None else (1 - z) * state + z * candidate
        return h, h


class MinLSTM(Mixer):
    def __init__(self, width: int, scan: str = "linear") -> None:
        super().__init__()
        self.state_size = width  # h
        self.linear = nn.Linear(width, 3 * width)  # the forget gate f, the input gate i, the candidate h~
        self.log_space = scan == "log"

    def scan(self, u: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        k_f, k_i, k_h = self.linear(u).chunk(3, dim=-1)
        if self.log_space:
            # log(i / f), then log f' = -softplus(log(i / f)) and log i' = -softplus(-log(i / f))
            log_ratio = F.softplus(-k_f) - F.softplus(-k_i)
            log_a, log_b = -F.softplus(log_ratio), -F.softplus(-log_ratio) + log_g(k_h)
            h = log_space_scan(log_a, log_b, state)
        else:
            f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
            forget = f / (f + i)
            h = linear_scan(forget, (1 - forget) * g(k_h), state)  # i' = 1 - f': one division fewer
        return h, h[:, -1]

    def step(self, u_t: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        k_f, k_i, k_h = self.linear(u_t).chunk(3, dim=-1)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        f, i = f / (f + i), i / (f + i)
        h = i * g(k_h) if state is None else f * state + i * g(k_h)
        return h, h


class MinRNNNet(SequenceNet):
    """A SequenceNet (models/net.py) whose backbone is a residual stack of minGRU or minLSTM
    layers (``cell: mingru | minlstm``), trained by the ``scan`` named (see the module
    docstring)."""

    @declared
    def __init__(
        self,
        cell: Annotated[Literal["mingru", "minlstm"], Field(description="the cell")] = "mingru",
        scan: Annotated[
            Literal["linear", "log"],
            Field(
                description="linear: the chunked linear scan; log: the paper's log-space scan (same numbers)"
            ),
        ] = "linear",
        **settings,
    ) -> None:
        mixer = {"mingru": MinGRU, "minlstm": MinLSTM}[cell]
        super().__init__(partial(ResidualStack, partial(mixer, scan=scan)), **settings)
