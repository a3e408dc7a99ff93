"""rnnlab-train: compose the config, build the task, train, test, write metrics.json.

Module level imports stay light (no torch, no Lightning): ``--help`` and ``--cfg`` are fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from rnnlab.cli import run_entry_point, skip_exit_gc
from rnnlab.cli.launch import in_sweep, process_rank, torch_threads
from rnnlab.cli.settings import CONFIG_DIR, config_groups
from rnnlab.errors import ConfigError, first_line

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float | str | list[str]]:
    """One training run in ``cfg.paths.output_dir``; returns the final metrics."""
    import lightning as L

    from rnnlab.callbacks import TaskCallback, TrialPruning
    from rnnlab.cli import build
    from rnnlab.cli.checkpoint import BUILT_GROUPS
    from rnnlab.cli.environment import write_environment
    from rnnlab.cli.results import scalar_metrics
    from rnnlab.cli.settings import check_train_settings
    from rnnlab.cli.targets import check_config
    from rnnlab.search import objectives

    check_train_settings(cfg)
    check_config(cfg, BUILT_GROUPS)
    build.route_lightning_logs()
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch_threads(cfg.get("threads"))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule = build.build_datamodule(cfg)
    budget = build.build_budget(cfg)
    task = build.build_task(cfg, datamodule.spec, budget)
    if cfg.get("ckpt_path"):
        check_continuation(cfg, task)
    trainer = build.build_trainer(cfg, budget)
    refuse_ddp_in_local_sweep(cfg, trainer)
    if trainer.is_global_zero:
        write_environment(run_dir / "env.json")
    build.log_hyperparams(trainer, build.flat_params(cfg), [*objectives(cfg)[0], *task.hparams_metrics])

    fit(trainer, task, datamodule, cfg.get("ckpt_path"), run_dir)
    pruning = next((cb for cb in trainer.callbacks if isinstance(cb, TrialPruning)), None)
    pruned = pruning is not None and pruning.pruned_at is not None
    score, best = best_score(trainer)
    metrics = {**scalar_metrics(trainer.callback_metrics), **score, **model_size(task.net)}
    metrics.update(schedule_metrics(trainer))
    if budget is not None:
        metrics.update(budget.summary_metrics())
    if pruned:  # the search's pruner stopped it: not worth a test
        metrics["pruned_at_epoch"] = pruning.pruned_at
    elif cfg.get("test", True):
        trainer.test(task, datamodule=datamodule, ckpt_path=best, weights_only=True, verbose=False)
        metrics.update(scalar_metrics(trainer.callback_metrics))
    for callback in trainer.callbacks:  # e.g. GradientFlow's before/after figures
        if isinstance(callback, TaskCallback):
            metrics.update(callback.summary_metrics())
    if cfg.get("probe") is not None:
        metrics.update(probe(task, list(cfg.probe)))
    return finish(trainer, metrics, datamodule.spec, run_dir, cfg.task_name, "pruned" if pruned else "ok")


def model_size(net) -> dict[str, int]:
    """The network's trainable parameters and width, for comparisons at a parameter budget."""
    return {"model/params": net.num_parameters, "model/hidden_size": net.hidden_size}


def schedule_metrics(trainer) -> dict[str, float]:
    """The learning rate the run ended with and, for a schedule with an end, how far through
    it the run got (1.0: to its end; less: the run stopped first)."""
    from rnnlab.tasks.base import schedule_end

    metrics = {"schedule/final_lr": trainer.optimizers[0].param_groups[0]["lr"]}
    for config in trainer.lr_scheduler_configs:
        end = schedule_end(config.scheduler)
        if end:
            metrics["schedule/progress"] = round(config.scheduler.last_epoch / end, 4)
    return metrics


