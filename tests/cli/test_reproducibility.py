"""Runs that reproduce, resume, evaluate again and stop safely."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from rnnlab.callbacks import TrainingDiverged
from rnnlab.cli.train import train
from rnnlab.run.checkpoint import read_checkpoint
from rnnlab.run.training import advice
from tests.conftest import CONFIG_DIR, FAST, run_main

TASKS = {
    "sine": ["data.length=1200", "model.hidden_size=16", "model.num_layers=2", "model.dropout=0.2"],
    "counting": ["data=counting", "data.train_range=[0,200]", "data.steps=[1,2]"],
    "text": ["data=text", "data.window=32", "data.batch_size=16", "model.dropout=0.2", "model.num_layers=2"],
}
SHORT = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=6",
    "trainer.limit_val_batches=3",
    "trainer.limit_test_batches=3",
    "callbacks.rich_progress_bar=null",
]


def _train_in(run_dir: Path, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={run_dir}", *overrides])
    return train(cfg)


@pytest.mark.parametrize(
    "task", [pytest.param(t, marks=pytest.mark.slow) if t in ("counting", "text") else t for t in TASKS]
)
def test_same_seed_gives_identical_metrics_and_weights(tmp_path, task):
    for name in ("a", "b"):
        _train_in(tmp_path / name, *TASKS[task], *SHORT)
    first, second = (tmp_path / name for name in ("a", "b"))
    assert (first / "metrics.json").read_bytes() == (second / "metrics.json").read_bytes()
    weights = [read_checkpoint(run / "checkpoints" / "last.ckpt")["state_dict"] for run in (first, second)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.slow
def test_another_seed_gives_other_numbers(tmp_path):
    a = _train_in(tmp_path / "a", *TASKS["sine"], *SHORT, "seed=0")
    b = _train_in(tmp_path / "b", *TASKS["sine"], *SHORT, "seed=1")
    assert a["val/loss"] != b["val/loss"]


def test_run_dir_holds_env_json_with_versions_and_commit(tmp_path):
    _train_in(tmp_path, *FAST)
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["python"].count(".") == 2 and env["cuda_available"] in (True, False)
    assert set(env["packages"]) >= {"torch", "lightning", "hydra-core", "numpy"}
    assert env["packages"]["torch"] == torch.__version__
    git = env["git"]  # the tests run from a checkout
    assert len(git["commit"]) == 40 and isinstance(git["dirty"], bool)


@pytest.mark.slow
def test_a_stopped_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    common = [*TASKS["sine"], "callbacks.rich_progress_bar=null", "trainer.limit_train_batches=8"]
    whole = run_main("rnnlab-train", *common, "trainer.max_epochs=4", f"hydra.run.dir={tmp_path / 'whole'}")
    part = run_main("rnnlab-train", *common, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'part'}")
    resumed = run_main(
        "rnnlab-train",
        f"resume={tmp_path / 'part'}",
        "trainer.max_epochs=4",
        f"hydra.run.dir={tmp_path / 'rest'}",
    )
    for result in (whole, part, resumed):
        assert result.returncode == 0, result.stderr[-2000:]
    expected = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert json.loads((tmp_path / "rest" / "metrics.json").read_text()) == expected
    config = (tmp_path / "rest" / ".hydra" / "config.yaml").read_text()
    assert f"resumed_from: {tmp_path / 'part'}" in config and "max_epochs: 4" in config


@pytest.mark.slow  # a subprocess run: 9 s
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_a_checkpoint_and_prints_the_resume_command(tmp_path, signum):
    run_dir = tmp_path / "run"
    script = Path(sys.executable).parent / "rnnlab-train"
    process = subprocess.Popen(
        [
            str(script),
            "trainer.max_epochs=500",
            "callbacks.rich_progress_bar=null",
            f"hydra.run.dir={run_dir}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoints" / "last.ckpt").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # somewhere in the middle of the next epoch
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum
    assert "Traceback" not in stderr
    assert f"rnnlab-train resume={run_dir}" in stderr.splitlines()[-1]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    checkpoint = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert checkpoint["global_step"] > 0
    assert "Seed set to 42" in (run_dir / "train.log").read_text()  # nothing written is lost
    finish = run_main(
        "rnnlab-train",
        f"resume={run_dir}",
        f"trainer.max_epochs={checkpoint['epoch'] + 1}",
        f"hydra.run.dir={tmp_path / 'again'}",
    )
    assert finish.returncode == 0, finish.stderr[-2000:]
    assert json.loads((tmp_path / "again" / "metrics.json").read_text())["status"] == "ok"


def test_eval_reproduces_the_test_metrics_from_the_checkpoint_alone(tmp_path):
    train_dir = tmp_path / "train"
    trained = run_main("rnnlab-train", *FAST, "data=counting", f"hydra.run.dir={train_dir}")
    assert trained.returncode == 0, trained.stderr[-2000:]
    best = next((train_dir / "checkpoints").glob("epoch*.ckpt"))
    result = run_main("rnnlab-eval", f"ckpt_path={best}", f"hydra.run.dir={tmp_path / 'eval'}")
    assert result.returncode == 0, result.stderr[-2000:]
    original = json.loads((train_dir / "metrics.json").read_text())
    again = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    test_keys = [k for k in original if k.startswith("test")]
    assert test_keys
    # a fresh process may order float32 sums differently inside the CPU kernels (oneDNN/MKL)
    assert {k: again[k] for k in test_keys} == pytest.approx({k: original[k] for k in test_keys}, rel=1e-4)


def test_divergence_stops_with_advice_and_keeps_the_last_good_checkpoint(tmp_path):
    """A learning rate that jumps by 1e7 after the first epoch blows the second one up."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"paths.output_dir={tmp_path}",
                *FAST,
                "trainer.max_epochs=2",
                "optimizer=sgd",
                "model=rnn",
                "model.nonlinearity=relu",
                "trainer.gradient_clip_val=null",
            ],
        )
    with open_dict(cfg):
        cfg.scheduler = {
            "_target_": "torch.optim.lr_scheduler.StepLR",
            "_partial_": True,
            "step_size": 1,
            "gamma": 1e7,
        }
    with pytest.raises(TrainingDiverged) as error:
        train(cfg)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert error.value.epoch == 1 and error.value.last_checkpoint == str(last)
    assert read_checkpoint(last)["epoch"] == 0  # still the good one, from before the blow-up
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"
    message = advice(error.value, cfg)
    assert str(error.value).endswith("(epoch 1) in RecurrentNet")  # the network that diverged
    assert "lower optimizer.lr (now 0.05) or clip gradients (trainer.gradient_clip_val, now None)" in message
    assert message.endswith(f"the last good checkpoint is {last}")


