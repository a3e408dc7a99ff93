"""What the modern families share: the residual stack they are built as, and the two
parallel scans they train with.

A *mixer* is a family's layer that mixes information across time (minGRU, minLSTM, LRU,
S6). It maps (batch, time, width) to (batch, time, width) and has a state it can carry, in
two modes that compute the same numbers by different arithmetic:

    scan(u, state)     every step at once, by a parallel scan over time: training, evaluation
    step(u_t, state)   one step, the recurrence as the paper writes it: sampling, stateful
                       text, and recording h_t for the gradient-flow callback

The step mode is the independent computation the scan is tested against (float64,
tests/models/test_families.py).

``ResidualStack`` builds every family the way the minGRU paper builds its language model
(Feng et al. 2024): the pre-norm transformer block with the attention swapped for the
recurrence,

    x = x + dropout(mixer(LN(x)))        x = x + dropout(MLP(LN(x)))       ... then LN(x)

Why this and not the LSTM's plain stacking (layer k's h_t is layer k+1's input): the
minimal recurrences are linear in their state, with gates that read x_t only, so their
nonlinearity across time comes from depth; the residual pre-norm path is what lets a deep
stack of them train, and it makes a comparison with the transformer one of mixers only.
S6 keeps Mamba's block, which has no MLP (its gated expansion plays that part).
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

MixerState = torch.Tensor | tuple[torch.Tensor, ...]


def log_space_scan(log_a: torch.Tensor, log_b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t over dim 1 for positive a and b given by their logs, as a
    cumulative sum and a log-cumsum-exp (Heinsen 2023): no step depends on the one before,
    and no product of many a_t underflows. ``h0`` (positive) is the state before step 1."""
    if h0 is not None:
        log_a = F.pad(log_a, (0, 0, 1, 0))
        # a state that underflowed to 0 would give log 0 and a NaN gradient
        log_b = torch.cat([h0.clamp_min(torch.finfo(h0.dtype).tiny).log().unsqueeze(1), log_b], dim=1)
    a_star = log_a.cumsum(dim=1)
    h = (a_star + (log_b - a_star).logcumsumexp(dim=1)).exp()
    return h if h0 is None else h[:, 1:]


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t over dim 1, for real or complex a and b of any trailing
    shape, by a parallel scan (``_scan``) whose backward pass is the same scan run back in
    time (``_LinearScan``)."""
    return _LinearScan.apply(a, b, h0)


def _scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None, chunk: int = 16) -> torch.Tensor:
    """Within chunks of ``chunk`` steps, by recursive doubling (Hillis & Steele 1986):
    log2(chunk) rounds in which every step takes in the partial result ``offset`` steps
    back; from chunk to chunk the last state carries over. Products of a_t only shrink for
    a stable recurrence (|a_t| <= 1), so nothing overflows."""
    states = []
    for start in range(0, a.shape[1], chunk):
        a_c, b_c = a[:, start : start + chunk], b[:, start : start + chunk]
        if h0 is not None:
            b_c = torch.cat([torch.addcmul(b_c[:, :1], a_c[:, :1], h0.unsqueeze(1)), b_c[:, 1:]], dim=1)
        offset, steps = 1, a_c.shape[1]
        while offset < steps:
            b_c = torch.cat(
                [b_c[:, :offset], torch.addcmul(b_c[:, offset:], a_c[:, offset:], b_c[:, :-offset])], dim=1
            )
            if 2 * offset < steps:  # the last round needs no products of a
                a_c = torch.cat([a_c[:, :offset], a_c[:, offset:] * a_c[:, :-offset]], dim=1)
            offset *= 2
        states.append(b_c)
        h0 = b_c[:, -1]
    return torch.cat(states, dim=1)


class _LinearScan(torch.autograd.Function):
    """The scan with its gradient written out. Autograd through the doubling's slices and
    concatenations spends most of its time filling zeros (a (64, 64, 128, 16) scan with
    its backward pass: 480 ms that way, about 150 ms this way, on a 2-core CPU). With
    g_t = dL/dh_t (total), the chain rule through h_{t+1} = a_{t+1} h_t + b_{t+1} is itself
    a linear recurrence run backwards,

        g_t = dL/dh_t (direct) + conj(a_{t+1}) g_{t+1}
        dL/db_t = g_t      dL/da_t = g_t conj(h_{t-1})      dL/dh0 = conj(a_1) g_1

    (conj: PyTorch's convention for complex gradients; a no-op for real tensors).
    """

    @staticmethod
    def forward(ctx, a, b, h0):
        h = _scan(a, b, h0)
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_h):
        a, h, h0 = ctx.saved_tensors
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1).conj()
        g = _scan(a_next.flip(1), grad_h.flip(1), None).flip(1)
        start = torch.zeros_like(h[:, :1]) if h0 is None else h0.unsqueeze(1)
        grad_a = g * torch.cat([start, h[:, :-1]], dim=1).conj()
        grad_h0 = None if h0 is None else a[:, 0].conj() * g[:, 0]
        return grad_a, g, grad_h0


class Mixer(nn.Module, abc.ABC):
    """A family's recurrence over (batch, time, width); see the module docstring."""

    @abc.abstractmethod
    def scan(self, u: torch.Tensor, state: MixerState | None = None) -> tuple[torch.Tensor, MixerState]:
        """Outputs at every step (batch, time, width) and the state after the last."""

    @abc.abstractmethod
    def step(self, u_t: torch.Tensor, state: MixerState | None = None) -> tuple[torch.Tensor, MixerState]:
        """The output (batch, width) of one step and the state after it."""

    def hidden(self, state: MixerState) -> torch.Tensor:
        """The recurrent state h_t within ``state`` (what gradient flow differentiates by)."""
        return state

    def steps(
        self, u: torch.Tensor, state: MixerState | None = None, record: list | None = None
    ) -> tuple[torch.Tensor, MixerState]:
        """``scan``'s result computed one step at a time; appends each h_t to ``record``."""
        outputs = []
        for t in range(u.shape[1]):
            y, state = self.step(u[:, t], state)
            outputs.append(y)
            if record is not None:
                record.append(self.hidden(state))
        return torch.stack(outputs, dim=1), state


class MLP(nn.Module):
    """The transformer's position-wise feed-forward layer (4x wide, GELU)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.up, self.down = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    """x + mixer(LN(x)), then x + MLP(LN(x)); bidirectional: a second mixer reads the
    sequence backwards and its outputs are added to the forward mixer's."""

    def __init__(
        self, mixer: Callable[[int], Mixer], width: int, bidirectional: bool, dropout: float, mlp: bool
    ):
        super().__init__()
        self.norm, self.mixer = nn.LayerNorm(width), mixer(width)
        self.reverse = mixer(width) if bidirectional else None
        self.mlp_norm, self.mlp = (nn.LayerNorm(width), MLP(width)) if mlp else (None, None)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, state: MixerState | None, record: list | None
    ) -> tuple[torch.Tensor, MixerState]:
        u = self.norm(x)
        if record is None:
            y, state = self.mixer.scan(u, state)
        else:
            y, state = self.mixer.steps(u, state, record)
        if self.reverse is not None:
            y = y + self.reverse.scan(u.flip(1))[0].flip(1)
        x = x + self.drop(y)
        if self.mlp is not None:
            x = x + self.drop(self.mlp(self.mlp_norm(x)))
        return x, state


