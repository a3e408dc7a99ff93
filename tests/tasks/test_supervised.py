"""The memory tasks' objectives: a value, a class, or tokens at scored steps, each beside its
memoryless baseline; and that models learn them (fixed seeds)."""

import json
import math

import pytest
import torch
from torch import nn

from rnnlab.data.spec import TaskSpec
from rnnlab.tasks.supervised import IGNORE, SequenceClassifier, TokenPredictor, ValueRegressor
from tests.conftest import FAST, run_entry


class Fixed(nn.Module):
    """A 'network' that returns given outputs, whatever it reads."""

    def __init__(self, outputs: torch.Tensor) -> None:
        super().__init__()
        self.outputs = nn.Parameter(outputs)

    def forward(self, x, state=None):
        return self.outputs, None


def _task(cls, outputs, objective):
    spec = TaskSpec(objective, 1, outputs.shape[-1], baselines={"test": {"acc": 0.25}})
    return cls(Fixed(outputs), spec, optimizer=torch.optim.SGD)


def test_tokens_are_scored_only_where_a_target_exists():
    logits = torch.randn(2, 4, 5)
    targets = torch.tensor([[IGNORE, 3, IGNORE, 1], [IGNORE, IGNORE, IGNORE, 2]])
    logits[0, 1, 3] = logits[0, 3, 1] = 10.0  # sequence 0 right at both answers
    logits[1, 3, 2], logits[1, 3, 0] = -10.0, 10.0  # sequence 1 wrong at its answer
    logits[1, 0, 0] = 50.0  # anything at an unscored step counts for nothing
    loss, scores = _task(TokenPredictor, logits, "tokens").losses((torch.zeros(2, 4), targets))
    scored = targets != IGNORE
    expected = nn.functional.cross_entropy(logits[scored], targets[scored])
    torch.testing.assert_close(loss, expected)
    assert scores["acc"].tolist() == [1.0, 1.0, 0.0]
    assert scores["seq_acc"].tolist() == [1.0, 0.0]


def test_a_class_per_sequence_and_a_value_per_sequence():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    labels = torch.tensor([0, 0, 0])
    loss, scores = _task(SequenceClassifier, logits, "classification").losses((torch.zeros(3, 5, 1), labels))
    torch.testing.assert_close(loss, nn.functional.cross_entropy(logits, labels))
    assert scores["acc"].tolist() == [1.0, 0.0, 1.0]
    values = torch.tensor([[1.0], [0.5]])
    loss, scores = _task(ValueRegressor, values, "value").losses(
        (torch.zeros(2, 5, 2), torch.tensor([[1.0], [1.5]]))
    )
    assert float(loss) == pytest.approx(0.5) and scores["mse"].tolist() == [0.0, 1.0]


def _train(tmp_path, *overrides):
    run = tmp_path / "run"
    args = [
        *overrides,
        "callbacks.early_stopping=null",
        "callbacks.rich_progress_bar=null",
        "callbacks.gradient_flow=null",
        "logger=csv",
        *([] if any(o.startswith("seed=") for o in overrides) else ["seed=0"]),
        f"hydra.run.dir={run}",
    ]
    code, _, stderr = run_entry("rnnlab-train", *args)
    assert code == 0, stderr[-3000:]
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.parametrize(
    ("data", "reported"),
    [
        ("adding", ["test/mse", "test/baseline_mse"]),
        ("copy", ["test/loss", "test/baseline_loss", "test/acc", "test/seq_acc", "test/baseline_acc"]),
        ("selective_copy", ["test/acc", "test/baseline_acc", "test/seq_acc"]),
        ("mqar", ["test/acc", "test/baseline_acc"]),
        (
            "parity",
            ["test/acc", "test/baseline_acc", "test_extrapolate/acc", "test_extrapolate/baseline_acc"],
        ),
    ],
)
def test_each_memory_task_reports_its_metric_beside_its_baseline(tmp_path, data, reported):
    metrics = _train(
        tmp_path, f"data={data}", *FAST, "data.train_size=64", "data.val_size=32", "data.test_size=32"
    )
    assert all(isinstance(metrics[key], float) for key in reported), sorted(metrics)


@pytest.mark.slow
def test_an_lstm_solves_the_adding_problem_at_length_30(tmp_path, seed, figure):
    metrics = _train(
        tmp_path,
        "data=adding",
        f"seed={seed}",
        "data.length=30",
        "data.train_size=2000",
        "data.val_size=200",
        "data.test_size=500",
        "model.hidden_size=32",
        "trainer.max_epochs=25",
        "optimizer.lr=0.01",
    )
    assert figure("test/mse", metrics["test/mse"]) < 0.01  # 0.0008-0.0015 over seeds 0-2
    # the variance of a sum of two uniforms, estimated on 500 sequences (about 0.009 its
    # standard error; seed 2's split gives 0.146)
    assert metrics["test/baseline_mse"] == pytest.approx(1 / 6, abs=0.04)


@pytest.mark.slow
def test_the_tanh_rnn_stays_at_the_baseline_on_a_long_adding_problem(tmp_path, seed, figure):
    metrics = _train(
        tmp_path,
        "data=adding",
        f"seed={seed}",
        "model=rnn",
        "data.length=150",
        "data.train_size=2000",
        "data.val_size=200",
        "data.test_size=500",
        "model.hidden_size=32",
        "trainer.max_epochs=10",
    )
    assert figure("test/mse over baseline", metrics["test/mse"] / metrics["test/baseline_mse"]) > 0.8


@pytest.mark.slow
def test_a_gru_learns_parity_and_keeps_it_on_longer_strings(tmp_path, seed, figure):
    metrics = _train(
        tmp_path,
        "data=parity",
        f"seed={seed}",
        "model=gru",
        "data.train_lengths=[2,12]",
        "data.extrapolate_lengths=[13,30]",
        "data.train_size=1500",
        "data.val_size=200",
        "data.test_size=500",
        "data.batch_size=32",
        "model.hidden_size=32",
        "trainer.max_epochs=40",
        "optimizer.lr=0.01",
    )
    assert metrics["test/baseline_acc"] < 0.6
    assert figure("test/acc", metrics["test/acc"]) > 0.95
    assert figure("test_extrapolate/acc", metrics["test_extrapolate/acc"]) > 0.9


@pytest.mark.slow
def test_an_lstm_learns_which_value_belongs_to_each_key(tmp_path, seed, figure):
    # Every model first sits on a plateau where it answers with one of the sequence's
    # values, not the queried key's (0.45 on these sequences, against chance 1/8); recall
    # is leaving it. Many sequences for the task's size: the MQAR study at length 32
    # memorized 10,000 and stayed on the plateau, and left it with 30,000.
    metrics = _train(
        tmp_path,
        "data=mqar",
        "data.length=12",
        f"seed={seed}",
        "data.pairs=3",
        "data.vocab_size=16",
        "data.train_size=8000",
        "data.val_size=200",
        "data.test_size=500",
        "model.hidden_size=32",
        "trainer.max_epochs=16",
        "optimizer.lr=0.01",
    )
    assert metrics["test/baseline_acc"] == pytest.approx(1 / 8)
    assert metrics["test/baseline_loss"] == pytest.approx(math.log(8))
    # 0.84 / 0.67 / 0.81 over seeds 0-2; the plateau is 0.45: the bound sits between the two
    assert figure("test/acc", metrics["test/acc"]) > 0.55
    assert "test/seq_acc" in metrics and metrics["status"] == "ok"
