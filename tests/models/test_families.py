"""The modern families (minGRU, minLSTM, LRU, S6, the transformer): the parallel scan equals
the step mode in float64 (outputs, final state, gradients), a sequence cut in two with its
state carried equals the whole, every head, bidirectional where it is defined, and the
parameter budget."""

import copy

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models import s6
from rnnlab.models.backbone import RecordsHiddenStates
from rnnlab.models.blocks import Mixer
from rnnlab.models.minrnn import MinRNNNet
from tests.conftest import FAMILY_OPTIONS, model_builder, options

# every family of conf/model as a run builds it, and variants of some
FAMILIES = {
    **{name: model_builder(name) for name in FAMILY_OPTIONS},
    "mingru log": model_builder("mingru", scan="log"),  # the paper's log-space scan
    "minlstm log": model_builder("minlstm", scan="log"),
    # chunks shorter than the sequences below, which are no multiple of them
    "mamba2 chunks": model_builder("mamba2", chunk_size=8),
    "deltanet chunks": model_builder("deltanet", chunk_size=8, short_conv=False, output_gate=True),
    "gated_deltanet chunks": model_builder("gated_deltanet", chunk_size=8),
    "mlstm chunks": model_builder("mlstm", chunk_size=8),
    # a context shorter than the sequences below, so that the sliding window is exercised
    "transformer": model_builder("transformer", num_heads=2, context=5),
    "lstm": model_builder("lstm"),
}
# the families that run a recurrence: their step mode is the one to check the scan against
RECURRENT = [
    name
    for name, build in FAMILIES.items()
    if name != "lstm" and isinstance(build(input_size=1, output_size=1).backbone, RecordsHiddenStates)
]
TIME = 37  # not a square: the chunked linear scan (chunks of about sqrt(T) steps) pads its last chunk
TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}


def _net(family: str, **settings) -> torch.nn.Module:
    torch.manual_seed(0)
    settings = {
        "input_size": 3,
        "output_size": 2,
        "hidden_size": 8,
        "num_layers": 2,
        "head": "step",
        **settings,
    }
    return FAMILIES[family](**settings).double().eval()


def _tensors(state) -> list[torch.Tensor]:
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for part in state for t in _tensors(part)]


def _loss(outputs: torch.Tensor, state) -> torch.Tensor:
    """Depends on every output and every number of the final state (complex ones too)."""
    weights = torch.linspace(-1, 1, outputs.numel(), dtype=outputs.dtype).view_as(outputs)
    return (outputs * weights).sum() + sum(
        torch.view_as_real(t).sum() if t.is_complex() else t.sum() for t in _tensors(state)
    )


def _run_and_differentiate(net, x, state) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    x = x.clone().requires_grad_()
    outputs, final = net(x, state)
    grads = torch.autograd.grad(_loss(outputs, final), [x, *net.parameters()])
    return outputs, _tensors(final), list(grads)


def _assert_all_close(first, second) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, **TOLERANCE)


@pytest.mark.parametrize("segment", [None, 10])  # one scan; scans of 10 steps with the state carried
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("family", RECURRENT)
def test_the_scan_equals_the_step_mode(family, bidirectional, segment, monkeypatch):
    """The recording copy runs every layer step by step (the recurrence as the paper writes
    it); the network itself runs the parallel scan. From a carried state, in float64."""
    if segment is not None:
        monkeypatch.setattr(Mixer, "segment", segment)
    monkeypatch.setattr(s6, "CHUNK", 8)  # S6 holds 8 steps' states at a time: 37 steps are 5 chunks
    net = _net(family, bidirectional=bidirectional)
    torch.manual_seed(1)
    prefix, x = torch.randn(2, 5, 3, dtype=torch.float64), torch.randn(2, TIME, 3, dtype=torch.float64)
    with torch.no_grad():
        _, state = net(prefix)
    stepper = copy.deepcopy(net)
    stepper.backbone = net.backbone.recording_copy()

    scan_outputs, scan_state, scan_grads = _run_and_differentiate(net, x, state)
    step_outputs, step_state, step_grads = _run_and_differentiate(stepper, x, state)
    torch.testing.assert_close(scan_outputs, step_outputs, **TOLERANCE)
    _assert_all_close(scan_state, step_state)
    _assert_all_close(scan_grads, step_grads)
    assert len(stepper.backbone.recorded) == TIME  # one h_t of the top layer per step
    assert not net.backbone.record and net.backbone.recorded == []


@pytest.mark.parametrize("context", [5, 100])  # a sliding window; plain causal attention (fused kernel)
def test_the_transformer_run_token_by_token_with_its_cache_equals_the_whole_sequence(context):
    net = _net("transformer", context=context)
    torch.manual_seed(1)
    x = torch.randn(2, TIME, 3, dtype=torch.float64)
    whole_outputs, whole_state, whole_grads = _run_and_differentiate(net, x, None)

    x = x.clone().requires_grad_()
    state, outputs = None, []
    for t in range(TIME):
        y, state = net(x[:, t : t + 1], state)
        outputs.append(y)
    outputs = torch.cat(outputs, dim=1)
    grads = torch.autograd.grad(_loss(outputs, state), [x, *net.parameters()])
    torch.testing.assert_close(outputs, whole_outputs, **TOLERANCE)
    _assert_all_close(_tensors(state), whole_state)
    _assert_all_close(list(grads), whole_grads)
    kept = min(context - 1, TIME)
    assert state[0][0].shape == (2, 2, kept, 4)  # (batch, heads, context - 1 positions, head size)


