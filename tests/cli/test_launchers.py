"""Where sweeps run: submitit (local processes here, SLURM's sbatch script checked)."""

import json
import os
import stat

import pytest
import submitit
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from rnnlab.report.sweep import read_sweep
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
