"""Where sweeps run: submitit (local processes here, SLURM's sbatch script checked)."""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import submitit
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from rnnlab.report.sweep import read_sweep
from rnnlab.run.checkpoint import read_checkpoint
from tests.conftest import CONFIG_DIR, FAST, run_cli


@pytest.mark.slow
def test_submitit_local_runs_a_two_job_sweep(tmp_path):
    result = run_cli(
        "rnnlab-train", "-m", *FAST, "hydra/launcher=local", "model=rnn,gru", f"hydra.sweep.dir={tmp_path}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = read_sweep(tmp_path)
    assert [(job.name, job.status) for job in jobs] == [("0", "ok"), ("1", "ok")]
    for job in jobs:
        run = tmp_path / job.name
        assert json.loads((run / "env.json").read_text())["torch_threads"] == 1  # cpus_per_task
        assert (run / "checkpoints" / "last.ckpt").is_file()
        assert (run / "train.log").is_file()
    # submitit ran them as jobs of its own: one folder of stdout/stderr/result per job
    results = sorted(tmp_path.glob(".submitit/*/*_result.pkl"))
    assert len(results) == 2


def test_slurm_preset_reaches_the_sbatch_script(tmp_path, monkeypatch):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit only checks that it exists
    (fake_bin / "srun").chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    submitted = {}

    def capture(executor, function, *arguments):
        submitted["executor"], submitted["jobs"] = executor, len(arguments[0])
        return []

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", capture)
    overrides = [
        "hydra/launcher=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.timeout_min=30",
        "hydra.launcher.gpus_per_node=4",
        "hydra.launcher.tasks_per_node=4",
        "hydra.launcher.array_parallelism=2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.config = cfg
    launcher.launch([["model=rnn"], ["model=lstm"], ["model=gru"]], initial_job_idx=0)

    assert submitted["jobs"] == 3
    slurm = submitted["executor"]._executor
    slurm.parameters["map_count"] = submitted["jobs"]  # what submitit sets for a job array
    script = slurm._make_submission_file_text("python job.py", "uid")
    for line in [
        "#SBATCH --partition=gpu",
        "#SBATCH --time=30",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --array=0-2%2",
        f"#SBATCH --output={tmp_path / 'sweep'}/.submitit/%A_%a/%A_%a_0_log.out",
    ]:
        assert line in script.splitlines(), line


def _descendants(pid: int) -> set[int]:
    """The processes under ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow  # a sweep killed mid-training, in processes: about 10 s each
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("launcher", ["joblib", "local"])
def test_a_killed_sweep_takes_its_workers_and_the_report_marks_its_jobs(tmp_path, launcher):
    sweep = tmp_path / "sweep"
    script = Path(sys.executable).parent / "rnnlab-train"
    process = subprocess.Popen(
        [str(script), "-m", f"hydra/launcher={launcher}", "callbacks.rich_progress_bar=null",
         "~callbacks.early_stopping", "trainer.max_epochs=100000", "trainer.limit_train_batches=2",
         "trainer.limit_val_batches=2", "seed=0,1", f"hydra.sweep.dir={sweep}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(
        (sweep / job / "checkpoints" / "last.ckpt").exists() for job in ("0", "1")
    ):
        time.sleep(0.5)
    workers = _descendants(process.pid)
    assert workers, "the sweep started no worker process"
    process.kill()  # SIGKILL: the sweep's process can do nothing about it
    process.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.5)
    assert not [pid for pid in workers if _running(pid)], "workers outlived their sweep"
    for job in ("0", "1"):
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert (metrics["status"], metrics["phase"]) == ("interrupted", "training")
        assert read_checkpoint(sweep / job / "checkpoints" / "last.ckpt")["global_step"] > 0
    report = run_cli("rnnlab-report", str(sweep))
    assert report.returncode == 0, report.stderr[-2000:]
    for job in ("0", "1"):
        assert (
            f"interrupted during training by SIGTERM; continue it with rnnlab-train resume={sweep / job}"
            in report.stdout
        )
