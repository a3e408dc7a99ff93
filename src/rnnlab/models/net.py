"""The network every task trains: an input encoder, a backbone and a head.

``SequenceNet`` is that network for any backbone; each model family is a subclass that says
which backbone it builds (``RecurrentNet`` here for the classic cells, one file per modern
family: minrnn.py, lru.py, s6.py, transformer.py). A model config's ``_target_`` names the
family's class, and its settings are the common ones below plus the family's own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal

import torch
from torch import nn

from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError
from rnnlab.models.backbone import CELLS, RecurrentBackbone, State
from rnnlab.models.heads import HEADS, AttentionHead

PARAMS_TOLERANCE = 0.05

# (input_size, hidden_size, num_layers, bidirectional, dropout) -> a backbone module
BackboneFactory = Callable[[int, int, int, bool, float], nn.Module]


class OneHot(nn.Module):
    """Token ids (batch, time) to one-hot vectors (batch, time, num_classes)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        # follows the module's .to(dtype), so a float64 copy gets float64 vectors; not saved
        self.register_buffer("dtype_of", torch.zeros(0), persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(ids, self.num_classes).to(self.dtype_of.dtype)


class SequenceNet(nn.Module):
    """Maps inputs to (batch, output_size) with ``head`` "last", "mean" or "attention"
    (models/heads.py), or to (batch, time, output_size) with ``head="step"``.

    Inputs are real features (batch, time, input_size) with ``input_encoding="dense"``, or
    token ids (batch, time) below ``input_size`` with ``"embedding"`` (a learned table of
    ``embedding_dim`` columns, the hidden size by default) or ``"one_hot"``. ``tie_weights``
    shares the embedding table with the output layer (Press & Wolf, 2017).

    ``dropout`` acts on an embedding's output and on the top layer's outputs before the
    head (as in PyTorch's word_language_model example), and inside the backbone.

    ``params``: choose ``hidden_size`` so that the network has about this many trainable
    parameters (within 5%), for comparisons of families at one budget; ``hidden_size`` is
    then ignored.

    The backbone (``backbone(input_size, hidden_size, num_layers, bidirectional, dropout)``)
    follows the contract of models/backbone.py.
    """

    @declared
    def __init__(
        self,
        backbone: BackboneFactory,
        /,
        input_size: Annotated[
            int, Field(ge=1, description="input features, or the vocabulary size (from the data)")
        ],
        output_size: Annotated[int, Field(ge=1, description="outputs per prediction (from the data)")],
        hidden_size: Annotated[
            int, Field(ge=1, description="the width of each layer (params overrides it)")
        ] = 64,
        num_layers: Annotated[int, Field(ge=1, description="stacked layers")] = 1,
        bidirectional: Annotated[bool, Field(description="true: a second pass reads backwards")] = False,
        dropout: Annotated[
            float, Field(ge=0, lt=1, description="on the embedding, between layers and on the top outputs")
        ] = 0.0,
        head: Annotated[
            Literal["last", "mean", "attention", "step"],
            Field(description="last step | mean over steps | attention pooling | step (every step)"),
        ] = "last",
        input_encoding: Annotated[
            Literal["dense", "embedding", "one_hot"], Field(description="how inputs come in (from the data)")
        ] = "dense",
        embedding_dim: Annotated[int, Field(ge=1, description="token embedding width; null: the hidden size")]
        | None = None,
        tie_weights: Annotated[
            bool, Field(description="share the embedding with the output layer (needs embedding_dim null)")
        ] = False,
        params: Annotated[
            int, Field(ge=1, description="a parameter budget: hidden_size is chosen to meet it within 5%")
        ]
        | None = None,
    ) -> None:
        super().__init__()
        build = partial(
            _parts, backbone, input_size, output_size, num_layers, bidirectional, float(dropout),
            head, input_encoding, embedding_dim, tie_weights,
        )  # fmt: skip
        if params is not None:
            hidden_size = _width_for(build, params)
        self.encoder, self.backbone, self.head = build(hidden_size)
        self.hidden_size = hidden_size
        self.drop = nn.Dropout(float(dropout))
        self.drop_input = input_encoding == "embedding"

    def state_size(self, steps: int) -> int:
        """The numbers the backbone carries per sequence and layer after ``steps`` steps."""
        return self.backbone.state_size(steps)

    @property
    def num_parameters(self) -> int:
        """Trainable parameters, a tied weight counted once."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

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


def _parts(
    backbone: BackboneFactory,
    input_size: int,
    output_size: int,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    head: str,
    input_encoding: str,
    embedding_dim: int | None,
    tie_weights: bool,
    hidden_size: int,
) -> tuple[nn.Module, nn.Module, nn.Module]:
    """The encoder, backbone and head of a network ``hidden_size`` wide."""
    if input_encoding == "embedding":
        encoder: nn.Module = nn.Embedding(input_size, embedding_dim or hidden_size)
        features = encoder.embedding_dim
    elif input_encoding == "one_hot":
        encoder, features = OneHot(input_size), input_size
    else:
        encoder, features = nn.Identity(), input_size
    body = backbone(features, hidden_size, num_layers, bidirectional, dropout)
    head_ = HEADS[head](body.output_size, output_size, body.num_directions)
    if tie_weights:
        shape = (output_size, body.output_size)
        if input_encoding != "embedding" or encoder.weight.shape != shape:
            raise ConfigError(
                "tie_weights",
                "used with an embedding input whose size equals the hidden size "
                "(embedding_dim: null) and as many outputs as inputs",
                tie_weights,
            )
        head_.linear.weight = encoder.weight
    return encoder, body, head_


def _width_for(build: Callable[[int], tuple[nn.Module, ...]], budget: int) -> int:
    """The width whose network's parameter count is closest to
    ``budget``. Candidates are built under a forked random generator, so the search draws
    no numbers from the run's own (the chosen network is the one ``hidden_size`` would give).
    Not on the meta device: its first use of some ops loads torch's decompositions (1.5 s)."""

    def count(width: int) -> int:
        with torch.random.fork_rng(devices=[]):
            parts = nn.ModuleList(build(width))
        return sum(p.numel() for p in parts.parameters() if p.requires_grad)

    low, high = 1, 2  # the count grows with the width
    while count(high) < budget:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < budget else (low, middle)
    width = min((low, high), key=lambda w: abs(count(w) - budget))
    reached = count(width)
    if abs(reached - budget) > PARAMS_TOLERANCE * budget:
        raise ConfigError(
            "params",
            f"a budget that some width reaches within {PARAMS_TOLERANCE:.0%} "
            f"(the closest: hidden_size {width} gives {reached:,} parameters)",
            budget,
        )
    return width


class RecurrentNet(SequenceNet):
    """The classic cells (models/backbone.py): ``cell`` rnn_tanh, rnn_relu, lstm, gru or
    lstm_ln, computed by PyTorch's fused modules (``backend="torch"``) or from the equations
    (``"scratch"``), with the settings of SequenceNet.

    ``nonlinearity`` is the model config's shorthand for the vanilla RNN
    (``cell: rnn_${model.nonlinearity}``); it is only checked here, so that a bad value is
    reported under its own name.
    """

    @declared
    def __init__(
        self,
        cell: Annotated[
            str,
            Field(
                description="the recurrent cell (lstm_ln: the scratch backend only)",
                json_schema_extra={"allowed": "one of " + ", ".join(CELLS)},  # checked by the backbone
            ),
        ],
        backend: Annotated[
            Literal["torch", "scratch"],
            Field(description="torch: PyTorch's fused module; scratch: written from the equations"),
        ] = "torch",
        nonlinearity: Annotated[
            Literal["tanh", "relu"], Field(description="the rnn cell's shorthand: cell is rnn_<nonlinearity>")
        ]
        | None = None,
        **settings,
    ) -> None:
        if nonlinearity is not None and cell != f"rnn_{nonlinearity}":
            raise ConfigError("nonlinearity", "used with the rnn cell only", cell)
        super().__init__(partial(RecurrentBackbone, cell, backend=backend), **settings)
