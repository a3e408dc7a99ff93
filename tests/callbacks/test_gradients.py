"""Gradient flow: ||dL/dh_t|| per time step, checked against an independent autograd
computation; the callbacks' files and TensorBoard entries from a real run."""

import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnnlab.callbacks import hidden_state_gradients
from rnnlab.models.net import RecurrentNet
from tests.conftest import FAST, run_main


def _by_cutting_the_sequence(net, x, y):
    """dL/dh_t for each t, computed another way: run the fused stack up to t, make the top
    layer's h_t a leaf, run on from there, and differentiate the loss by that leaf."""
    rnn, steps, norms = net.backbone.rnn, x.shape[1], []
    for t in range(steps):
        head_out, state = rnn(x[:, : t + 1])
        lstm = isinstance(state, tuple)
        h = state[0] if lstm else state
        leaf = h[-1].detach().requires_grad_()  # unidirectional: the top layer is the last slot
        h_cut = torch.cat([h[:-1].detach(), leaf.unsqueeze(0)])
        outputs = [head_out[:, :t].detach(), leaf.unsqueeze(1)]
        if t < steps - 1:
            resumed = (h_cut, state[1].detach()) if lstm else h_cut
            outputs.append(rnn(x[:, t + 1 :], resumed)[0])
        loss = torch.nn.functional.mse_loss(net.head(torch.cat(outputs, dim=1)), y)
        (grad,) = torch.autograd.grad(loss, leaf)
        norms.append(grad.norm())
    return torch.stack(norms)


