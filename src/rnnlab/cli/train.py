"""rnnlab-train: compose the config, build the task, train, test, write metrics.json.

Module level imports stay light (no torch, no Lightning): ``--help`` and ``--cfg`` are fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig

from rnnlab import CONFIG_DIR
from rnnlab.run.entry import run_entry_point, skip_exit_gc
from rnnlab.run.launch import ends_with_its_sweep, in_sweep, process_rank

if TYPE_CHECKING:
    from rnnlab.callbacks.safety import GracefulInterrupt


def train(cfg: DictConfig, signals: GracefulInterrupt | None = None) -> dict[str, float | str | list[str]]:
    """One training run in ``cfg.paths.output_dir``; returns the final metrics. ``signals``:
    the signal handling the caller holds around the run (main's), else the trainer's own."""
    import lightning as L

    from rnnlab.run import build, trackers
    from rnnlab.run.environment import write_environment
    from rnnlab.run.launch import torch_threads
    from rnnlab.run.settings import check_run
    from rnnlab.run.training import (
        best_score,
        callback_summaries,
        check_continuation,
        finish,
        fit,
        fit_metrics,
        probe,
        pruned_at,
        refuse_ddp_in_local_sweep,
        test,
    )  # fmt: skip

    check_run(cfg)  # every setting and every _target_, before anything is built
    build.route_lightning_logs()
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch_threads(cfg.get("threads"))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule = build.build_datamodule(cfg)
    budget = build.build_budget(cfg)
    task = build.build_task(cfg, datamodule.spec, budget, datamodule)  # refused beyond free memory
    if cfg.get("ckpt_path"):
        check_continuation(cfg, task)
    trainer = build.build_trainer(cfg, budget, signals)
    refuse_ddp_in_local_sweep(cfg, trainer)
    trackers.start(trainer, cfg, run_dir)  # an unreachable tracker stops the run here
    if trainer.is_global_zero:
        write_environment(run_dir / "env.json")
    build.log_hyperparams(trainer, cfg, task)

    fit(trainer, task, datamodule, cfg.get("ckpt_path"), run_dir)
    score, best = best_score(trainer)
    metrics = {**fit_metrics(trainer, task, datamodule, budget), **score}
    stopped = pruned_at(trainer)
    if stopped is not None:  # the search's pruner stopped it: not worth a test
        metrics["pruned_at_epoch"] = stopped
    elif cfg.get("test", True):
        metrics.update(test(trainer, task, datamodule, best))
    metrics.update(callback_summaries(trainer))
    if cfg.get("probe") is not None:
        metrics.update(probe(task, list(cfg.probe)))
    status = "ok" if stopped is None else "pruned"
    metrics = finish(trainer, metrics, datamodule.spec, run_dir, cfg.task_name, status)
    trackers.finish(trainer, metrics, run_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> dict | None:
    """One run; in a sweep, what the sweeper needs of it (rnnlab.search.outcome: the status
    and the optimized metrics), a failed job included: the other jobs run on."""
    from rnnlab.callbacks.safety import GracefulInterrupt
    from rnnlab.run.resume import resumed_config
    from rnnlab.run.training import failure, quiet_worker_logs, record_failed_job
    from rnnlab.search import outcome

    skip_exit_gc()
    if process_rank() > 0:
        quiet_worker_logs()
    with ends_with_its_sweep():  # a job in a process of its own stops when its sweep is gone
        try:
            with GracefulInterrupt(Path(cfg.paths.output_dir)) as signals:  # any phase: metrics.json says
                if cfg.get("resume"):
                    cfg = resumed_config(cfg)
                metrics = train(cfg, signals)
        except Exception as error:
            status, message, code = failure(error, cfg)
            if in_sweep() and status != "interrupted":
                return outcome(cfg, record_failed_job(cfg, status, message, code))
            if code is None:
                raise
            prefix = "rnnlab-train" if status == "interrupted" else "rnnlab-train: error"
            print(f"{prefix}: {message}", file=sys.stderr)
            sys.exit(code)
    return outcome(cfg, metrics) if in_sweep() else None


def cli() -> None:
    """The ``rnnlab-train`` console script."""
    run_entry_point(main, "rnnlab-train", "train")


if __name__ == "__main__":
    cli()
