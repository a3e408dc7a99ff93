"""model.backend=scratch: the cells written from their equations match PyTorch's fused
modules (outputs, final states, parameter gradients) and share their state_dicts."""

import itertools

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models.backbone import RecurrentBackbone
from rnnlab.models.net import RecurrentNet

CASES = list(itertools.product(["rnn_tanh", "rnn_relu", "lstm", "gru"], [1, 2], [False, True]))


def _pair(cell, layers, bidirectional, dtype=torch.float64, **kwargs):
    torch.manual_seed(0)
    fused = RecurrentBackbone(cell, 5, 7, layers, bidirectional, **kwargs).to(dtype)
    scratch = RecurrentBackbone(cell, 5, 7, layers, bidirectional, backend="scratch", **kwargs).to(dtype)
    scratch.load_state_dict(fused.state_dict())  # strict: the same names and shapes
    return fused, scratch


def _run(module, x, state):
    """Outputs, final states and every parameter's gradient of a loss that uses them all."""
    module.zero_grad()
    outputs, final = module(x, state)
    finals = final if isinstance(final, tuple) else (final,)
    loss = (outputs**2).sum() + sum((f.sin() * f).sum() for f in finals)
    loss.backward()
    grads = {name: p.grad.clone() for name, p in module.named_parameters()}
    return outputs.detach(), [f.detach() for f in finals], grads


def _state(cell, layers, bidirectional, dtype):
    h0 = torch.randn(layers * (2 if bidirectional else 1), 3, 7, dtype=dtype)
    return (h0, torch.randn_like(h0)) if cell == "lstm" else h0


@pytest.mark.parametrize(("cell", "layers", "bidirectional"), CASES)
@pytest.mark.parametrize("with_state", [False, True])
def test_scratch_matches_fused_in_float64(cell, layers, bidirectional, with_state):
    fused, scratch = _pair(cell, layers, bidirectional)
    x = torch.randn(3, 11, 5, dtype=torch.float64)
    state = _state(cell, layers, bidirectional, torch.float64) if with_state else None
    (out_f, fin_f, grad_f), (out_s, fin_s, grad_s) = _run(fused, x, state), _run(scratch, x, state)
    torch.testing.assert_close(out_s, out_f, rtol=0, atol=1e-10)
    for a, b in zip(fin_s, fin_f, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert grad_s.keys() == grad_f.keys()
    for name in grad_f:
        torch.testing.assert_close(grad_s[name], grad_f[name], rtol=0, atol=1e-10, msg=name)


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_scratch_matches_fused_in_float32_within_1e_5(cell):
    fused, scratch = _pair(cell, 2, True, dtype=torch.float32)
    x = torch.randn(4, 30, 5)
    (out_f, fin_f, grad_f), (out_s, fin_s, grad_s) = _run(fused, x, None), _run(scratch, x, None)
    torch.testing.assert_close(out_s, out_f, rtol=0, atol=1e-5)
    for a, b in zip(fin_s, fin_f, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    for name in grad_f:
        torch.testing.assert_close(grad_s[name], grad_f[name], rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("cell", ["rnn_relu", "lstm", "gru"])
def test_explicit_bptt_equals_autograd_through_the_loop(cell):
    _, scratch = _pair(cell, 2, True)
    x = torch.randn(3, 9, 5, dtype=torch.float64)
    explicit = _run(scratch, x, None)
    scratch.rnn.explicit_bptt = False
    looped = _run(scratch, x, None)
    torch.testing.assert_close(explicit[0], looped[0], rtol=0, atol=1e-12)
    for name in explicit[2]:
        torch.testing.assert_close(explicit[2][name], looped[2][name], rtol=0, atol=1e-12, msg=name)


def test_state_dicts_load_both_ways_between_whole_networks():
    torch.manual_seed(1)
    scratch = RecurrentNet(
        "gru", input_size=3, output_size=2, hidden_size=6, num_layers=2, bidirectional=True, backend="scratch"
    )
    fused = RecurrentNet("gru", input_size=3, output_size=2, hidden_size=6, num_layers=2, bidirectional=True)
    fused.load_state_dict(scratch.state_dict())
    x = torch.randn(2, 8, 3)
    torch.testing.assert_close(fused(x)[0], scratch(x)[0], rtol=0, atol=1e-6)


def test_inter_layer_dropout_acts_in_training_only():
    _, scratch = _pair("lstm", 2, False, dropout=0.5)
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    scratch.eval()
    reference, _ = scratch(x)
    scratch.train()
    dropped, _ = scratch(x)
    assert not torch.allclose(dropped, reference)
    scratch.eval()
    torch.testing.assert_close(scratch(x)[0], reference)


def test_recording_keeps_the_top_layer_states_of_every_step():
    _, scratch = _pair("lstm", 2, False)
    scratch.rnn.record = True
    outputs, _ = scratch(torch.randn(3, 6, 5, dtype=torch.float64))
    recorded = scratch.rnn.recorded
    assert len(recorded) == 6
    torch.testing.assert_close(torch.stack(recorded, dim=1), outputs)
    grads = torch.autograd.grad(outputs[:, -1].sum(), recorded)  # dL/dh_t for every t
    assert grads[-1].abs().sum() > 0 and all(g.shape == (3, 7) for g in grads)


def test_layer_normalized_lstm_follows_its_equations():
    torch.manual_seed(0)
    backbone = RecurrentBackbone("lstm_ln", 4, 5, backend="scratch").double()
    rnn = backbone.rnn
    with torch.no_grad():  # gains and shifts away from 1 and 0, so that they count
        for name, p in rnn.named_parameters():
            if name.startswith("ln_"):
                p.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    outputs, (h_n, c_n) = backbone(x)

    def ln(v, part):
        w, b = getattr(rnn, f"ln_{part}_weight_l0"), getattr(rnn, f"ln_{part}_bias_l0")
        mean, var = v.mean(-1, keepdim=True), v.var(-1, unbiased=False, keepdim=True)
        return (v - mean) / torch.sqrt(var + 1e-5) * w + b

    h = c = torch.zeros(2, 5, dtype=torch.float64)
    for t in range(3):
        pre = ln(x[:, t] @ rnn.weight_ih_l0.T, "ih") + ln(h @ rnn.weight_hh_l0.T, "hh")
        i, f, g, o = (pre + rnn.bias_ih_l0 + rnn.bias_hh_l0).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(ln(c, "c"))
        torch.testing.assert_close(outputs[:, t], h)
    torch.testing.assert_close(h_n[0], h)
    torch.testing.assert_close(c_n[0], c)
    outputs.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in rnn.parameters())


def test_layer_normalized_lstm_needs_the_scratch_backend():
    with pytest.raises(ConfigError, match=r"^backend must be scratch for the lstm_ln cell"):
        RecurrentBackbone("lstm_ln", 4, 5)