@pytest.mark.parametrize("family", [*RECURRENT, "transformer"])
def test_two_halves_with_the_state_carried_equal_the_whole(family):
    net = _net(family)
    x = torch.randn(2, TIME, 3, dtype=torch.float64)
    with torch.no_grad():
        whole, whole_state = net(x)
        first, state = net(x[:, :11])
        second, state = net(x[:, 11:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, **TOLERANCE)
    _assert_all_close(_tensors(state), _tensors(whole_state))


@pytest.mark.parametrize("family", [*RECURRENT, "transformer"])
def test_every_head_and_bidirectional_where_it_is_defined(family):
    x = torch.randn(3, 7, 3)
    for head in ("last", "mean", "attention"):
        assert _net(family, head=head).float()(x)[0].shape == (3, 2)
    assert _net(family).float()(x)[0].shape == (3, 7, 2)
    if family == "transformer":
        with pytest.raises(ConfigError, match="bidirectional must be false for the transformer"):
            _net(family, bidirectional=True)
        return
    net = _net(family, bidirectional=True, head="last").float()
    assert net(x)[0].shape == (3, 2)
    # the backward direction reads the future: changing the last input changes step 0's output
    step = _net(family, bidirectional=True).float()
    later = x.clone()
    later[:, -1] += 1.0
    assert not torch.allclose(step(x)[0][:, 0], step(later)[0][:, 0])
    forward_only = _net(family).float()
    torch.testing.assert_close(forward_only(x)[0][:, 0], forward_only(later)[0][:, 0])


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("budget", [20_000, 100_000])
def test_a_parameter_budget_chooses_the_width(family, budget):
    """Within 5% of the budget; the same network as asking for that width directly (the
    search draws no numbers from the run's random generator)."""
    net = _net(family, params=budget, input_size=1, output_size=4, head="last")
    assert abs(net.num_parameters - budget) <= 0.05 * budget
    direct = _net(family, hidden_size=net.hidden_size, input_size=1, output_size=4, head="last")
    assert direct.num_parameters == net.num_parameters
    for (name, a), (_, b) in zip(net.state_dict().items(), direct.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_a_budget_counts_a_tied_embedding_once():
    net = MinRNNNet(
        input_size=60,
        output_size=60,
        input_encoding="embedding",
        tie_weights=True,
        head="step",
        params=50_000,
    )
    assert net.head.linear.weight is net.encoder.weight
    assert abs(net.num_parameters - 50_000) <= 2_500


@pytest.mark.parametrize(
    ("family", "settings", "message"),
    [
        ("lru", {"r_min": 0.9, "r_max": 0.5}, "r_min must be below r_max"),
        ("lru", {"r_max": 1.0}, r"r_max must be a number in \[0, 1\)"),
        ("lru", {"max_phase": 0}, "max_phase must be a number in"),
        ("lru", {"state_size": 0}, "state_size must be an integer >= 1"),
        ("s6", {"expand": 0}, "expand must be an integer >= 1"),
        ("s6", {"conv_kernel": "4"}, "conv_kernel must be an integer >= 1"),
        ("mingru", {"params": 0}, "params must be an integer >= 1"),
        ("mingru", {"scan": "fft"}, "scan must be one of linear, log"),
        ("mingru", {"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
        ("transformer", {"num_heads": 0}, "num_heads must be an integer >= 1"),
    ],
)
def test_bad_family_settings_name_the_setting(family, settings, message):
    with pytest.raises(ConfigError, match=message):
        _net(family, **settings)
    with pytest.raises(ConfigError, match="cell must be one of mingru, minlstm"):
        MinRNNNet("lstm", input_size=1, output_size=1)


def _numbers(state) -> int:
    """The numbers a state holds: a complex number counts two."""
    return sum(t.numel() * (2 if t.is_complex() else 1) for t in _tensors(state))


@pytest.mark.parametrize("option", options("model"))
def test_the_declared_state_size_is_what_the_state_holds(option):
    """model/state_size, the quantity the recall studies are drawn against, counted from
    the state a forward pass returns: per layer, after a sequence shorter and one longer
    than the transformer's context (its cache), every family and classic cell."""
    build = model_builder(option)
    net = build(input_size=3, output_size=2, hidden_size=8, num_layers=2)
    for steps in (3, 100):
        with torch.no_grad():
            _, state = net(torch.randn(1, steps, 3))
        assert net.state_size(steps) == _numbers(state) / 2, (option, steps)  # 2 layers
    if option != "transformer":  # a second direction carries a state of its own
        one = build(input_size=3, output_size=2, hidden_size=8)
        both = build(input_size=3, output_size=2, hidden_size=8, bidirectional=True)
        assert both.state_size(5) == 2 * one.state_size(5)


def test_the_mlstm_stays_finite_at_4096_steps_with_extreme_gates():
    """Gate pre-activations in the hundreds (e^88 overflows float32): the stabilized
    chunkwise form keeps every number finite in float32, its gradients too, and agrees with
    its step mode."""
    torch.manual_seed(0)
    net = model_builder("mlstm")(input_size=2, output_size=2, hidden_size=8, num_layers=1, head="step")
    mixer = net.backbone.blocks[0].mixer
    with torch.no_grad():
        mixer.gates.weight.normal_(0, 40.0)
        mixer.gates.bias.uniform_(-300.0, 300.0)
    x = torch.randn(2, 4096, 2) * 3
    with torch.no_grad():
        y, (state,) = net(x)
        stepper = copy.deepcopy(net)
        stepper.backbone = net.backbone.recording_copy()
        z, _ = stepper(x[:, :300])
    assert torch.isfinite(y).all() and all(torch.isfinite(t).all() for t in state)
    torch.testing.assert_close(y[:, :300], z, rtol=1e-3, atol=1e-4)
    net(x[:, :1024])[0].square().mean().backward()  # and the gradients, where 0 x inf would be NaN
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
