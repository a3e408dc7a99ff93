"""IndRNN (Li, Li, Cook, Zhu & Gao 2018, "Independently Recurrent Neural Network (IndRNN):
Building a Longer and Deeper RNN"): each unit recurs on itself alone,

    h_t = relu(W x_t + b + u * h_{t-1})          (u a vector: one recurrent weight per unit)

so a unit's memory is set by its own |u|, and keeping |u| <= recurrent_max keeps h_t from
growing without bound however long the sequence.

This file is all it takes to study a recurrence of your own with rnnlab: a backbone that
keeps rnnlab's backbone contract (rnnlab/models/backbone.py: (batch, time, features) ->
outputs, state) and a SequenceNet subclass that builds it and declares its own settings.
pyproject.toml registers the class (entry point group ``rnnlab.models``) and the config
directory (``rnnlab.conf``); conf/model/indrnn.yaml is the config ``model=indrnn`` selects.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError
from rnnlab.models.net import SequenceNet


class IndRNNLayer(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, recurrent_max: float) -> None:
        super().__init__()
        self.input = nn.Linear(input_size, hidden_size)
        self.u = nn.Parameter(torch.empty(hidden_size).uniform_(0, recurrent_max))
        self.recurrent_max = recurrent_max

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        drive = self.input(x)  # every step at once: only the recurrence runs step by step
        u = self.u.clamp(-self.recurrent_max, self.recurrent_max)
        outputs = []
        for t in range(x.shape[1]):
            h = torch.relu(drive[:, t] + u * h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h


class IndRNN(nn.Module):
    """A stack of IndRNN layers: the top layer's h_t at every step, and every layer's last h."""

    carries_state = True  # a fixed-size state: stateful text may carry it across batches
    num_directions = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        dropout: float,
        recurrent_max: float,
    ) -> None:
        super().__init__()
        if bidirectional:
            raise ConfigError("bidirectional", "false for IndRNN (this example reads forwards only)", True)
        sizes = [input_size] + [hidden_size] * num_layers
        self.layers = nn.ModuleList(IndRNNLayer(i, hidden_size, recurrent_max) for i in sizes[:-1])
        self.drop = nn.Dropout(dropout)
        self.output_size = hidden_size

    def state_size(self, steps: int) -> int:
        """h of a layer: what a recall study draws the family against."""
        return self.output_size

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if state is None:
            state = x.new_zeros(len(self.layers), x.shape[0], self.output_size)
        last = []
        for index, layer in enumerate(self.layers):
            x, h = layer(self.drop(x) if index else x, state[index])
            last.append(h)
        return x, torch.stack(last)


class IndRNNNet(SequenceNet):
    """A SequenceNet (input encoder, backbone, head: rnnlab's) whose backbone is an IndRNN;
    its settings are SequenceNet's and its own, declared here."""

    @declared
    def __init__(
        self,
        recurrent_max: Annotated[
            float, Field(gt=0, description="|u| is kept at or below this, so h_t stays bounded")
        ] = 1.0,
        **settings,
    ) -> None:
        super().__init__(partial(IndRNN, recurrent_max=recurrent_max), **settings)
