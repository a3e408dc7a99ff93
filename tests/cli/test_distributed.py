"""DDP on the CPU (2 processes, gloo): the multi-GPU code path, run here for real."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from rnnlab.data.text import CharTextDataModule
from rnnlab.errors import ConfigError
from rnnlab.report.sweep import read_sweep
from tests.conftest import FAST, run_cli


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(root.rglob(pattern))


@pytest.mark.slow
def test_ddp_cpu_run_leaves_one_run_dir_one_log_one_metrics(tmp_path):
    result = run_cli("rnnlab-train", "trainer=ddp_cpu", *FAST, f"paths.root_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]

    runs = [p for p in (tmp_path / "runs").iterdir()]
    assert len(runs) == 1, runs  # the worker wrote into rank 0's dir, made none of its own
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    run = runs[0]
    assert _files(tmp_path, "*.log") == [run / "train.log"]
    assert _files(tmp_path, "metrics.json") == [run / "metrics.json"]
    assert _files(tmp_path, ".hydra") == [run / ".hydra"]
    assert len(_files(tmp_path, "tensorboard")) == 1
    assert "Starting with 2 processes" in (run / "train.log").read_text()  # really two ranks

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    assert metrics["test/mse"] > 0 and metrics["val/loss_best"] > 0
    assert (run / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_a_budget_under_ddp_stops_every_rank_at_the_end_of_the_schedule(tmp_path):
    """Rank 0's clock moves every rank's schedule (the same learning rate everywhere) and
    its Timer stops them all: the run ends, neither rank waiting on the other."""
    args = ["trainer=ddp_cpu", "budget=4s", "scheduler=cosine", "callbacks.rich_progress_bar=null"]
    result = run_cli("rnnlab-train", *args, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["schedule/progress"] >= 0.99
    assert metrics["schedule/final_lr"] < 1e-6 and metrics["budget/end_step"] > 0


@pytest.mark.slow
def test_ddp_in_a_local_sweep_fails_that_job_with_the_way_out(tmp_path):
    result = run_cli("rnnlab-train", "-m", *FAST, "trainer=ddp_cpu", "seed=1", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 1, result.stderr[-3000:]  # a sweep with no successful job
    assert (
        result.stderr.strip().splitlines()[-1].startswith("rnnlab-train: error: no job of the sweep finished")
    )
    (job,) = read_sweep(tmp_path)
    assert job.status == "failed"
    error = json.loads((tmp_path / "0" / "metrics.json").read_text())["error"]
    assert error.startswith("trainer.strategy must be a single-process strategy in a local sweep")
    assert "hydra/launcher=slurm" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "multirun.yaml"]  # no worker dirs


def test_stateful_text_refuses_ddp():
    data = CharTextDataModule(text="abcdefgh" * 200, window=8, batch_size=4, stateful=True)
    data.setup()
    data.trainer = SimpleNamespace(world_size=2)
    with pytest.raises(ConfigError, match=r"^data.stateful must be false under DDP"):
        data.train_dataloader()