def check_continuation(cfg: DictConfig, task) -> None:
    """A checkpoint to continue from must fit this run's model and its epoch budget."""
    from rnnlab.cli.checkpoint import check_weights, read_checkpoint

    checkpoint = read_checkpoint(cfg.ckpt_path)
    check_weights(
        checkpoint, task, cfg.ckpt_path, "ckpt_path", "this run's model (its data and model settings)"
    )
    epoch = checkpoint.get("epoch", 0)
    max_epochs = cfg.trainer.max_epochs
    if max_epochs != -1 and epoch > max_epochs:
        raise ConfigError(
            "trainer.max_epochs", f">= {epoch} to continue a checkpoint saved in epoch {epoch}", max_epochs
        )


def refuse_ddp_in_local_sweep(cfg: DictConfig, trainer) -> None:
    from rnnlab.cli.launch import launches_processes

    if in_sweep() and launches_processes(trainer):
        raise ConfigError(
            "trainer.strategy",
            "a single-process strategy in a local sweep (DDP's workers would re-run the whole "
            "sweep); sweep DDP jobs with hydra/launcher=slurm (one allocation per job, "
            "tasks_per_node = trainer.devices), or run a DDP job without -m",
            f"{OmegaConf.select(cfg, 'trainer.strategy')} on {trainer.num_devices} devices",
        )


def fit(trainer, task, datamodule, ckpt_path: str | None, run_dir: Path) -> None:
    """Train; a diverged or interrupted run leaves metrics.json saying so, then raises."""
    from rnnlab.callbacks import GracefulInterrupt, RunInterrupted, TrainingDiverged
    from rnnlab.cli.results import scalar_metrics, write_metrics

    def record(status: str, **extra) -> None:
        if trainer.is_global_zero:
            write_metrics(
                run_dir / "metrics.json",
                {**scalar_metrics(trainer.callback_metrics), **extra, "status": status},
            )

    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except TrainingDiverged as error:
        record("diverged", error=str(error))
        raise
    except RunInterrupted:  # mid-epoch, with its checkpoint saved
        record("interrupted")
        raise
    interrupt = next(cb for cb in trainer.callbacks if isinstance(cb, GracefulInterrupt))
    if interrupt.signal is not None:  # came after the last training batch
        trainer.save_checkpoint(interrupt.checkpoint)
        record("interrupted")
        raise RunInterrupted(interrupt.signal, run_dir)


