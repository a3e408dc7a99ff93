"""A small causal transformer decoder (pre-LN, as nanoGPT): the baseline the recurrent
families are measured against.

    x = x + dropout(attention(LN(x)))      x = x + dropout(MLP(LN(x)))      ... then LN(x)

Each position attends to itself and the ``context - 1`` positions before it (a sliding
window; with ``context`` at least the training window it is plain causal attention).
Positions enter through rotary embeddings (Su et al. 2021) on queries and keys, which make
attention depend on the distance between two positions only: a sequence longer than any
seen in training (counting's extrapolation split, long samples) meets no position it has
never seen inside the window, and a cache cut to the window gives the same numbers as the
whole sequence.

The state is that cache: per layer the keys and values of the last ``context - 1``
positions, so generation runs one token at a time without recomputing the prefix, and two
halves of a sequence with the cache carried equal the whole (tested). It grows with the
window and is no fixed-size summary of the past, so ``carries_state`` is false: stateful
text training refuses a transformer (a longer data.window is its way to see further back),
and with no recurrent h_t there is no gradient flow to record.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError
from rnnlab.models.blocks import MLP
from rnnlab.models.net import SequenceNet

Cache = tuple[torch.Tensor, torch.Tensor]  # keys and values (batch, heads, positions, head size)


def rotate(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding of x (..., time, head size) at ``positions`` (time,)."""
    half = x.shape[-1] // 2
    frequencies = 10000.0 ** (-torch.arange(half, dtype=x.dtype, device=x.device) / half)
    angles = positions.to(x.dtype).unsqueeze(-1) * frequencies
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class CausalSelfAttention(nn.Module):
    """``num_heads`` heads of an even size (rotary positions turn pairs of features) that
    together span at least ``width`` features: any width works, so a parameter budget can
    choose it freely."""

    def __init__(self, width: int, num_heads: int, context: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.context, self.dropout = num_heads, context, dropout
        inner = num_heads * 2 * math.ceil(width / (2 * num_heads))
        self.qkv = nn.Linear(width, 3 * inner)
        self.proj = nn.Linear(inner, width)

    def forward(self, x: torch.Tensor, cache: Cache | None = None) -> tuple[torch.Tensor, Cache]:
        batch, time, _ = x.shape
        q, k, v = self.qkv(x).view(batch, time, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        if cache is not None:  # keys and values of the positions before x, not yet rotated
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        positions = torch.arange(k.shape[2], device=x.device)
        query_at = positions[k.shape[2] - time :]
        if cache is None and time <= self.context:  # plain causal attention: the fused kernel
            mask, causal = None, True
        else:
            mask = (positions <= query_at.unsqueeze(1)) & (positions > query_at.unsqueeze(1) - self.context)
            causal = False
        y = F.scaled_dot_product_attention(
            rotate(q, query_at),
            rotate(k, positions),
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=causal,
        )
        keep = k.shape[2] - min(self.context - 1, k.shape[2])
        return self.proj(y.transpose(1, 2).reshape(batch, time, -1)), (k[:, :, keep:], v[:, :, keep:])


class TransformerBlock(nn.Module):
    def __init__(self, width: int, num_heads: int, context: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, num_heads, context, dropout)
        self.mlp_norm, self.mlp = nn.LayerNorm(width), MLP(width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: Cache | None) -> tuple[torch.Tensor, Cache]:
        y, cache = self.attention(self.attention_norm(x), cache)
        x = x + self.drop(y)
        return x + self.drop(self.mlp(self.mlp_norm(x))), cache


class TransformerBackbone(nn.Module):
    """An input projection to ``hidden_size``, ``num_layers`` blocks, a final LayerNorm. The
    state is one cache per layer (see the module docstring)."""

    carries_state = False
    num_directions = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        dropout: float,
        num_heads: int,
        context: int,
    ) -> None:
        super().__init__()
        if bidirectional:
            raise ConfigError(
                "bidirectional",
                "false for the transformer: a causal decoder reads only the past "
                "(a recurrent family can be bidirectional)",
                bidirectional,
            )
        self.hidden_size = self.output_size = hidden_size
        self.input = nn.Linear(input_size, hidden_size) if input_size != hidden_size else nn.Identity()
        self.blocks = nn.ModuleList(
            TransformerBlock(hidden_size, num_heads, context, dropout) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(hidden_size)
        self.context, self.inner = context, self.blocks[0].attention.qkv.out_features // 3
        # GPT-2's initialization: small normal weights, the residual outputs scaled by depth
        for name, parameter in self.named_parameters():
            if name.endswith(("proj.weight", "down.weight")):
                nn.init.normal_(parameter, std=0.02 / math.sqrt(2 * num_layers))
            elif name.endswith("weight") and parameter.dim() == 2:
                nn.init.normal_(parameter, std=0.02)

    def state_size(self, steps: int) -> int:
        """The cache after ``steps`` steps: keys and values of up to ``context`` - 1 positions."""
        return 2 * min(self.context - 1, steps) * self.inner

    def forward(
        self, x: torch.Tensor, state: tuple[Cache, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[Cache, ...]]:
        x = self.input(x)
        caches = []
        for block, cache in zip(self.blocks, state or (None,) * len(self.blocks), strict=True):
            x, cache = block(x, cache)
            caches.append(cache)
        return self.norm(x), tuple(caches)


class TransformerNet(SequenceNet):
    """A SequenceNet (models/net.py) whose backbone is the causal transformer above;
    ``context`` is how many positions (the current one included) each position attends to."""

    @declared
    def __init__(
        self,
        num_heads: Annotated[int, Field(ge=1, description="attention heads (dividing hidden_size)")] = 4,
        context: Annotated[
            int, Field(ge=1, description="positions each position attends to, itself included")
        ] = 256,
        **settings,
    ) -> None:
        backbone = partial(TransformerBackbone, num_heads=num_heads, context=context)
        super().__init__(backbone, **settings)
