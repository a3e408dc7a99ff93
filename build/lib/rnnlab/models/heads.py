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


class MeanHead(nn.Module):
    """Predict from the mean of the top layer's outputs over all time steps."""

    def __init__(self, in_features: int, out_features: int, num_directions: int = 1) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.linear(outputs.mean(dim=1))


class AttentionHead(nn.Module):
    """Learned attention pooling over every step's output h_t (additive scoring, as in
    Bahdanau et al., 2015, with a learned query):

        score_t = v . tanh(W h_t + b)      a = softmax over t of score      summary = sum_t a_t h_t

    ``attention(outputs)`` gives a (batch, time) for plots, without running the rest.
    """

    def __init__(self, in_features: int, out_features: int, num_directions: int = 1) -> None:
        super().__init__()
        self.score = nn.Sequential(
            nn.Linear(in_features, in_features), nn.Tanh(), nn.Linear(in_features, 1, bias=False)
        )
        self.linear = nn.Linear(in_features, out_features)

    def attention(self, outputs: torch.Tensor) -> torch.Tensor:
        """The weights a (batch, time) over the steps of ``outputs`` (batch, time, features)."""
        return torch.softmax(self.score(outputs).squeeze(-1), dim=1)

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.einsum("bt,btf->bf", self.attention(outputs), outputs))


HEADS = {"last": LastStepHead, "mean": MeanHead, "attention": AttentionHead, "step": PerStepHead}