@pytest.mark.parametrize(
    ("cell", "layers", "head", "backend"),
    [
        ("lstm", 2, "last", "torch"),
        ("gru", 1, "mean", "torch"),
        ("rnn_tanh", 2, "last", "torch"),
        ("rnn_relu", 1, "attention", "torch"),
        ("lstm", 1, "attention", "scratch"),
    ],
)
def test_hidden_state_gradients_match_a_direct_autograd_computation(cell, layers, head, backend):
    torch.manual_seed(0)
    net = RecurrentNet(
        cell, input_size=2, output_size=3, hidden_size=6, num_layers=layers, head=head, backend=backend
    ).double()
    net.eval()
    x, y = torch.randn(4, 9, 2, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    measured = hidden_state_gradients(net, lambda copy: torch.nn.functional.mse_loss(copy(x)[0], y))
    expected = _by_cutting_the_sequence(net, x, y)
    assert measured.shape == (9,)
    torch.testing.assert_close(measured, expected, rtol=1e-9, atol=0)
    assert all(p.grad is None for p in net.parameters())  # the measured network is untouched
    assert not getattr(net.backbone.rnn, "record", False)


def test_float64_tells_a_vanished_gradient_from_zero():
    """200 steps of an untrained tanh RNN: float32 underflows to exactly 0, float64 does not."""
    torch.manual_seed(0)
    net = RecurrentNet("rnn_tanh", input_size=1, output_size=1, hidden_size=16).eval()
    x, y = torch.randn(8, 200, 1), torch.randn(8, 1)

    def loss(copy):
        return torch.nn.functional.mse_loss(copy(x.to(next(copy.parameters()).dtype))[0], y.double())

    single = hidden_state_gradients(net, lambda copy: loss(copy).float(), dtype=torch.float32)
    double = hidden_state_gradients(net, loss)
    assert single[0] == 0 and 0 < double[0] < 1e-30
    torch.testing.assert_close(single[-20:].double(), double[-20:], rtol=1e-4, atol=0)


@pytest.mark.slow
def test_a_run_logs_gradient_flow_grad_norms_and_attention(tmp_path):
    run = tmp_path / "run"
    result = run_main(
        "rnnlab-train",
        *FAST,
        "model.head=attention",
        "callbacks.gradient_flow.every_n_epochs=1",
        "callbacks.attention_plot.every_n_epochs=1",
        "callbacks.gradient_norm.every_n_steps=1",
        f"hydra.run.dir={run}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history = json.loads((run / "gradflow.json").read_text())
    assert [entry["label"] for entry in history] == ["before training", "epoch 0"]
    window = 64  # data=sine's default
    assert all(len(entry["norms"]) == window and min(entry["norms"]) > 0 for entry in history)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["gradflow/first_over_last_start"] == pytest.approx(history[0]["first_over_last"])
    assert metrics["gradflow/first_over_last"] == pytest.approx(history[-1]["first_over_last"])

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert {"gradflow/norms", "val/attention"} <= set(events.Tags()["images"])
    scalars = set(events.Tags()["scalars"])
    assert {"gradflow/first_over_last", "gradflow/first", "gradflow/last", "train/grad_norm"} <= scalars
    assert len(events.Scalars("train/grad_norm")) == 2  # debug=fast: 2 steps, every step asked
    assert all(event.value > 0 for event in events.Scalars("train/grad_norm"))


def test_task_callbacks_say_once_which_tasks_they_serve_and_when_they_run(compose_train, caplog):
    import logging

    from rnnlab.callbacks import AttentionPlot, ForecastPlot, GradientFlow, TextSample
    from rnnlab.run import build
    from rnnlab.tasks.base import TaskModule
    from rnnlab.tasks.language import CharLanguageModel
    from rnnlab.tasks.regression import SequenceRegressor

    cfg = compose_train("data=text", "data.window=16", *FAST)
    datamodule = build.build_datamodule(cfg)
    task = build.build_task(cfg, datamodule.spec)
    trainer = build.build_trainer(cfg)
    callbacks = {type(cb).__name__: cb for cb in trainer.callbacks}
    with caplog.at_level(logging.INFO):
        for cb in callbacks.values():
            cb.setup(trainer, task, "fit")
    assert callbacks["TextSample"].active and callbacks["GradientFlow"].active
    assert not callbacks["ForecastPlot"].active and not callbacks["AttentionPlot"].active
    line = "ForecastPlot is off for this run: it serves SequenceRegressor tasks, and this run's is "
    assert f"{line}CharLanguageModel" in caplog.text
    assert ForecastPlot.serves is AttentionPlot.serves is SequenceRegressor
    assert TextSample.serves is CharLanguageModel and GradientFlow.serves is TaskModule
    every_5 = GradientFlow(every_n_epochs=5)  # after epochs 5, 10, ... and the last one (trainer.max_epochs)
    due = []
    for epoch in range(12):
        trainer.fit_loop.epoch_progress.current.completed = epoch
        trainer.fit_loop.max_epochs = 12
        due.append(every_5.due(trainer))
    assert [epoch + 1 for epoch, d in enumerate(due) if d] == [5, 10, 12]


@pytest.mark.parametrize("backend", ["torch", "scratch"])
def test_a_recording_copy_keeps_every_top_layer_state_and_leaves_the_backbone_alone(backend):
    from rnnlab.models.backbone import RecurrentBackbone

    backbone = RecurrentBackbone("lstm", 3, 8, num_layers=2, backend=backend).eval()
    x = torch.randn(4, 7, 3)
    recorder = backbone.recording_copy().eval()
    outputs, _ = recorder(x)
    assert len(recorder.recorded) == 7 and all(h.requires_grad for h in recorder.recorded)
    torch.testing.assert_close(torch.stack(recorder.recorded, dim=1), outputs)
    torch.testing.assert_close(backbone(x)[0], outputs)  # same weights, same numbers
    assert backbone.backend == backend and backbone.recorded == []  # the original records nothing


def test_gradient_flow_is_off_for_a_backbone_that_cannot_record(compose_train, caplog):
    import logging

    from rnnlab.callbacks import GradientFlow
    from rnnlab.run import build

    cfg = compose_train(*FAST)
    task = build.build_task(cfg, build.build_datamodule(cfg).spec)

    class NoRecording(torch.nn.Module):  # a model family that offers no recording_copy
        def forward(self, x, state=None):
            return x, state

    task.net.backbone = NoRecording()
    flow = GradientFlow()
    with caplog.at_level(logging.INFO):
        flow.setup(build.build_trainer(cfg), task, "fit")
    assert not flow.active
    assert (
        "GradientFlow is off for this run: the backbone NoRecording cannot record its hidden states"
        in caplog.text
    )


@pytest.mark.parametrize(  # a scan; a complex state, no state: with the slow tests
    "model", ["mingru", *(pytest.param(m, marks=pytest.mark.slow) for m in ("lru", "transformer"))]
)
def test_gradient_flow_runs_through_a_family_step_mode_and_is_off_for_the_transformer(tmp_path, model):
    run = tmp_path / "run"
    result = run_main(
        "rnnlab-train",
        *FAST,
        f"model={model}",
        "data.window=24",
        "callbacks.gradient_flow.every_n_epochs=1",
        f"hydra.run.dir={run}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run / "train.log").read_text()
    if model == "transformer":
        assert "GradientFlow is off for this run: the backbone TransformerBackbone cannot record" in log
        assert not (run / "gradflow.json").exists()
        return
    history = json.loads((run / "gradflow.json").read_text())
    assert all(len(entry["norms"]) == 24 and min(entry["norms"]) > 0 for entry in history)
