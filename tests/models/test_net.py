import itertools

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models import CELLS, RecurrentBackbone, RecurrentNet

BATCH, TIME, FEATURES, HIDDEN, OUT = 3, 7, 2, 5, 4


@pytest.mark.parametrize(
    ("cell", "num_layers", "bidirectional"), list(itertools.product(CELLS, (1, 2), (False, True)))
)
def test_shapes_for_every_variant(cell, num_layers, bidirectional):
    directions = 2 if bidirectional else 1
    x = torch.randn(BATCH, TIME, FEATURES)

    backbone = RecurrentBackbone(cell, FEATURES, HIDDEN, num_layers, bidirectional, dropout=0.1)
    outputs, state = backbone(x)
    assert outputs.shape == (BATCH, TIME, HIDDEN * directions)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (num_layers * directions, BATCH, HIDDEN)
    if cell == "lstm":
        assert state[1].shape == h.shape

    last = RecurrentNet(cell, FEATURES, OUT, HIDDEN, num_layers, bidirectional, head="last")
    assert last(x)[0].shape == (BATCH, OUT)
    step = RecurrentNet(cell, FEATURES, OUT, HIDDEN, num_layers, bidirectional, head="step")
    assert step(x)[0].shape == (BATCH, TIME, OUT)


def test_cells_are_the_torch_modules_they_name():
    assert RecurrentBackbone("rnn_relu", 1, 4).rnn.nonlinearity == "relu"
    assert RecurrentBackbone("rnn_tanh", 1, 4).rnn.nonlinearity == "tanh"
    assert isinstance(RecurrentBackbone("lstm", 1, 4).rnn, torch.nn.LSTM)
    assert isinstance(RecurrentBackbone("gru", 1, 4).rnn, torch.nn.GRU)


def test_last_head_of_a_bidirectional_net_sees_the_whole_sequence():
    """The backward direction's summary is its state after reading the first step, so
    changing the first input must change the prediction."""
    torch.manual_seed(0)
    net = RecurrentNet("gru", 1, 1, hidden_size=8, bidirectional=True)
    x = torch.randn(1, 6, 1)
    y = x.clone()
    y[0, 0, 0] += 1.0
    before, after = net(x)[0], net(y)[0]
    assert not torch.allclose(before, after)
    _, h_n = net.backbone(x)
    summary = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    assert torch.allclose(net.head.linear(summary), before, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_size": 0}, "hidden_size must be an integer >= 1 (got 0)"),
        ({"num_layers": 0}, "num_layers must be an integer >= 1 (got 0)"),
        ({"cell": "transformer"}, "cell must be one of rnn_tanh, rnn_relu, lstm, gru (got 'transformer')"),
        ({"dropout": 1.5}, "dropout must be a number in [0, 1) (got 1.5)"),
        ({"head": "max"}, "head must be one of last, step (got 'max')"),
        ({"cell": "rnn_sigmoid", "nonlinearity": "sigmoid"}, "nonlinearity must be one of tanh, relu"),
        ({"backend": "cuda"}, "backend must be one of torch (got 'cuda')"),
    ],
)
def test_bad_settings_name_the_setting_and_what_is_allowed(kwargs, message):
    settings = {"cell": "lstm", "input_size": 1, "output_size": 1, **kwargs}
    with pytest.raises(ConfigError) as error:
        RecurrentNet(**settings)
    assert message in str(error.value)
    assert str(error.value.within("model")).startswith("model.")