def best_score(trainer) -> tuple[dict[str, float], str | None]:
    """``{<monitor>_best: score}`` (also logged) and the checkpoint that holds it; nothing
    when no checkpoint is monitored (``monitor: null`` keeps no best)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    checkpoint = trainer.checkpoint_callback
    if not isinstance(checkpoint, ModelCheckpoint) or checkpoint.best_model_score is None:
        return {}, None
    if not checkpoint.best_model_path:
        return {}, None
    score = {f"{checkpoint.monitor}_best": float(checkpoint.best_model_score)}
    for logger in trainer.loggers:
        logger.log_metrics(score, trainer.global_step)
    return score, checkpoint.best_model_path


def finish(trainer, metrics: dict, spec, run_dir: Path, title: str, status: str = "ok") -> dict:
    """Mark the run ok (or pruned), with warnings where its numbers are suspect; write and
    show them."""
    from rnnlab.cli.results import print_summary, suspect_results, write_metrics

    warnings = suspect_results(metrics, spec, trainer.global_step) if status == "ok" else []
    metrics = {**metrics, "status": status, **({"warnings": warnings} if warnings else {})}
    if trainer.is_global_zero:
        path = run_dir / "metrics.json"
        write_metrics(path, metrics)
        log.info("metrics: %s", path)
        for warning in warnings:
            log.warning("suspect result: %s", warning)
        print_summary(metrics, title=title)
    return metrics


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

    from rnnlab.cli.checkpoint import BUILT_GROUPS
    from rnnlab.cli.targets import check_config

    if cfg.get("ckpt_path"):
        raise ConfigError(
            "ckpt_path",
            "null with resume= (a resumed run continues from its own checkpoints/last.ckpt)",
            cfg.ckpt_path,
        )
    source = Path(str(cfg.resume)).expanduser()
    saved, last = source / ".hydra" / "config.yaml", source / "checkpoints" / "last.ckpt"
    if not saved.is_file():
        raise ConfigError(
            "resume", "a run directory of rnnlab-train (holding .hydra/config.yaml)", str(source)
        )
    if not last.is_file():
        raise ConfigError(
            "resume", "a run directory with checkpoints/last.ckpt to continue from", str(source)
        )
    try:
        resumed = OmegaConf.load(saved)
        check_config(resumed, BUILT_GROUPS)
    except ConfigError as error:
        raise ConfigError(
            "resume", "a run whose config names only classes rnnlab builds", str(source), str(error)
        ) from None
    except Exception as error:  # not YAML, or not a mapping
        raise ConfigError(
            "resume", "a run with a readable .hydra/config.yaml", str(source), first_line(error)
        ) from None
    for override in OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task)):
        key = override.key_or_group
        if key in ("resume", "overwrite") or key.startswith("hydra"):
            continue
        if key in config_groups() or override.is_delete():
            raise ConfigError(
                "resume",
                "combined with key=value overrides only (a resumed run keeps its config groups)",
                override.input_line,
            )
        if key == "budget" or key.startswith(("optimizer.", "scheduler.")):
            raise ConfigError(
                "resume",
                "combined with overrides outside optimizer.*, scheduler.* and budget (their state, "
                "the learning rate and the time spent included, comes from the checkpoint)",
                override.input_line,
            )
        OmegaConf.update(resumed, key, override.value(), force_add=True)
    resumed.paths.output_dir = cfg.paths.output_dir
    resumed.ckpt_path = str(last)
    resumed.resume = None
    resumed.trial = None  # a search's trial ended with its job; the continuation is a plain run
    resumed.resumed_from = str(source)
    if process_rank() == 0:  # DDP workers re-read the same run; rank 0 keeps the record
        OmegaConf.save(resumed, Path(cfg.paths.output_dir) / ".hydra" / "config.yaml")
    return resumed


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


def failure(error: Exception, cfg: DictConfig) -> tuple[str, str, int | None]:
    """What a run that raised ``error`` reports: (status, one-line message, exit code); the
    exit code is None for an error that is not the user's (a bug: its traceback is shown)."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from rnnlab.callbacks import RunInterrupted, TrainingDiverged

    if isinstance(error, ConfigError):
        return "failed", str(error), 2
    if isinstance(error, MisconfigurationException):  # Lightning's word for a setting it refuses
        return "failed", first_line(error), 2
    if isinstance(error, TrainingDiverged):
        return "diverged", _advice(error, cfg), 1
    if isinstance(error, RunInterrupted):
        resume = f"rnnlab-train resume={error.run_dir}"
        return "interrupted", f"{error}; checkpoint saved. Resume with:\n  {resume}", 128 + error.signum
    return "failed", f"{type(error).__name__}: {error}", None


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> dict | None:
    """One run; in a sweep, what the sweeper needs of it (rnnlab.search.outcome: the status
    and the optimized metrics), a failed job included: the other jobs run on."""
    from rnnlab.search import outcome

    skip_exit_gc()
    if process_rank() > 0:
        _quiet_worker_logs()
    try:
        if cfg.get("resume"):
            cfg = resumed_config(cfg)
        metrics = train(cfg)
    except Exception as error:
        status, message, code = failure(error, cfg)
        if in_sweep() and status != "interrupted":
            if code is None:
                log.exception("traceback of the failed job")
            log.error("job failed (%s): %s", status, message)
            from rnnlab.cli.results import write_metrics

            metrics = {"status": status, "error": message}
            metrics_path = Path(cfg.paths.output_dir) / "metrics.json"
            metrics_path.parent.mkdir(parents=True, exist_ok=True)
            write_metrics(metrics_path, metrics)
            return outcome(cfg, metrics)
        if code is None:
            raise
        prefix = "rnnlab-train" if status == "interrupted" else "rnnlab-train: error"
        print(f"{prefix}: {message}", file=sys.stderr)
        sys.exit(code)
    return outcome(cfg, metrics) if in_sweep() else None


def cli() -> None:
    """The ``rnnlab-train`` console script."""
    run_entry_point(main, "rnnlab-train")


if __name__ == "__main__":
    cli()