class ResidualStack(nn.Module):
    """The backbone of the modern recurrent families (see the module docstring): an input
    projection to ``hidden_size``, ``num_layers`` residual blocks around ``mixer``, a final
    LayerNorm. The state is one mixer state per layer (the forward direction's).

    A recording copy (``recording_copy()``) runs every mixer in its step mode and keeps the
    top layer's h_t of every step in ``recorded``: gradient flow sees the recurrence that
    the step mode computes, which the tests hold equal to the scan.
    """

    carries_state = True
    num_directions = 1  # a bidirectional block adds its two directions into one output

    def __init__(
        self,
        mixer: Callable[[int], Mixer],
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        dropout: float,
        mlp: bool = True,
    ) -> None:
        super().__init__()
        self.hidden_size = self.output_size = hidden_size
        self.input = nn.Linear(input_size, hidden_size) if input_size != hidden_size else nn.Identity()
        self.blocks = nn.ModuleList(
            Block(mixer, hidden_size, bidirectional, dropout, mlp) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(hidden_size)
        self.record = False
        self.recorded: list[torch.Tensor] = []

    def forward(
        self, x: torch.Tensor, state: tuple[MixerState, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[MixerState, ...]]:
        """(batch, time, input_size) -> outputs (batch, time, hidden_size), state per layer."""
        x = self.input(x)
        states = state if state is not None else (None,) * len(self.blocks)
        self.recorded = []
        final = []
        for index, (block, layer_state) in enumerate(zip(self.blocks, states, strict=True)):
            top = index == len(self.blocks) - 1
            record = (self.recorded if top else []) if self.record else None
            x, layer_state = block(x, layer_state, record)
            final.append(layer_state)
        return self.norm(x), tuple(final)

    def recording_copy(self) -> ResidualStack:
        """A copy with the same weights that runs step by step and keeps the top layer's h_t."""
        recorder = copy.deepcopy(self)
        recorder.record = True
        return recorder
