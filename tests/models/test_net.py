import itertools

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models.backbone import BACKENDS, CELLS, SCRATCH_ONLY, RecurrentBackbone
from rnnlab.models.heads import HEADS
from rnnlab.models.net import RecurrentNet

BATCH, TIME, FEATURES, HIDDEN, OUT = 3, 7, 2, 5, 4
SIZES = {"input_size": FEATURES, "output_size": OUT, "hidden_size": HIDDEN}


VARIANTS = [
    (cell, layers, bidirectional, backend)
    for cell, layers, bidirectional, backend in itertools.product(CELLS, (1, 2), (False, True), BACKENDS)
    if not (cell in SCRATCH_ONLY and backend == "torch")
]


@pytest.mark.parametrize(("cell", "num_layers", "bidirectional", "backend"), VARIANTS)
def test_shapes_for_every_variant(cell, num_layers, bidirectional, backend):
    directions = 2 if bidirectional else 1
    x = torch.randn(BATCH, TIME, FEATURES)

    backbone = RecurrentBackbone(cell, FEATURES, HIDDEN, num_layers, bidirectional, 0.1, backend)
    outputs, state = backbone(x)
    assert outputs.shape == (BATCH, TIME, HIDDEN * directions)
    lstm = cell.startswith("lstm")
    h = state[0] if lstm else state
    assert h.shape == (num_layers * directions, BATCH, HIDDEN)
    if lstm:
        assert state[1].shape == h.shape

    for head in ("last", "mean", "attention"):
        net = RecurrentNet(
            cell, **SIZES, num_layers=num_layers, bidirectional=bidirectional, backend=backend, head=head
        )
        assert net(x)[0].shape == (BATCH, OUT)
    step = RecurrentNet(
        cell, **SIZES, num_layers=num_layers, bidirectional=bidirectional, backend=backend, head="step"
    )
    assert step(x)[0].shape == (BATCH, TIME, OUT)


def test_mean_and_attention_heads_pool_over_time():
    outputs = torch.randn(BATCH, TIME, HIDDEN)
    mean = HEADS["mean"](HIDDEN, OUT)
    torch.testing.assert_close(mean(outputs), mean.linear(outputs.mean(dim=1)))
    attention = HEADS["attention"](HIDDEN, OUT)
    prediction = attention(outputs)
    weights = attention.attention(outputs)
    assert weights.shape == (BATCH, TIME)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(BATCH))
    pooled = (weights.unsqueeze(-1) * outputs).sum(dim=1)
    torch.testing.assert_close(prediction, attention.linear(pooled))
    with torch.no_grad():  # a score that only looks at the first feature: a peaked, known weighting
        attention.score[0].weight.zero_()
        attention.score[0].weight[0, 0] = 50.0
        attention.score[0].bias.zero_()
        attention.score[2].weight.fill_(10.0)
    spike = torch.zeros(1, TIME, HIDDEN)
    spike[0, 3, 0] = 1.0
    weights = attention.attention(spike)
    assert weights[0].argmax() == 3 and weights[0, 3] > 0.99


def test_a_network_gives_its_attention_weights_without_a_forward_pass_side_effect():
    net = RecurrentNet("gru", **SIZES, head="attention").eval()
    x = torch.randn(BATCH, TIME, FEATURES)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    weights = net.attention(x)
    assert weights.shape == (BATCH, TIME)
    torch.testing.assert_close(weights, net.head.attention(net.hidden(x)[0]))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not hasattr(net.head, "weights")  # nothing kept from the last batch
    with pytest.raises(TypeError, match=r"^attention needs model\.head=attention"):
        RecurrentNet("gru", **SIZES).attention(x)


def test_cells_are_the_torch_modules_they_name():
    assert RecurrentBackbone("rnn_relu", 1, 4).rnn.nonlinearity == "relu"
    assert RecurrentBackbone("rnn_tanh", 1, 4).rnn.nonlinearity == "tanh"
    assert isinstance(RecurrentBackbone("lstm", 1, 4).rnn, torch.nn.LSTM)
    assert isinstance(RecurrentBackbone("gru", 1, 4).rnn, torch.nn.GRU)


def test_last_head_of_a_bidirectional_net_sees_the_whole_sequence():
    """The backward direction's summary is its state after reading the first step, so
    changing the first input must change the prediction."""
    torch.manual_seed(0)
    net = RecurrentNet("gru", input_size=1, output_size=1, hidden_size=8, bidirectional=True)
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
        (
            {"cell": "transformer"},
            "cell must be one of rnn_tanh, rnn_relu, lstm, gru, lstm_ln (got 'transformer')",
        ),
        ({"dropout": 1.5}, "dropout must be a number in [0, 1) (got 1.5)"),
        ({"head": "max"}, "head must be one of last, mean, attention, step (got 'max')"),
        ({"cell": "rnn_sigmoid", "nonlinearity": "sigmoid"}, "nonlinearity must be one of tanh, relu"),
        ({"backend": "cuda"}, "backend must be one of torch, scratch (got 'cuda')"),
    ],
)
def test_bad_settings_name_the_setting_and_what_is_allowed(kwargs, message):
    settings = {"cell": "lstm", "input_size": 1, "output_size": 1, **kwargs}
    with pytest.raises(ConfigError) as error:
        RecurrentNet(**settings)
    assert message in str(error.value)
    assert str(error.value.within("model")).startswith("model.")
