"""Recurrent layers written from their equations (``model.backend=scratch``).

PyTorch's formulation and parameter names, so a state_dict moves between backends:
``weight_ih_l{k}`` (gates * hidden, inputs), ``weight_hh_l{k}`` (gates * hidden, hidden),
``bias_ih_l{k}``, ``bias_hh_l{k}``, and ``..._reverse`` for the backward direction.

    rnn_tanh / rnn_relu   h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    lstm                  i, f, g, o = s(.), s(.), tanh(.), s(.) of W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
                          c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)
    gru                   r = s(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
                          z = s(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
                          n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
                          h_t = (1 - z) * n + z * h_{t-1}
    lstm_ln               the LSTM with layer normalization (Ba, Kiros & Hinton, 2016):
                          i, f, g, o from LN_ih(W_ih x_t) + LN_hh(W_hh h_{t-1}) + b_ih + b_hh
                          c_t = f * c_{t-1} + i * g          h_t = o * tanh(LN_c(c_t))
                          (the LN_* gains and shifts are extra parameters; no fused module has it)

How it runs: the input projections W_ih x_t + b_ih of every step are one matmul before
the loop; only the recurrence steps. For rnn/lstm/gru the loop is a ``torch.autograd.
Function`` with backpropagation through time written out: the forward keeps each step's
gates, the backward walks the steps in reverse, carrying dL/dh (and dL/dc) back through
the recurrence, and forms dL/dW_hh as one matmul over all steps at the end (measured
against the alternatives in docs/benchmarks.md). ``explicit_bptt = False`` runs the same
equations as a plain loop that autograd differentiates (lstm_ln always does), and
``record = True`` also keeps the top layer's h_t of every step in ``recorded``, so that
dL/dh_t can be read for each t (the gradient-flow callback does).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "lstm_ln": 4}
LAYER_NORM_EPS = 1e-5


# --- one step of each cell, for the autograd loop (the textbook form) -------------------------
def _rnn_step(act, x_t, h, w_hh, b_hh):
    return act(x_t + F.linear(h, w_hh, b_hh))


def _lstm_step(x_t, h, c, w_hh, b_hh):
    i, f, g, o = (x_t + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _gru_step(x_t, h, w_hh, b_hh):
    x_r, x_z, x_n = x_t.chunk(3, dim=-1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


# --- backpropagation through time, written out ---------------------------------------------
class _RNNLayer(torch.autograd.Function):
    """Elman recurrence over precomputed input projections ``xs`` (time, batch, hidden)."""

    @staticmethod
    def forward(ctx, xs, h0, w_hh, b_hh, relu: bool):
        steps = xs.shape[0]
        hs = xs.new_empty((steps + 1, *h0.shape))
        hs[0] = h0
        pre, w_t = xs + b_hh, w_hh.t()  # each step adds W_hh h_{t-1} in place
        for t in range(steps):
            pre[t].addmm_(hs[t], w_t)
            torch.clamp(pre[t], min=0, out=hs[t + 1]) if relu else torch.tanh(pre[t], out=hs[t + 1])
        ctx.relu = relu
        ctx.save_for_backward(hs, w_hh)
        return hs[1:], hs[-1]

    @staticmethod
    def backward(ctx, d_out, d_last):
        hs, w_hh = ctx.saved_tensors
        # f'(pre) for every step at once, from the outputs alone
        slope = (hs[1:] > 0).to(hs.dtype) if ctx.relu else 1 - hs[1:] * hs[1:]
        d_pre = torch.empty_like(slope)
        dh = d_last.clone()
        for t in range(slope.shape[0] - 1, -1, -1):
            dh += d_out[t]
            torch.mul(dh, slope[t], out=d_pre[t])
            dh = d_pre[t] @ w_hh
        flat = d_pre.reshape(-1, d_pre.shape[-1])
        d_w = flat.t() @ hs[:-1].reshape(-1, hs.shape[-1])
        return d_pre, dh, d_w, flat.sum(0), None


def _gates_g_first(hidden: int, device) -> torch.Tensor:
    """Row order (g, i, f, o) from PyTorch's (i, f, g, o): the one tanh gate first, so that
    one tanh and one sigmoid call cover the four gates, and in the backward pass the three
    gates that dL/dc drives sit side by side."""
    i, f, g, o = torch.arange(4 * hidden, device=device).split(hidden)
    return torch.cat([g, i, f, o])


class _LSTMLayer(torch.autograd.Function):
    """LSTM recurrence over precomputed ``xs`` = W_ih x_t + b_ih + b_hh (time * batch, 4 * hidden).

    Its gates come in the order (g, i, f, o), and g's pre-activation doubled: the caller
    hands it the weights that way (``_gates_g_first``, a product with 2), and autograd takes
    their gradients back to PyTorch's parameters. ``xs`` becomes the gates' buffer (each step
    adds W_hh h_{t-1} in place and applies the nonlinearities), returned as a fourth output.
    """

    @staticmethod
    def forward(ctx, xs, h0, c0, w_hh):
        ctx.mark_dirty(xs)
        ctx.set_materialize_grads(False)
        (batch, hidden), steps = h0.shape, xs.shape[0] // h0.shape[0]
        gates, w_t = xs.view(steps, batch, 4 * hidden), w_hh.t()
        hs = xs.new_empty((steps + 1, *h0.shape))
        cs = xs.new_empty((steps + 1, *c0.shape))
        tanh_cs = xs.new_empty((steps, *c0.shape))
        hs[0], cs[0] = h0, c0
        # per-step views made once (indexing inside the loop costs more than the math here)
        h, c, tanh_c, gate = hs.unbind(0), cs.unbind(0), tanh_cs.unbind(0), gates.unbind(0)
        g, i, f, o = (part.unbind(0) for part in gates.split(hidden, dim=2))
        for t in range(steps):
            # tanh(x) = 2 sigmoid(2x) - 1, and sigmoid costs a quarter of tanh here: the g
            # rows come in doubled (see ScratchRecurrent._direction), so one sigmoid serves all
            gate[t].addmm_(h[t], w_t).sigmoid_()
            g[t].mul_(2).sub_(1)
            torch.mul(f[t], c[t], out=c[t + 1]).addcmul_(i[t], g[t])
            torch.mul(c[t + 1], 2, out=tanh_c[t]).sigmoid_().mul_(2).sub_(1)
            torch.mul(o[t], tanh_c[t], out=h[t + 1])
        ctx.save_for_backward(hs, cs, tanh_cs, xs, w_hh)
        return hs[1:], hs[-1], cs[-1], xs

    @staticmethod
    def backward(ctx, d_out, d_h_last, d_c_last, _d_gates):
        hs, cs, tanh_cs, xs, w_hh = ctx.saved_tensors
        steps, batch, hidden = tanh_cs.shape
        gates = xs.view(steps, batch, 4 * hidden)
        d_out = torch.zeros_like(hs[1:]) if d_out is None else d_out
        # what does not depend on the incoming gradient, for every step at once:
        # d(pre-activation of g, i, f, o) = (dc, dc, dc, dh) * scale
        g, i, f, o = gates.split(hidden, dim=2)
        one, half = xs.new_ones(()), xs.new_full((), 0.5)
        c_from_h = o * torch.addcmul(one, tanh_cs, tanh_cs, value=-1)  # dc_t / dh_t = o (1 - tanh^2 c_t)
        scale = torch.empty_like(gates).view(steps, batch, 4, hidden)
        # sigmoid' = s (1 - s) = s - s^2; g = 2 sigmoid(u) - 1 of the doubled pre-activation
        # u, so dg/du = (1 - g^2) / 2
        torch.mul(i, torch.addcmul(half, g, g, value=-0.5), out=scale[:, :, 0])
        torch.mul(g, torch.addcmul(i, i, i, value=-1), out=scale[:, :, 1])
        torch.mul(cs[:-1], torch.addcmul(f, f, f, value=-1), out=scale[:, :, 2])
        torch.mul(tanh_cs, torch.addcmul(o, o, o, value=-1), out=scale[:, :, 3])
        d_pre = torch.empty_like(gates)
        d_pre4 = d_pre.view(steps, batch, 4, hidden)
        dh = d_out[-1] if d_h_last is None else d_out[-1] + d_h_last
        dc = torch.zeros_like(hs[0]) if d_c_last is None else d_c_last.clone()
        d_gates, d_from_c, d_o = d_pre.unbind(0), d_pre4[:, :, :3].unbind(0), d_pre4[:, :, 3].unbind(0)
        by_c, by_h = scale[:, :, :3].unbind(0), scale[:, :, 3].unbind(0)
        c_from_h, f, d_out = c_from_h.unbind(0), f.unbind(0), d_out.unbind(0)
        for t in range(steps - 1, -1, -1):
            dc.addcmul_(dh, c_from_h[t])
            torch.mul(dc.unsqueeze(1), by_c[t], out=d_from_c[t])
            torch.mul(dh, by_h[t], out=d_o[t])
            dc.mul_(f[t])
            # dL/dh_{t-1}: through the recurrence, plus the output at t - 1 (none at t = 0)
            dh = torch.addmm(d_out[t - 1], d_gates[t], w_hh) if t > 0 else d_gates[t] @ w_hh
        flat = d_pre.view(-1, 4 * hidden)
        return flat, dh, dc, flat.t() @ hs[:-1].reshape(-1, hidden)


class _GRULayer(torch.autograd.Function):
    """GRU recurrence over precomputed ``xs`` = W_ih x_t + b_ih (time, batch, 3 * hidden)."""

    @staticmethod
    def forward(ctx, xs, h0, w_hh, b_hh):
        steps, hidden = xs.shape[0], h0.shape[-1]
        hs = xs.new_empty((steps + 1, *h0.shape))
        hs[0] = h0
        rzn = torch.empty_like(xs)  # r, z, n after their nonlinearities
        h_n = xs.new_empty((steps, *h0.shape))  # W_hn h_{t-1} + b_hn, which r multiplies
        w_t = w_hh.t()
        for t in range(steps):
            gh = torch.addmm(b_hh, hs[t], w_t)
            x_t, g = xs[t], rzn[t]
            torch.add(x_t[:, : 2 * hidden], gh[:, : 2 * hidden], out=g[:, : 2 * hidden]).sigmoid_()
            h_n[t] = gh[:, 2 * hidden :]
            r, z, n = g.split(hidden, dim=1)
            torch.addcmul(x_t[:, 2 * hidden :], r, h_n[t], out=n).tanh_()
            torch.addcmul(n, z, hs[t] - n, out=hs[t + 1])
        ctx.save_for_backward(hs, rzn, h_n, w_hh)
        return hs[1:], hs[-1]

    @staticmethod
    def backward(ctx, d_out, d_last):
        hs, rzn, h_n, w_hh = ctx.saved_tensors
        hidden = hs.shape[-1]
        d_x = torch.empty_like(rzn)
        d_gh = torch.empty_like(rzn)
        dh = d_last.clone()
        for t in range(rzn.shape[0] - 1, -1, -1):
            dh += d_out[t]
            r, z, n = rzn[t].split(hidden, dim=1)
            d_r, d_z, d_n = d_x[t].split(hidden, dim=1)
            torch.mul(dh * (1 - z), 1 - n * n, out=d_n)
            torch.mul(dh * (hs[t] - n), z * (1 - z), out=d_z)
            torch.mul(d_n * h_n[t], r * (1 - r), out=d_r)
            d_gh[t, :, : 2 * hidden] = d_x[t, :, : 2 * hidden]
            torch.mul(d_n, r, out=d_gh[t, :, 2 * hidden :])
            dh = dh * z + d_gh[t] @ w_hh
        flat = d_gh.reshape(-1, d_gh.shape[-1])
        d_w = flat.t() @ hs[:-1].reshape(-1, hidden)
        return d_x, dh, d_w, flat.sum(0)


# --- the stack ----------------------------------------------------------------------------
class ScratchRecurrent(nn.Module):
    """A stack of recurrent layers over (batch, time, features), as ``nn.RNN/LSTM/GRU`` with
    ``batch_first=True``: returns (outputs, h_n) or (outputs, (h_n, c_n)), states shaped
    (layers * directions, batch, hidden)."""

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.num_directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.explicit_bptt = cell != "lstm_ln"
        self.record = False
        self.recorded: list[torch.Tensor] = []
        size = GATES[cell] * hidden_size
        for layer in range(num_layers):
            inputs = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes:
                name = f"l{layer}{suffix}"
                self.register_parameter(f"weight_ih_{name}", nn.Parameter(torch.empty(size, inputs)))
                self.register_parameter(f"weight_hh_{name}", nn.Parameter(torch.empty(size, hidden_size)))
                self.register_parameter(f"bias_ih_{name}", nn.Parameter(torch.empty(size)))
                self.register_parameter(f"bias_hh_{name}", nn.Parameter(torch.empty(size)))
                if cell == "lstm_ln":
                    for part, width in (("ih", size), ("hh", size), ("c", hidden_size)):
                        self.register_parameter(f"ln_{part}_weight_{name}", nn.Parameter(torch.ones(width)))
                        self.register_parameter(f"ln_{part}_bias_{name}", nn.Parameter(torch.zeros(width)))
        self.reset_parameters()

    @property
    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse")[: self.num_directions]

    def reset_parameters(self) -> None:
        """PyTorch's initialization: U(-1/sqrt(hidden), 1/sqrt(hidden)); LayerNorm gains 1, shifts 0."""
        bound = 1 / math.sqrt(self.hidden_size)
        for name, parameter in self.named_parameters():
            if not name.startswith("ln_"):
                nn.init.uniform_(parameter, -bound, bound)

    def _param(self, kind: str, layer: int, suffix: str) -> torch.Tensor:
        return getattr(self, f"{kind}_l{layer}{suffix}")

    def forward(self, x: torch.Tensor, state=None):
        batch = x.shape[0]
        lstm = self.cell in ("lstm", "lstm_ln")
        shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        if state is None:
            zeros = x.new_zeros(shape)
            h0, c0 = zeros, (zeros if lstm else None)
        else:
            h0, c0 = state if lstm else (state, None)
        self.recorded = []
        layer_input = x.transpose(0, 1)  # time-major inside: each step is one contiguous slice
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes):
                index = layer * self.num_directions + direction
                c_start = c0[index] if lstm else None
                top_forward = self.record and layer == self.num_layers - 1 and direction == 0
                out, h_last, c_last = self._direction(
                    layer_input, h0[index], c_start, layer, suffix, reverse=direction == 1, record=top_forward
                )
                outputs.append(out)
                h_n.append(h_last)
                c_n.append(c_last)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
            if layer < self.num_layers - 1 and self.dropout > 0:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
        outputs = layer_input.transpose(0, 1)
        h_n = torch.stack(h_n)
        return (outputs, (h_n, torch.stack(c_n))) if lstm else (outputs, h_n)

    def _direction(self, inputs, h0, c0, layer, suffix, reverse, record):
        w_ih, w_hh = self._param("weight_ih", layer, suffix), self._param("weight_hh", layer, suffix)
        b_ih, b_hh = self._param("bias_ih", layer, suffix), self._param("bias_hh", layer, suffix)
        if reverse:
            inputs = inputs.flip(0)
        explicit = self.explicit_bptt and not record
        if explicit and self.cell == "lstm":
            out, h_last, c_last = self._lstm_explicit(inputs, h0, c0, w_ih, w_hh, b_ih, b_hh)
        else:
            if self.cell == "lstm_ln":  # normalized without its bias; the biases are added after
                xs = self._layer_norm(F.linear(inputs, w_ih), "ih", layer, suffix) + b_ih
            else:
                xs = F.linear(inputs, w_ih, b_ih)  # every step's input projection in one matmul
            if explicit and self.cell == "gru":
                (out, h_last), c_last = _GRULayer.apply(xs, h0, w_hh, b_hh), None
            elif explicit:
                (out, h_last), c_last = _RNNLayer.apply(xs, h0, w_hh, b_hh, self.cell == "rnn_relu"), None
            else:
                out, h_last, c_last = self._loop(xs, h0, c0, w_hh, b_hh, layer, suffix, record)
        return (out.flip(0) if reverse else out), h_last, c_last

    def _lstm_explicit(self, inputs, h0, c0, w_ih, w_hh, b_ih, b_hh):
        """_LSTMLayer takes its gates as (g, i, f, o) with g's rows doubled, both biases added
        in the input projection, and that projection as a (time * batch, 4 * hidden) buffer
        it fills in place."""
        hidden = self.hidden_size
        order = _gates_g_first(hidden, inputs.device)
        doubled = torch.ones(4 * hidden, 1, dtype=inputs.dtype, device=inputs.device)
        doubled[:hidden] = 2
        w_ih, w_hh = w_ih[order] * doubled, w_hh[order] * doubled
        bias = (b_ih + b_hh)[order] * doubled[:, 0]
        xs = torch.addmm(bias, inputs.reshape(-1, inputs.shape[-1]), w_ih.t())
        out, h_last, c_last, _ = _LSTMLayer.apply(xs, h0, c0, w_hh)
        return out, h_last, c_last

    def _loop(self, xs, h, c, w_hh, b_hh, layer, suffix, record):
        """The recurrence as a plain loop that autograd differentiates."""
        hs = []
        for x_t in xs:
            if self.cell == "lstm":
                h, c = _lstm_step(x_t, h, c, w_hh, b_hh)
            elif self.cell == "lstm_ln":
                h, c = self._lstm_ln_step(x_t, h, c, w_hh, b_hh, layer, suffix)
            elif self.cell == "gru":
                h = _gru_step(x_t, h, w_hh, b_hh)
            else:
                h = _rnn_step(torch.relu if self.cell == "rnn_relu" else torch.tanh, x_t, h, w_hh, b_hh)
            hs.append(h)
        if record:
            self.recorded = hs
        return torch.stack(hs), h, c

    def _layer_norm(self, value, part, layer, suffix):
        weight = self._param(f"ln_{part}_weight", layer, suffix)
        bias = self._param(f"ln_{part}_bias", layer, suffix)
        return F.layer_norm(value, value.shape[-1:], weight, bias, LAYER_NORM_EPS)

    def _lstm_ln_step(self, x_t, h, c, w_hh, b_hh, layer, suffix):
        pre = x_t + self._layer_norm(F.linear(h, w_hh), "hh", layer, suffix) + b_hh
        i, f, g, o = pre.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(self._layer_norm(c, "c", layer, suffix)), c
