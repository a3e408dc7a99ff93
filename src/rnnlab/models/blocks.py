"""What the modern families share: the residual stack they are built as, and the two
parallel scans they train with.

A *mixer* is a family's layer that mixes information across time (minGRU, minLSTM, LRU,
S6). It maps (batch, time, width) to (batch, time, width) and has a state it can carry, in
two modes that compute the same numbers by different arithmetic:

    scan(u, state)     every step at once, by a parallel scan over time: training, evaluation
                       (calling the mixer runs it over segments of 512 steps: Mixer.forward)
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
    shape, by a chunked scan (``_scan``) whose backward pass is the same scan run back in
    time (``_LinearScan``)."""
    return _LinearScan.apply(a, b, h0)


def _scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None, reverse: bool = False) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t (``reverse``: h_t = a_t h_{t+1} + b_t, h0 the state after
    the last step) in two passes over chunks of about sqrt(T) steps, every chunk at once:

        1. each chunk runs the recurrence from a zero state, keeping only its last state
           and the product of its a_t: the chunk as one step, h_out = A h_in + B;
        2. those T/C chunk-steps run in turn, giving the state entering every chunk;
        3. each chunk runs the recurrence again from its true entering state, writing h_t.

    That is 2C + T/C small operations (each on batch x T/C x width numbers) and about six
    reads or writes of a (batch, T, width) tensor, where recursive doubling (Hillis & Steele)
    needs log2(C) full rounds of products and copies: 3.5x faster here at T = 1024
    (docs/benchmarks.md). No products of many a_t are formed, so nothing under- or
    overflows beyond what the recurrence itself does."""
    batch, steps = a.shape[:2]
    chunk = max(1, round(steps**0.5))
    chunks = -(-steps // chunk)
    if chunks * chunk > steps:  # pad the end with steps that keep the state: a = 1, b = 0
        pad = (batch, chunks * chunk - steps, *a.shape[2:])
        a, b = torch.cat([a, a.new_ones(pad)], dim=1), torch.cat([b, b.new_zeros(pad)], dim=1)
    a = a.reshape(batch, chunks, chunk, *a.shape[2:])
    b = b.reshape(batch, chunks, chunk, *b.shape[2:])
    order = range(chunk - 1, -1, -1) if reverse else range(chunk)

    first, *rest = order
    chunk_b, chunk_a = b[:, :, first], a[:, :, first]
    for t in rest:
        chunk_b = torch.addcmul(b[:, :, t], a[:, :, t], chunk_b)
        chunk_a = chunk_a * a[:, :, t]

    entering = torch.empty_like(chunk_b)
    state = torch.zeros_like(chunk_b[:, 0]) if h0 is None else h0
    for k in reversed(range(chunks)) if reverse else range(chunks):
        entering[:, k] = state
        state = torch.addcmul(chunk_b[:, k], chunk_a[:, k], state)

    h, state = torch.empty_like(b), entering
    for t in order:
        state = torch.addcmul(b[:, :, t], a[:, :, t], state, out=h[:, :, t])
    return h.flatten(1, 2)[:, :steps]


class _LinearScan(torch.autograd.Function):
    """The scan with its gradient written out (autograd would record every one of the
    scan's small steps). With g_t = dL/dh_t (total), the chain rule through
    h_{t+1} = a_{t+1} h_t + b_{t+1} is itself a linear recurrence run backwards,

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
        g = _scan(a_next, grad_h, None, reverse=True)
        start = torch.zeros_like(h[:, :1]) if h0 is None else h0.unsqueeze(1)
        grad_a = g * torch.cat([start, h[:, :-1]], dim=1).conj()
        grad_h0 = None if h0 is None else a[:, 0].conj() * g[:, 0]
        return grad_a, g, grad_h0


class Mixer(nn.Module, abc.ABC):
    """A family's recurrence over (batch, time, width); see the module docstring. Calling
    the mixer runs ``scan`` over segments of the sequence (``forward``)."""

    segment = 512  # the most steps one ``scan`` call takes; see ``forward``
    state_size: int  # the numbers ``state`` holds per sequence (a complex number counts two)

    def forward(self, u: torch.Tensor, state: MixerState | None = None) -> tuple[torch.Tensor, MixerState]:
        """``scan`` over segments of at most ``segment`` steps, the state carried from one to
        the next: the numbers of one scan over the whole sequence (the recurrence is exact
        across a split), with every intermediate tensor a fraction of the size. Why: at
        T = 4096 (batch 16, width 128) each intermediate of a layer is 32-64 MB, past the
        CPU's caches and past the size above which glibc maps every allocation afresh (and
        the kernel zero-fills its pages); in segments of 512 steps the minGRU layer's
        forward + backward took 197 ms instead of 372 ms on a 2-core CPU."""
        if u.shape[1] <= self.segment:
            return self.scan(u, state)
        outputs = []
        for part in u.split(self.segment, dim=1):
            y, state = self.scan(part, state)
            outputs.append(y)
        return torch.cat(outputs, dim=1), state

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


def causal_conv(
    x: torch.Tensor, before: torch.Tensor | None, weight: torch.Tensor, bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """A causal depthwise convolution over time, x (batch, T, channels) with ``weight``
    (channels, 1, k) as nn.Conv1d holds it, seeing the k - 1 inputs ``before`` x (zeros for
    None). Returns the outputs and the last k - 1 inputs, the state the next call needs.
    As k shifted products: forward and backward are elementwise, 2x faster on a CPU than
    conv1d's depthwise kernels (docs/benchmarks.md)."""
    k = weight.shape[-1]
    if before is None:
        before = x.new_zeros(x.shape[0], k - 1, x.shape[2])
    padded = torch.cat([before, x], dim=1)
    steps = x.shape[1]
    y = torch.addcmul(bias, padded[:, k - 1 :], weight[:, 0, k - 1])
    for shift in range(k - 1):
        y = torch.addcmul(y, padded[:, shift : shift + steps], weight[:, 0, shift])
    return y, padded[:, padded.shape[1] - (k - 1) :].clone()  # not a view that keeps all of padded


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
            y, state = self.mixer(u, state)
        else:
            y, state = self.mixer.steps(u, state, record)
        if self.reverse is not None:
            y = y + self.reverse(u.flip(1))[0].flip(1)
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

    def state_size(self, steps: int) -> int:
        """One block's mixer state, both directions'."""
        block = self.blocks[0]
        return block.mixer.state_size * (1 if block.reverse is None else 2)

    def recording_copy(self) -> ResidualStack:
        """A copy with the same weights that runs step by step and keeps the top layer's h_t."""
        recorder = copy.deepcopy(self)
        recorder.record = True
        return recorder
