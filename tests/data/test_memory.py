"""The memory benchmarks: what each generator makes, that it makes it again from the same
seed, that splits come from their own streams, and that the memoryless baselines equal the
score of an explicit memoryless predictor on the split."""

import math
import re

import pytest
import torch
from torch.nn import functional as F

from rnnlab.data.memory import (
    IGNORE,
    AddingDataModule,
    CopyDataModule,
    MQARDataModule,
    ParityDataModule,
    SelectiveCopyDataModule,
)
from rnnlab.errors import ConfigError

SMALL = {"train_size": 200, "val_size": 50, "test_size": 50}


def _made(cls, **settings):
    data = cls(**SMALL, **settings)
    data.setup()
    return data


def _tensors(data, split):
    return data.datasets[split].tensors


CASES = [
    (AddingDataModule, {"length": 20}),
    (CopyDataModule, {"delay": 12, "symbols": 4}),
    (SelectiveCopyDataModule, {"length": 30, "tokens": 5, "vocab_size": 8}),
    (MQARDataModule, {"length": 24, "pairs": 4, "vocab_size": 16}),
    (ParityDataModule, {"train_lengths": [3, 10], "extrapolate_lengths": [11, 30]}),
]


@pytest.mark.parametrize(("cls", "settings"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_a_seed_makes_the_same_data_and_another_seed_other_data(cls, settings):
    first, again, other = (
        _made(cls, seed=3, **settings),
        _made(cls, seed=3, **settings),
        _made(cls, seed=4, **settings),
    )
    for split in first.datasets:
        for a, b, _ in zip(
            _tensors(first, split), _tensors(again, split), _tensors(other, split), strict=True
        ):
            assert torch.equal(a, b)
        assert not torch.equal(_tensors(first, split)[0], _tensors(other, split)[0])
    assert first.spec.baselines == again.spec.baselines


@pytest.mark.parametrize(("cls", "settings"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_splits_share_no_sequence(cls, settings):
    """Even where the task is small enough for random draws to repeat (4 copy symbols: 4096
    sequences; parity strings of 3 bits), no later split holds an earlier split's sequence."""
    data = _made(cls, seed=0, **settings)
    seen: set = set()
    for split in data.datasets:
        rows = {tuple(row.flatten().tolist()) for row in _tensors(data, split)[0]}
        assert not seen & rows
        seen |= rows


def test_each_split_has_its_own_stream():
    data, bigger = (
        _made(AddingDataModule, length=20),
        AddingDataModule(**{**SMALL, "train_size": 300}, length=20),
    )
    bigger.setup()
    assert torch.equal(_tensors(bigger, "test")[0], _tensors(data, "test")[0])


def test_a_task_too_small_for_distinct_splits_says_which_settings_make_it_larger():
    data = ParityDataModule(train_lengths=[2, 3], train_size=200, val_size=10, test_size=10)
    with pytest.raises(ConfigError) as error:  # the 12 strings of 2 or 3 bits are all in train
        data.setup()
    assert str(error.value) == (
        "train_lengths must be larger (or data.train_size smaller): the earlier splits hold every "
        "sequence this task makes, none is left for the val split; raise data.train_lengths"
    )
    data = ParityDataModule(train_lengths=[3, 4], train_size=30, val_size=100, test_size=10)
    with pytest.raises(ConfigError) as error:  # 30 draws leave few of the 24 strings, too few for 100
        data.setup()
    message = str(error.value)
    assert message.startswith(
        "val_size must be smaller, or the task larger (raise data.train_lengths): 20 draws of 100 made "
    )
    made, distinct = map(int, re.search(r"made (\d+) val sequences .*, (\d+) of them", message).groups())
    assert 0 < made < 100 and 0 < distinct < 24 and message.endswith(" distinct (got 100)")


def test_adding_targets_are_the_sum_of_the_two_marked_values():
    data = _made(AddingDataModule, length=20)
    x, y = _tensors(data, "train")
    assert x.shape == (200, 20, 2) and y.shape == (200, 1)
    assert torch.equal(x[..., 1].sum(dim=1), torch.full((200,), 2.0))
    torch.testing.assert_close(y[:, 0], (x[..., 0] * x[..., 1]).sum(dim=1))
    baseline = data.spec.baselines["test"]["mse"]
    test_targets = _tensors(data, "test")[1]
    assert baseline == pytest.approx(float(F.mse_loss(torch.ones_like(test_targets), test_targets)))
    big = AddingDataModule(length=50, train_size=20000, val_size=10, test_size=10)
    big.setup()
    assert big.spec.baselines["train"]["mse"] == pytest.approx(1 / 6, abs=0.005)  # Var(U1 + U2)


def test_copy_layout_and_its_memoryless_baseline():
    data = _made(CopyDataModule, delay=12, symbols=4, alphabet=8)
    x, y = _tensors(data, "test")
    assert x.shape == y.shape == (50, 12 + 8)
    assert torch.equal(x[:, :4], y[:, -4:])  # the answer is the first four inputs
    assert ((x[:, :4] >= 1) & (x[:, :4] <= 8)).all()
    assert (x[:, 4 + 12 - 1] == 9).all() and (x[:, 4:15] == 0).all() and (x[:, 16:] == 0).all()
    assert (y[:, :-4] == 0).all()
    # the explicit memoryless predictor: blank for sure, then uniform over the alphabet
    log_probs = torch.full((50, 20, 10), -1e9)
    log_probs[:, :-4, 0] = 0.0
    log_probs[:, -4:, 1:9] = -math.log(8)
    loss = F.cross_entropy(log_probs.flatten(0, 1), y.flatten())
    baselines = data.spec.baselines["test"]
    assert baselines["loss"] == pytest.approx(float(loss)) == pytest.approx(4 * math.log(8) / 20)
    assert baselines["acc"] == pytest.approx((16 + 4 / 8) / 20)


def test_selective_copy_answers_are_the_data_tokens_in_order():
    data = _made(SelectiveCopyDataModule, length=30, tokens=5, vocab_size=8)
    x, y = _tensors(data, "train")
    assert x.shape == y.shape == (200, 35)
    assert (x[:, 30:] == 7).all() and (y[:, :30] == IGNORE).all()
    data_tokens = x[:, :30]
    assert ((data_tokens > 0).sum(dim=1) == 5).all() and (data_tokens < 7).all()
    assert torch.equal(data_tokens[data_tokens > 0].reshape(200, 5), y[:, 30:])
    assert data.spec.baselines["test"] == pytest.approx({"loss": math.log(6), "acc": 1 / 6, "seq_acc": 6**-5})


def test_mqar_queries_ask_for_the_value_their_key_had():
    data = _made(MQARDataModule, length=24, pairs=4, vocab_size=16)
    x, y = _tensors(data, "train")
    assert x.shape == y.shape == (200, 24)
    for inputs, targets in zip(x, y, strict=True):
        keys, values = inputs[0:8:2], inputs[1:8:2]
        assert len(set(keys.tolist())) == 4 and ((keys >= 1) & (keys < 8)).all() and (values >= 8).all()
        asked = (targets != IGNORE).nonzero().flatten()
        assert len(asked) == 4 and (asked >= 8).all()
        lookup = dict(zip(keys.tolist(), values.tolist(), strict=True))
        assert sorted(inputs[asked].tolist()) == sorted(keys.tolist())  # every key asked once
        assert [lookup[k] for k in inputs[asked].tolist()] == targets[asked].tolist()
        assert (inputs[8:][targets[8:] == IGNORE] == 0).all()  # noise between the queries
    uniform = torch.zeros(200, 24, 16)
    uniform[..., :8] = -1e9  # a guess among the 8 values
    loss = F.cross_entropy(uniform.flatten(0, 1), y.flatten())
    assert data.spec.baselines["train"]["loss"] == pytest.approx(float(loss)) == pytest.approx(math.log(8))


def test_parity_labels_lengths_and_the_majority_baseline():
    data = _made(ParityDataModule, train_lengths=[3, 10], extrapolate_lengths=[11, 30])
    x, y = _tensors(data, "train")
    assert x.shape == (200, 10, 1) and torch.equal(y, x.sum(dim=(1, 2)).long() % 2)
    # strings of 3 to 10 bits, left-padded with zeros: the first 7 steps are partly padding
    assert x[:, :7].mean() < 0.8 * x[:, 7:].mean()
    x_out = _tensors(data, "test_extrapolate")[0]
    assert x_out.shape == (50, 30, 1) and x_out[:, :19].any()  # strings longer than any in training
    majority = int(y.float().mean() > 0.5)
    for split in ("val", "test", "test_extrapolate"):
        labels = _tensors(data, split)[1]
        assert data.spec.baselines[split]["acc"] == pytest.approx(float((labels == majority).float().mean()))


@pytest.mark.parametrize(
    ("cls", "settings", "message"),
    [
        (
            MQARDataModule,
            {"pairs": 70, "vocab_size": 128},
            "pairs must be at most 63 for data.vocab_size 128",
        ),
        (MQARDataModule, {"pairs": 8, "length": 20}, "length must be an integer >= 24 (got 20)"),
        (SelectiveCopyDataModule, {"tokens": 40, "length": 30}, "tokens must be at most data.length (30)"),
        (SelectiveCopyDataModule, {"vocab_size": 2}, "vocab_size must be an integer >= 3 (got 2)"),
        (CopyDataModule, {"delay": 0}, "delay must be an integer >= 1 (got 0)"),
        (CopyDataModule, {"input_encoding": "dense"}, "input_encoding must be one of embedding, one_hot"),
        (AddingDataModule, {"length": 1}, "length must be an integer >= 2 (got 1)"),
        (AddingDataModule, {"train_size": 0}, "train_size must be an integer >= 1 (got 0)"),
        (ParityDataModule, {"train_lengths": [10, 3]}, "train_lengths must be [shortest, longest]"),
        (
            ParityDataModule,
            {"extrapolate_lengths": [0, 5]},
            "extrapolate_lengths must be [shortest, longest]",
        ),
    ],
)
def test_bad_sizes_are_one_clear_line(cls, settings, message):
    with pytest.raises(ConfigError) as error:
        cls(**settings)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "baselines", [{"test": {"acc": "0.5"}}, {"test": 0.5}, ["acc"], {"test": {"acc": True}}]
)
def test_a_stored_spec_with_malformed_baselines_is_refused(baselines):
    """A checkpoint is someone's file: its spec's baselines must be numbers per split."""
    from rnnlab.data.spec import TaskSpec

    stored = TaskSpec("tokens", 4, 4, baselines={"test": {"acc": 0.25}}).to_dict()
    assert TaskSpec.from_dict(stored).baselines == {"test": {"acc": 0.25}}
    with pytest.raises(TypeError, match="baselines"):
        TaskSpec.from_dict({**stored, "baselines": baselines})
