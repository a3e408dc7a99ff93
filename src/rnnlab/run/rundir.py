"""Run and sweep directories: never write into one that already holds a run.

Hydra writes ``.hydra/`` and the job's log into the run dir before rnnlab's code starts, so
the check is a Hydra callback (``conf/hydra/default.yaml``) that runs first: a dir that
already holds a run (or a sweep dir holding jobs) is refused with one line and exit 2,
unless ``overwrite=true`` asks to delete that run's files first. A sweep whose every job
failed ends with exit 1, so that scripts and CI do not read it as a success.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from rnnlab.run.launch import mark_sweep_process, process_rank

# What a run writes into its dir; any of the first group means the dir holds a run. (A dir
# with only .hydra/ and the log is a run stopped by a bad setting, and may be reused.)
RUN_MARKERS = (
    "metrics.json", "env.json", "checkpoints", "tensorboard", "csv",
    "forecast.csv", "model.json",  # rnnlab-predict's, rnnlab-export's
)  # fmt: skip
# (train.log and eval.log are Hydra's job logs; fit-profile.txt and test-profile.txt debug=profile's)
RUN_FILES = (
    *RUN_MARKERS,
    ".hydra",
    "train.log",
    "eval.log",
    "predict.log",
    "export.log",
    "forecast.*",
    "model.*",
    "gradflow.json",
    "samples.txt",
    "*-profile.txt",
    ".*.partial",
)
SWEEP_FILES = ("multirun.yaml", "optuna.db", "report.csv", "report.md", "report.png")


def holds_run(path: Path) -> bool:
    return any((path / name).exists() for name in RUN_MARKERS)


def sweep_jobs(sweep_dir: Path) -> list[Path]:
    """The job dirs of a sweep dir that hold a run."""
    if not sweep_dir.is_dir():
        return []
    return sorted(job for job in sweep_dir.iterdir() if job.is_dir() and holds_run(job))


def clear_run(path: Path) -> None:
    """Delete what rnnlab wrote into a run dir, and nothing else."""
    for pattern in RUN_FILES:
        for entry in path.glob(pattern):
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def _stop(program: str, message: str, code: int = 2) -> None:
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(code)


def _writable(path: Path, setting: str, program: str) -> None:
    """Create ``path`` and write a file there now, so a dir that cannot be written is one
    line before any run starts (not a traceback from inside Hydra)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        where = f": {error.filename}" if error.filename else ""
        _stop(
            program,
            f"{setting} must be a directory rnnlab can create and write to (got '{path}'): {reason}{where}",
        )


def _resumes_a_study(config: DictConfig, sweep_dir: Path) -> bool:
    """rnnlab's Optuna sweeper owns its sweep dir: it numbers job dirs by trial, so running
    it again in the same dir (or several at once) adds trials and never reuses a job dir."""
    target = str(config.hydra.sweeper.get("_target_", ""))
    stored = any((sweep_dir / name).exists() for name in ("optuna.db", "optuna.journal"))
    return target == "hydra_plugins.rnnlab_sweepers.optuna.OptunaSweeper" and (
        stored or config.hydra.sweeper.get("storage") is not None
    )


class ProtectRuns(Callback):
    """Refuse a run or sweep dir that already holds a run; report a sweep with no success."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if process_rank() > 0:  # DDP workers share rank 0's run dir by design
            return
        program, run_dir = config.hydra.help.app_name, Path(str(config.hydra.run.dir))
        if holds_run(run_dir):
            if not config.get("overwrite", False):
                _stop(
                    program,
                    f"hydra.run.dir must be a directory that holds no run (got '{run_dir}'): it holds a "
                    "finished or stopped run; choose a new dir, continue it with resume=<dir> (in a new "
                    "dir), or add overwrite=true to delete its files first",
                )
            clear_run(run_dir)
        _writable(run_dir, "hydra.run.dir", program)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        mark_sweep_process()  # its job processes stop when it is gone (run/launch.py)
        program, sweep_dir = config.hydra.help.app_name, Path(str(config.hydra.sweep.dir))
        jobs = sweep_jobs(sweep_dir)
        old = jobs or (sweep_dir / "multirun.yaml").exists()
        if old and not _resumes_a_study(config, sweep_dir):
            if not config.get("overwrite", False):
                _stop(
                    program,
                    f"hydra.sweep.dir must be a directory that holds no sweep (got '{sweep_dir}'): it holds "
                    f"{len(jobs)} job dirs of an earlier sweep; choose a new dir, or add overwrite=true to "
                    "delete their files first",
                )
            for job in jobs:
                clear_run(job)
            for name in SWEEP_FILES:
                (sweep_dir / name).unlink(missing_ok=True)
        _writable(sweep_dir, "hydra.sweep.dir", program)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        statuses = []
        for job in sweep_jobs(sweep_dir):
            try:
                statuses.append(json.loads((job / "metrics.json").read_text()).get("status"))
            except (OSError, ValueError):
                statuses.append("no metrics.json")
        if "ok" not in statuses and "pruned" not in statuses:  # a pruned trial did its job
            counts = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses)) or "no job ran"
            _stop(
                config.hydra.help.app_name,
                f"no job of the sweep finished ({counts}); each job's metrics.json under {sweep_dir} "
                "says why",
                code=1,
            )
