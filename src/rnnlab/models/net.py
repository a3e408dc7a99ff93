"""RecurrentNet: a backbone and a head, the network every task trains."""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.errors import ConfigError, check_choice, check_int
from rnnlab.models.backbone import RecurrentBackbone, State
from rnnlab.models.heads import HEADS


class RecurrentNet(nn.Module):
    """Maps (batch, time, input_size) to (batch, output_size) with ``head="last"`` or to
    (batch, time, output_size) with ``head="step"``.

    ``nonlinearity`` is the model config's shorthand for the vanilla RNN
    (``cell: rnn_${model.nonlinearity}``); it is only checked here, so that a bad value is
    reported under its own name.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        output_size: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        backend: str = "torch",
        head: str = "last",
        nonlinearity: str | None = None,
    ) -> None:
        super().__init__()
        if nonlinearity is not None:
            check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
            if cell != f"rnn_{nonlinearity}":
                raise ConfigError("nonlinearity", "used with the rnn cell only", cell)
        check_int("output_size", output_size, 1)
        check_choice("head", head, tuple(HEADS))
        self.backbone = RecurrentBackbone(
            cell, input_size, hidden_size, num_layers, bidirectional, dropout, backend
        )
        self.head = HEADS[head](self.backbone.output_size, output_size, self.backbone.num_directions)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        outputs, state = self.backbone(x, state)
        return self.head(outputs), state
