"""rnnlab-train: compose the config, build the task, train, test, write metrics.json.

Module level imports stay light (no torch, no Lightning): ``--help`` and ``--cfg`` are fast.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from rnnlab.cli import skip_exit_gc
from rnnlab.errors import ConfigError

CONFIG_DIR = str(Path(__file__).resolve().parents[3] / "conf")
GROUPS = (
    "data",
    "model",
    "optimizer",
    "scheduler",
    "trainer",
    "logger",
    "callbacks",
    "paths",
    "experiment",
    "debug",
)
log = logging.getLogger(__name__)


class RunInterrupted(Exception):
    """Training stopped on SIGINT or SIGTERM; a checkpoint to resume from was saved."""

    def __init__(self, signum: int, run_dir: Path) -> None:
        self.signum, self.run_dir = signum, run_dir
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


def train(cfg: DictConfig) -> dict[str, float | str]:
    """One training run in ``cfg.paths.output_dir``; returns the final metrics."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from rnnlab.callbacks import GracefulInterrupt, TrainingDiverged
    from rnnlab.cli import build
    from rnnlab.cli.checkpoint import read_checkpoint
    from rnnlab.cli.environment import write_environment

    build.route_lightning_logs()
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch_threads(cfg.get("threads"))
    if cfg.get("ckpt_path"):  # a bad checkpoint stops the run before anything trains
        epoch = read_checkpoint(cfg.ckpt_path).get("epoch", 0)
        max_epochs = OmegaConf.select(cfg, "trainer.max_epochs", default=-1)
        if max_epochs not in (-1, None) and epoch > max_epochs:
            raise ConfigError(
                "trainer.max_epochs",
                f">= {epoch} to continue a checkpoint saved in epoch {epoch}",
                max_epochs,
            )
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = build.build_datamodule(cfg)
    task = build.build_task(cfg, datamodule.spec)
    trainer = build.build_trainer(cfg)
    if _in_sweep() and build.launches_processes(trainer):
        raise ConfigError(
            "trainer.strategy",
            "a single-process strategy in a local sweep (DDP's workers would re-run the whole "
            "sweep); sweep DDP jobs with hydra/launcher=slurm (one allocation per job, "
            "tasks_per_node = trainer.devices), or run a DDP job without -m",
            f"{OmegaConf.select(cfg, 'trainer.strategy')} on {trainer.num_devices} devices",
        )
    if trainer.is_global_zero:
        write_environment(run_dir / "env.json")
    build.log_hyperparams(trainer, build.flat_params(cfg), [cfg.optimized_metric, *task.hparams_metrics])

    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    except TrainingDiverged as error:
        if trainer.is_global_zero:
            build.write_metrics(run_dir / "metrics.json", {"status": "diverged", "error": str(error)})
        raise
    metrics: dict[str, float | str] = build.scalar_metrics(trainer.callback_metrics)
    interrupt = next(cb for cb in trainer.callbacks if isinstance(cb, GracefulInterrupt))
    if interrupt.signal is not None:
        trainer.save_checkpoint(run_dir / "checkpoints" / "last.ckpt")
        if trainer.is_global_zero:
            build.write_metrics(run_dir / "metrics.json", {**metrics, "status": "interrupted"})
        raise RunInterrupted(interrupt.signal, run_dir)

    checkpoint = trainer.checkpoint_callback
    best = None
    monitored = isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_score is not None
    if monitored and checkpoint.best_model_path:  # (monitor: null keeps no best)
        best = checkpoint.best_model_path
        best_score = {f"{checkpoint.monitor}_best": float(checkpoint.best_model_score)}
        metrics.update(best_score)
        for logger in trainer.loggers:
            logger.log_metrics(best_score, trainer.global_step)
    if cfg.get("test", True):
        trainer.test(task, datamodule=datamodule, ckpt_path=best, verbose=False)
        metrics.update(build.scalar_metrics(trainer.callback_metrics))
    for callback in trainer.callbacks:  # e.g. GradientFlow's before/after figures
        if hasattr(callback, "summary_metrics"):
            metrics.update(callback.summary_metrics())
    if cfg.get("probe") is not None:
        metrics.update(probe(task, list(cfg.probe)))
    metrics["status"] = "ok"

    if trainer.is_global_zero:
        path = run_dir / "metrics.json"
        build.write_metrics(path, metrics)
        log.info("metrics: %s", path)
        build.print_summary(metrics, title=cfg.task_name)
    return metrics


