"""The backbone contract, and the classic recurrent backbone chosen by ``cell``.

What a backbone is, for the network (models/net.py) and the tools that look inside it
(the ``Backbone`` protocol below): ``forward(x, state) -> (outputs, state)`` over (batch,
time, features) inputs, where ``outputs`` holds the top layer's output at every step
(``output_size`` features, ``num_directions`` halves side by side for a head that reads a
backward direction from the start) and ``state`` is whatever the next call needs to go on
where this one stopped (a tensor or nested tuples of tensors: ``map_state`` reaches them).
``carries_state`` says whether that state is a fixed-size summary that stateful text
training may carry from batch to batch (a transformer's growing cache is not), and
``state_size(steps)`` how many numbers it is per sequence and layer after ``steps`` steps
(a complex number counts two): what a recurrence remembers the past in, the quantity the
recall studies are drawn against.

To have its gradient flow measured, a backbone offers ``recording_copy()`` (the
``RecordsHiddenStates`` protocol): a copy with the same weights that runs step by step and
keeps every h_t of the top layer in ``recorded`` after a forward call, for autograd to
differentiate against. A backbone that has no recurrent state does not offer it, and the
gradient-flow callback says so.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from rnnlab.errors import ConfigError, check_choice, check_int
from rnnlab.models.scratch import ScratchRecurrent

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru", "lstm_ln")
BACKENDS = ("torch", "scratch")
SCRATCH_ONLY = ("lstm_ln",)

State = torch.Tensor | tuple["State", ...]


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: State | None) -> State | None:
    """``fn`` applied to every tensor of a state (detach, move to a device), keeping its shape."""
    if state is None or isinstance(state, torch.Tensor):
        return None if state is None else fn(state)
    return tuple(map_state(fn, part) for part in state)


class Backbone(Protocol):
    """What every backbone offers (see the module docstring)."""

    output_size: int
    num_directions: int
    carries_state: bool

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]: ...

    def state_size(self, steps: int) -> int: ...


@runtime_checkable
class RecordsHiddenStates(Protocol):
    """A backbone whose hidden states can be recorded step by step (see the module docstring)."""

    def recording_copy(self) -> nn.Module:
        """A copy with the same weights whose ``recorded`` holds the top layer's h_t of
        every step (a list of (batch, hidden) tensors) after each forward call."""
        ...


class RecurrentBackbone(nn.Module):
    """A stack of recurrent layers over (batch, time, features) inputs: PyTorch's fused
    modules (``backend="torch"``) or the same networks written from their equations
    (``"scratch"``, models/scratch.py), with the same parameter names and shapes.

    ``outputs`` holds the top layer's hidden state at every step, forward and backward
    directions concatenated, so its last dimension is ``output_size``.
    """

    carries_state = True

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        backend: str = "torch",
    ) -> None:
        super().__init__()
        self.cell = check_choice("cell", cell, CELLS)
        self.backend = check_choice("backend", backend, BACKENDS)
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.num_layers = check_int("num_layers", num_layers, 1)
        if not isinstance(bidirectional, bool):
            raise ConfigError("bidirectional", "true or false", bidirectional)
        self.bidirectional = bidirectional
        if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
            raise ConfigError("dropout", "a number in [0, 1)", dropout)
        self.dropout = float(dropout)
        if cell in SCRATCH_ONLY and backend != "scratch":
            raise ConfigError("backend", f"scratch for the {cell} cell (no fused module has it)", backend)
        if backend == "scratch":
            self.rnn: nn.Module = ScratchRecurrent(
                cell, input_size, hidden_size, num_layers, bidirectional, self.dropout
            )
            return
        kwargs = dict(
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            # torch applies dropout between layers only; with one layer it would only warn.
            dropout=self.dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        fused = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cell in fused:
            self.rnn = fused[cell](**kwargs)
        else:
            self.rnn = nn.RNN(nonlinearity=cell.removeprefix("rnn_"), **kwargs)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.num_directions

    def state_size(self, steps: int) -> int:
        """h (and the LSTMs' c) of each direction."""
        return self.hidden_size * self.num_directions * (2 if self.cell in ("lstm", "lstm_ln") else 1)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Run the stack over ``x`` (batch, time, input_size); returns (outputs, final state)."""
        return self.rnn(x, state)

    def recording_copy(self) -> RecurrentBackbone:
        """A copy that records h_t (forward direction, top layer). The fused modules do not
        expose h_t, so a torch-backend copy runs the same network written from its
        equations (the scratch backend loads the same state_dict)."""
        recorder = copy.deepcopy(self)
        if not isinstance(self.rnn, ScratchRecurrent):
            device = next(self.rnn.parameters()).device
            with torch.random.fork_rng(devices=[]):  # its initial weights are overwritten: draw
                scratch = ScratchRecurrent(  # no numbers from the run's generator
                    self.cell,
                    self.input_size,
                    self.hidden_size,
                    self.num_layers,
                    self.bidirectional,
                    self.dropout,
                ).to(device)
            scratch.load_state_dict(self.rnn.state_dict())
            recorder.rnn, recorder.backend = scratch, "scratch"
        recorder.rnn.record = True
        return recorder

    @property
    def recorded(self) -> list[torch.Tensor]:
        """The h_t the last forward call kept (a recording copy only)."""
        return self.rnn.recorded if isinstance(self.rnn, ScratchRecurrent) else []
