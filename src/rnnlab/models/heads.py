"""Heads turn the backbone's per-step outputs into predictions."""

from __future__ import annotations

import torch
from torch import nn


class LastStepHead(nn.Module):
    """Predict from the sequence summary: the forward direction's last step and, for a
    bidirectional backbone, the backward direction's first step (each has seen every input)."""

    def __init__(self, in_features: int, out_features: int, num_directions: int = 1) -> None:
        super().__init__()
        self.num_directions = num_directions
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        if self.num_directions == 1:
            summary = outputs[:, -1]
        else:
            forward, backward = outputs.chunk(2, dim=-1)
            summary = torch.cat([forward[:, -1], backward[:, 0]], dim=-1)
        return self.linear(summary)


class PerStepHead(nn.Module):
    """Predict at every time step (sequence to sequence)."""

    def __init__(self, in_features: int, out_features: int, num_directions: int = 1) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.linear(outputs)


HEADS = {"last": LastStepHead, "step": PerStepHead}