def torch_threads(threads: int | None) -> int:
    """Set torch's thread count: ``threads``; by default the launcher's cpus_per_task under
    submitit, else every core this process may use, shared out between the jobs that joblib
    runs at once so that jobs x threads <= cores."""
    import torch
    from hydra.core.hydra_config import HydraConfig

    if threads is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        threads = cores
        if HydraConfig.initialized():
            launcher = HydraConfig.get().launcher
            target = str(launcher.get("_target_", "")).lower()
            if "joblib" in target:
                n_jobs = launcher.get("n_jobs", -1)
                jobs = cores if n_jobs in (-1, None) else max(1, int(n_jobs))
                threads = max(1, cores // jobs)
            elif "submitit" in target and launcher.get("cpus_per_task"):
                threads = int(launcher.cpus_per_task)
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(
            "threads", "an integer >= 1, or null for every core (shared between parallel jobs)", threads
        )
    torch.set_num_threads(threads)
    return threads


def probe(task, window: list[float]) -> dict[str, float]:
    """Forecast what follows ``window`` with the trained model, and say it."""
    forecast = task.predict_next(window)
    shown = ", ".join(f"{v:g}" for v in window)
    log.info("after %s the model predicts %s", shown, ", ".join(f"{v:.4g}" for v in forecast))
    keys = ["probe/prediction", *(f"probe/prediction_step{k}" for k in range(2, len(forecast) + 1))]
    return dict(zip(keys, forecast, strict=True))


def resumed_config(cfg: DictConfig) -> DictConfig:
    """The config of the run in ``cfg.resume``, set to continue from its last checkpoint in
    this invocation's new run dir; key=value overrides on the command line still apply."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    source = Path(cfg.resume).expanduser()
    saved, last = source / ".hydra" / "config.yaml", source / "checkpoints" / "last.ckpt"
    if not saved.is_file():
        raise ConfigError(
            "resume", "a run directory of rnnlab-train (holding .hydra/config.yaml)", str(source)
        )
    if not last.is_file():
        raise ConfigError(
            "resume", "a run directory with checkpoints/last.ckpt to continue from", str(source)
        )
    resumed = OmegaConf.load(saved)
    for override in OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task)):
        key = override.key_or_group
        if key == "resume" or key.startswith("hydra"):
            continue
        if key in GROUPS or override.is_delete():
            raise ConfigError(
                "resume",
                "combined with key=value overrides only (a resumed run keeps its config groups)",
                override.input_line,
            )
        if key.startswith(("optimizer.", "scheduler.")):
            raise ConfigError(
                "resume",
                "combined with overrides outside optimizer.* and scheduler.* (their state, the "
                "learning rate included, comes from the checkpoint)",
                override.input_line,
            )
        OmegaConf.update(resumed, key, override.value(), force_add=True)
    resumed.paths.output_dir = cfg.paths.output_dir
    resumed.ckpt_path = str(last)
    resumed.resume = None
    resumed.resumed_from = str(source)
    if process_rank() == 0:  # DDP workers re-read the same run; rank 0 keeps the record
        OmegaConf.save(resumed, Path(cfg.paths.output_dir) / ".hydra" / "config.yaml")
    return resumed


def process_rank() -> int:
    """This process's rank in a distributed run, 0 outside one. Lightning starts DDP workers
    with LOCAL_RANK set, torchrun sets RANK, SLURM sets SLURM_PROCID."""
    for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def _quiet_worker_logs() -> None:
    """In a DDP worker (rank > 0), log to the console only: the run dir keeps rank 0's
    train.log as its one log (the file handler is created with delay, so no file appears)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(handler)
        handler.close()


def _advice(error, cfg: DictConfig) -> str:
    lr = OmegaConf.select(cfg, "optimizer.lr")
    clip = OmegaConf.select(cfg, "trainer.gradient_clip_val")
    kept = (
        f"the last good checkpoint is {error.last_checkpoint}"
        if error.last_checkpoint
        else "no checkpoint was saved yet"
    )
    change = f"lower optimizer.lr (now {lr}) or clip gradients (trainer.gradient_clip_val, now {clip})"
    return f"{error}; {change}; {kept}"


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _worst(cfg: DictConfig) -> float:
    return float("inf") if cfg.get("optimized_mode", "min") == "min" else float("-inf")


def _failed_job(cfg: DictConfig, status: str, message: str) -> float:
    """A sweep job that failed: say so, record it in its run dir, give the sweeper the worst
    value, and let the other jobs run on."""
    log.error("job failed (%s): %s", status, message)
    metrics_path = Path(cfg.paths.output_dir) / "metrics.json"
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    from rnnlab.cli.build import write_metrics

    write_metrics(metrics_path, {"status": status, "error": message})
    return _worst(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    skip_exit_gc()
    if process_rank() > 0:
        _quiet_worker_logs()
    try:
        if cfg.get("resume"):
            cfg = resumed_config(cfg)
        metrics = train(cfg)
    except ConfigError as error:
        if _in_sweep():
            return _failed_job(cfg, "failed", str(error))
        print(f"rnnlab-train: error: {error}", file=sys.stderr)
        sys.exit(2)
    except RunInterrupted as stop:
        print(
            f"rnnlab-train: {stop}; checkpoint saved. Resume with:\n  rnnlab-train resume={stop.run_dir}",
            file=sys.stderr,
        )
        sys.exit(128 + stop.signum)
    except Exception as error:
        from rnnlab.callbacks import TrainingDiverged

        if _in_sweep():
            status = "diverged" if isinstance(error, TrainingDiverged) else "failed"
            detail = _advice(error, cfg) if status == "diverged" else f"{type(error).__name__}: {error}"
            log.exception("traceback of the failed job")
            return _failed_job(cfg, status, detail)
        if not isinstance(error, TrainingDiverged):
            raise
        print(f"rnnlab-train: error: {_advice(error, cfg)}", file=sys.stderr)
        sys.exit(1)
    value = metrics.get(cfg.optimized_metric)
    if not isinstance(value, float) or value != value:  # missing or NaN: the worst for the sweeper
        return _worst(cfg)
    return value


if __name__ == "__main__":
    main()
