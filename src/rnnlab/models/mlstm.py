"""xLSTM's mLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory"): an LSTM whose
cell is a matrix memory, with an exponential input gate and a normalizer.

Per head, with q_t, k_t (scaled by 1/sqrt(d)) and v_t from the input, a scalar input gate
i_t = exp(i~_t) and forget gate f_t = sigmoid(f~_t):

    C_t = f_t C_{t-1} + i_t k_t v_t^T         n_t = f_t n_{t-1} + i_t k_t
    h~_t = C_t^T q_t / max(|n_t . q_t|, 1)

exp(i~) overflows quickly, so the states are kept divided by e^{m_t}, the max-stabilizer
m_t = max(log f_t + m_{t-1}, i~_t) (m_0 = 0): then i'_t = e^{i~_t - m_t}, f'_t =
e^{log f_t + m_{t-1} - m_t}, both <= 1, and the 1 of the normalizer becomes e^{-m_t}.
That is the step mode, as the paper writes it.

The chunkwise form: unrolled over a chunk from the state (C_0, n_0, m_0) that enters it,
with b_t the sum of log f from the chunk's start, step j's input reaches step t with the
log weight D_tj = b_t - b_j + i~_j (j <= t), the entering state with b_t + m_0, and the
recurrent m_t is exactly the largest of these. So within a chunk

    h~_t = [e^{b_t + m_0 - m_t} C_0^T q_t + sum_j e^{D_tj - m_t} (k_j . q_t) v_j]
           / max(|e^{b_t + m_0 - m_t} n_0 . q_t + sum_j e^{D_tj - m_t} (k_j . q_t)|, e^{-m_t})

is a masked matrix product in which no exponent is positive: the numbers stay finite at
any length and any gate value (tested at T = 4096 with extreme gate pre-activations). Only
(C, n, m) is carried from chunk to chunk.

The block around it, as xLSTM's mLSTM block: an up-projection to x and a gate z, a short
causal convolution and SiLU on the path of q and k, v from x, the gates from q, k and v,
the output normalized per head, a learnable skip from the convolution, gated by SiLU(z),
projected down; stacked with a pre-norm residual path and no MLP (models/blocks.py).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from rnnlab.declared import Annotated, Field, declared
from rnnlab.models.blocks import Mixer, ResidualStack, causal_conv
from rnnlab.models.net import SequenceNet

# where e^{-m} underflows (m > 88 in float32) and n . q is 0, the normalizer would be 0: the
# paper's kernels add this, as here
EPS = 1e-6


def floor(m: torch.Tensor) -> torch.Tensor:
    """The normalizer's lower bound e^{-m}, capped at e^60: beyond it h~ is below e^-60 of its
    numerator either way, and an infinite bound would make the gradient 0 x inf = NaN."""
    return torch.exp(torch.clamp(-m, max=60.0))


# C (batch, heads, key, value), n (batch, heads, key), m (batch, heads), the convolution's inputs
MLSTMState = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def mlstm_chunkwise(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    i: torch.Tensor,
    log_f: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    chunk: int,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The chunkwise mLSTM (module docstring). q, k, v (batch, heads, T, d); the input gate's
    pre-activation i and log f (batch, heads, T); the state (C, n, m) before step 1.
    Returns h~ (batch, heads, T, d) and the state after the last step."""
    C, n, m = state
    steps = q.shape[2]
    chunks = -(-steps // chunk)
    pad = chunks * chunk - steps  # steps that forget nothing (log f = 0) and add nothing (i = -inf)
    q, k, v = (F.pad(t, (0, 0, 0, pad)).unflatten(2, (chunks, chunk)) for t in (q, k, v))
    i = F.pad(i, (0, pad), value=-math.inf).unflatten(2, (chunks, chunk))
    b = F.pad(log_f, (0, pad)).unflatten(2, (chunks, chunk)).cumsum(-1)

    lower = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    D = (b.unsqueeze(-1) - b.unsqueeze(-2) + i.unsqueeze(-2)).masked_fill(~lower, -math.inf)
    D_max = D.amax(-1)  # (batch, heads, chunks, L): the largest weight from inside the chunk
    scores = q @ k.transpose(-1, -2)
    # per chunk, by unbind: indexing in the loop would make every slice's backward a
    # zero-filled tensor of the whole input
    per_chunk = zip(*(t.unbind(2) for t in (q, k, v, b, D, D_max, scores)), strict=True)
    outputs = []
    for q_c, k_c, v_c, b_c, D_c, D_max_c, scores_c in per_chunk:
        entering = b_c + m.unsqueeze(-1)  # the entering state's log weight at each step
        m_t = torch.maximum(entering, D_max_c)
        weights = (D_c - m_t.unsqueeze(-1)).exp() * scores_c
        carried = (entering - m_t).exp()
        numerator = carried.unsqueeze(-1) * (q_c @ C) + weights @ v_c
        denominator = carried * (q_c @ n.unsqueeze(-1)).squeeze(-1) + weights.sum(-1)
        outputs.append(numerator / (torch.maximum(denominator.abs(), floor(m_t)) + EPS).unsqueeze(-1))
        # the state after the chunk: its last step's weights, stabilized by its m
        m_end = m_t[..., -1]
        last = (D_c[..., -1, :] - m_end.unsqueeze(-1)).exp().unsqueeze(-1)  # (batch, heads, L, 1)
        keep = (entering[..., -1] - m_end).exp()
        C = keep[..., None, None] * C + (k_c * last).transpose(-1, -2) @ v_c
        n = keep.unsqueeze(-1) * n + (k_c * last).sum(-2)
        m = m_end
    return torch.stack(outputs, dim=2).flatten(2, 3)[:, :, :steps], (C, n, m)


class MLSTM(Mixer):
    def __init__(self, width: int, num_heads: int, expand: int, conv_kernel: int, chunk_size: int) -> None:
        super().__init__()
        self.heads, self.head_size = num_heads, math.ceil(expand * width / num_heads)
        self.inner, self.chunk = num_heads * self.head_size, chunk_size
        self.up = nn.Linear(width, 2 * self.inner, bias=False)  # x, z
        self.conv = nn.Conv1d(self.inner, self.inner, conv_kernel, groups=self.inner)
        self.qk = nn.Linear(self.inner, 2 * self.inner, bias=False)  # from the convolved x
        self.v = nn.Linear(self.inner, self.inner, bias=False)  # from x itself
        self.gates = nn.Linear(3 * self.inner, 2 * num_heads)  # i~, f~ from q, k, v
        with torch.no_grad():  # xLSTM's: input gates start near 0, forget gates open (3 to 6)
            self.gates.weight.zero_()
            self.gates.bias[:num_heads].normal_(0, 0.1)
            self.gates.bias[num_heads:] = torch.linspace(3, 6, num_heads)
        self.norm = nn.LayerNorm(self.head_size)
        self.skip = nn.Parameter(torch.ones(self.inner))
        self.down = nn.Linear(self.inner, width, bias=False)
        self.state_size = (
            num_heads * (self.head_size**2 + self.head_size + 1) + (conv_kernel - 1) * self.inner
        )

    def _inputs(self, u: torch.Tensor, before: torch.Tensor | None):
        """q, k, v (batch, heads, T, d), the gates' i~ and log f (batch, heads, T), the
        convolved x, z, and the convolution's last inputs."""
        x, z = self.up(u).chunk(2, dim=-1)
        convolved, inputs = causal_conv(x, before, self.conv.weight, self.conv.bias)
        convolved = F.silu(convolved)
        q, k = self.qk(convolved).chunk(2, dim=-1)
        v = self.v(x)
        i, f = self.gates(torch.cat([q, k, v], dim=-1)).transpose(1, 2).chunk(2, dim=1)
        q, k, v = (t.unflatten(-1, (self.heads, self.head_size)).transpose(1, 2) for t in (q, k, v))
        return q, k / math.sqrt(self.head_size), v, i, F.logsigmoid(f), convolved, z, inputs

    def _out(self, h: torch.Tensor, convolved: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.norm(h).transpose(1, 2).flatten(-2) + self.skip * convolved
        return self.down(h * F.silu(z))

    def _empty(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, d = u.shape[0], self.head_size
        return (
            u.new_zeros(batch, self.heads, d, d),
            u.new_zeros(batch, self.heads, d),
            u.new_zeros(batch, self.heads),
        )

    def scan(self, u: torch.Tensor, state: MLSTMState | None = None) -> tuple[torch.Tensor, MLSTMState]:
        memory, before = (self._empty(u), None) if state is None else (state[:3], state[3])
        q, k, v, i, log_f, convolved, z, inputs = self._inputs(u, before)
        h, memory = mlstm_chunkwise(q, k, v, i, log_f, memory, self.chunk)
        return self._out(h, convolved, z), (*memory, inputs)

    def step(self, u_t: torch.Tensor, state: MLSTMState | None = None) -> tuple[torch.Tensor, MLSTMState]:
        (C, n, m), before = (self._empty(u_t), None) if state is None else (state[:3], state[3])
        q, k, v, i, log_f, convolved, z, inputs = self._inputs(u_t.unsqueeze(1), before)
        q, k, v, i, log_f = q[:, :, 0], k[:, :, 0], v[:, :, 0], i[:, :, 0], log_f[:, :, 0]
        m_new = torch.maximum(log_f + m, i)
        i_gate, f_gate = (i - m_new).exp(), (log_f + m - m_new).exp()
        C = f_gate[..., None, None] * C + i_gate[..., None, None] * k.unsqueeze(-1) * v.unsqueeze(-2)
        n = f_gate.unsqueeze(-1) * n + i_gate.unsqueeze(-1) * k
        denominator = torch.maximum((n * q).sum(-1).abs(), floor(m_new)) + EPS
        h = (q.unsqueeze(-2) @ C).squeeze(-2) / denominator.unsqueeze(-1)  # C^T q / ...
        return self._out(h.unsqueeze(2), convolved, z)[:, 0], (C, n, m_new, inputs)

    def hidden(self, state: MLSTMState) -> torch.Tensor:
        return state[0]


class MLSTMNet(SequenceNet):
    """A SequenceNet (models/net.py) whose backbone is a residual stack of mLSTM blocks."""

    @declared
    def __init__(
        self,
        num_heads: Annotated[int, Field(ge=1, description="heads, each with its own matrix memory")] = 4,
        expand: Annotated[
            int, Field(ge=1, description="the up-projection: inner = expand * hidden_size")
        ] = 2,
        conv_kernel: Annotated[
            int, Field(ge=1, description="the short causal convolution on q and k's path")
        ] = 4,
        chunk_size: Annotated[
            int, Field(ge=1, description="steps per chunk of the chunkwise form (any length is padded)")
        ] = 64,
        **settings,
    ) -> None:
        mixer = partial(
            MLSTM, num_heads=num_heads, expand=expand, conv_kernel=conv_kernel, chunk_size=chunk_size
        )
        super().__init__(partial(ResidualStack, mixer, mlp=False), **settings)