def test_divergence_before_any_checkpoint(tmp_path):
    result = run_main(
        "rnnlab-train",
        *FAST,
        "optimizer=sgd",
        "optimizer.lr=1e6",
        "trainer.gradient_clip_val=null",
        "model=rnn",
        "model.nonlinearity=relu",
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith("no checkpoint was saved yet")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("fast") / "run"
    trained = run_main("rnnlab-train", *FAST, f"hydra.run.dir={run}")
    assert trained.returncode == 0, trained.stderr[-2000:]
    return run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ckpt_path={missing}"], "ckpt_path must be an existing checkpoint file"),
        (["ckpt_path={truncated}"], "ckpt_path must be a readable checkpoint"),
        (["resume={missing}"], "resume must be a run directory of rnnlab-train (holding .hydra/config.yaml)"),
        (["resume={no_ckpt}"], "resume must be a run directory with checkpoints/last.ckpt to continue from"),
        (["resume={run}", "model=gru"], "resume must be combined with key=value overrides only"),
        (["resume={run}", "optimizer.lr=1"], "resume must be combined with overrides outside optimizer.*"),
        (
            ["resume={run}", "budget=1h"],
            "resume must be combined with overrides outside optimizer.*, scheduler.* and budget",
        ),
    ],
)
def test_bad_checkpoint_and_resume_settings(fast_run, tmp_path, args, message):
    run = fast_run
    (tmp_path / "truncated.ckpt").write_bytes((run / "checkpoints" / "last.ckpt").read_bytes()[:5000])
    (tmp_path / "no_ckpt" / ".hydra").mkdir(parents=True)
    (tmp_path / "no_ckpt" / ".hydra" / "config.yaml").write_text((run / ".hydra" / "config.yaml").read_text())
    paths = {
        "missing": tmp_path / "missing",
        "truncated": tmp_path / "truncated.ckpt",
        "no_ckpt": tmp_path / "no_ckpt",
        "run": run,
    }
    result = run_main("rnnlab-train", *(a.format(**paths) for a in args), f"hydra.run.dir={tmp_path / 'new'}")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"rnnlab-train: error: {message}")
    assert not (tmp_path / "new" / "checkpoints").exists()


def test_eval_refuses_a_run_without_a_test_split(tmp_path):
    run = tmp_path / "run"
    args = [*FAST, "data=text", "data.window=32", "data.splits=[0.9,0.1,0.0]", "test=false"]
    trained = run_main("rnnlab-train", *args, f"hydra.run.dir={run}")
    assert trained.returncode == 0, trained.stderr[-2000:]
    result = run_main(
        "rnnlab-eval", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", f"hydra.run.dir={tmp_path / 'e'}"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"rnnlab-eval: error: ckpt_path must be a checkpoint of a run whose data has a test split "
        f"(got '{run / 'checkpoints' / 'last.ckpt'}')"
    )
