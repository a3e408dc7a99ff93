"""The recurrent backbone: one class for every variant, chosen by ``cell``."""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.errors import ConfigError, check_choice, check_int
from rnnlab.models.scratch import ScratchRecurrent

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru", "lstm_ln")
BACKENDS = ("torch", "scratch")
SCRATCH_ONLY = ("lstm_ln",)

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class RecurrentBackbone(nn.Module):
    """A stack of recurrent layers over (batch, time, features) inputs: PyTorch's fused
    modules (``backend="torch"``) or the same networks written from their equations
    (``"scratch"``, models/scratch.py), with the same parameter names and shapes.

    ``outputs`` holds the top layer's hidden state at every step, forward and backward
    directions concatenated, so its last dimension is ``output_size``.
    """

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

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Run the stack over ``x`` (batch, time, input_size); returns (outputs, final state)."""
        return self.rnn(x, state)
