"""RecurrentNet: an input encoder, a backbone and a head, the network every task trains."""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.errors import ConfigError, check_choice, check_int
from rnnlab.models.backbone import RecurrentBackbone, State
from rnnlab.models.heads import HEADS, AttentionHead

ENCODINGS = ("dense", "embedding", "one_hot")


class OneHot(nn.Module):
    """Token ids (batch, time) to one-hot vectors (batch, time, num_classes)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        # follows the module's .to(dtype), so a float64 copy gets float64 vectors; not saved
        self.register_buffer("dtype_of", torch.zeros(0), persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(ids, self.num_classes).to(self.dtype_of.dtype)


class RecurrentNet(nn.Module):
    """Maps inputs to (batch, output_size) with ``head`` "last", "mean" or "attention"
    (models/heads.py), or to (batch, time, output_size) with ``head="step"``.

    Inputs are real features (batch, time, input_size) with ``input_encoding="dense"``, or
    token ids (batch, time) below ``input_size`` with ``"embedding"`` (a learned table of
    ``embedding_dim`` columns, the hidden size by default) or ``"one_hot"``. ``tie_weights``
    shares the embedding table with the output layer (Press & Wolf, 2017).

    ``dropout`` acts between stacked layers, on an embedding's output and on the top
    layer's outputs before the head (as in PyTorch's word_language_model example).

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
        input_encoding: str = "dense",
        embedding_dim: int | None = None,
        tie_weights: bool = False,
    ) -> None:
        super().__init__()
        if nonlinearity is not None:
            check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
            if cell != f"rnn_{nonlinearity}":
                raise ConfigError("nonlinearity", "used with the rnn cell only", cell)
        check_int("input_size", input_size, 1)
        check_int("output_size", output_size, 1)
        check_choice("head", head, tuple(HEADS))
        check_choice("input_encoding", input_encoding, ENCODINGS)
        if input_encoding == "embedding":
            embedding_dim = check_int("embedding_dim", embedding_dim or hidden_size, 1)
            self.encoder: nn.Module = nn.Embedding(input_size, embedding_dim)
            features = embedding_dim
        elif input_encoding == "one_hot":
            self.encoder, features = OneHot(input_size), input_size
        else:
            self.encoder, features = nn.Identity(), input_size
        self.backbone = RecurrentBackbone(
            cell, features, hidden_size, num_layers, bidirectional, dropout, backend
        )
        self.head = HEADS[head](self.backbone.output_size, output_size, self.backbone.num_directions)
        self.drop = nn.Dropout(self.backbone.dropout)
        self.drop_input = input_encoding == "embedding"
        if tie_weights:
            shape = (output_size, self.backbone.output_size)
            if input_encoding != "embedding" or self.encoder.weight.shape != shape:
                raise ConfigError(
                    "tie_weights",
                    "used with an embedding input whose size equals the hidden size "
                    "(embedding_dim: null) and as many outputs as inputs",
                    tie_weights,
                )
            self.head.linear.weight = self.encoder.weight

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        outputs, state = self.hidden(x, state)
        return self.head(self.drop(outputs)), state

    def hidden(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """The backbone's per-step outputs (batch, time, features) and its final state."""
        features = self.encoder(x)
        if self.drop_input:
            features = self.drop(features)
        return self.backbone(features, state)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The attention head's weights (batch, time) over the steps of ``x``; attention head only."""
        if not isinstance(self.head, AttentionHead):
            raise TypeError(f"attention needs model.head=attention, not {type(self.head).__name__}")
        return self.head.attention(self.hidden(x)[0])
