"""A run that would not fit in memory is refused before anything large is made: one line with
the estimate, the key to change, and what the machine has free."""

import re

import pytest
import torch

from rnnlab.models.net import RecurrentNet
from rnnlab.run import resources
from tests.conftest import FAST, one_line, run_entry

FITS = "small enough for the run to fit in memory (or check_memory=false to run it anyway)"


@pytest.mark.parametrize(
    ("args", "key", "parts"),
    [
        (["data=mqar", "data.train_size=1000000000"], "data.train_size", r"data 1\.02 TB"),
        (["data.length=3000000000"], "data.length", r"data 1\.18 TB"),
        pytest.param(  # the budget's width searched on the meta device: 2 s
            ["model.params=20000000000"],
            "model.params",
            r"20,000,\d{3},\d{3} parameters 320 GB",
            marks=pytest.mark.slow,
        ),
        pytest.param(  # 2000 layers 2048 wide: counted on the meta device, two layers measured
            ["model.num_layers=2000", "model.hidden_size=2048"],
            "model.num_layers",
            r"67,124,871,172 parameters 1\.07 TB, activations of a batch \(64 x 64 steps\) ",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            ["model=s6", "data=mqar", "data.length=4096", "data.batch_size=4096"],
            "data.batch_size",
            r"activations of a batch \(4096 x 4096 steps\) 2\d\d GB",
            marks=pytest.mark.slow,
        ),
    ],
    ids=["memory task", "series", "parameter budget", "layers", "batch"],
)
def test_a_run_beyond_the_free_memory_is_refused_with_its_estimate(tmp_path, args, key, parts):
    run = tmp_path / "run"
    code, _, stderr = run_entry("rnnlab-train", *FAST, *args, f"hydra.run.dir={run}")
    assert code == 2, stderr[-3000:]
    line = one_line(stderr)
    assert line.startswith(f"rnnlab-train: error: {key} must be {FITS} (got ")
    assert re.search(parts, line), line
    assert re.search(r"and this machine has [\d.]+ [GM]B free$", line), line
    assert not (run / "checkpoints").exists()


@pytest.mark.slow  # two runs
def test_check_memory_false_runs_what_the_estimate_refuses(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "free_bytes", lambda: 1000)  # a machine with 1 KB free
    code, _, stderr = run_entry("rnnlab-train", *FAST, f"hydra.run.dir={tmp_path / 'refused'}")
    assert code == 2 and "must be small enough for the run to fit in memory" in one_line(stderr)
    code, _, stderr = run_entry(
        "rnnlab-train", *FAST, "check_memory=false", f"hydra.run.dir={tmp_path / 'run'}"
    )
    assert code == 0, stderr[-3000:]


def test_the_activation_estimate_is_what_backward_keeps_per_sequence():
    """On the meta device, what a 2-layer LSTM keeps for backward: a batch of 8 keeps 8 times
    what one sequence keeps beyond the weights, and the estimate of two layers from one and
    two agrees with the network's own count."""

    def build(num_layers=2, hidden_size=16, params=None):
        return RecurrentNet(
            "lstm", input_size=3, output_size=2, hidden_size=hidden_size, num_layers=num_layers
        )

    shape = torch.Size((8, 20, 3))
    need = resources.network_need(build, 2, shape, torch.float32, free=1)  # forced to measure
    with torch.device("meta"):
        net = build()
    per_sequence = resources._per_sequence(net, shape, torch.float32)
    assert need.parameters == sum(p.numel() for p in net.parameters())
    assert need.activations == 8 * per_sequence > 0
    with torch.device("meta"):
        eight = resources._saved_bytes(net, (8, 20, 3), torch.float32)
        one = resources._saved_bytes(net, (1, 20, 3), torch.float32)
    assert eight - one == 7 * per_sequence  # the weights' share does not grow with the batch
