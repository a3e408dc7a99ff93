"""The steps of a training run that cli/train.py's recipe calls: fit with safe stops, the
best score, the test, the closing metrics, and what a failure reports."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import WRITE_FAULTS, ConfigError, first_line, write_fault_in
from rnnlab.run.launch import in_sweep

log = logging.getLogger(__name__)


def check_continuation(cfg: DictConfig, task) -> None:
    """A checkpoint to continue from must fit this run's model and its epoch budget."""
    from rnnlab.run.checkpoint import check_weights, read_checkpoint

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
    from rnnlab.run.adapters import relaunches_command_line

    if in_sweep() and relaunches_command_line(trainer):
        raise ConfigError(
            "trainer.strategy",
            "a single-process strategy in a local sweep (DDP's workers would re-run the whole "
            "sweep); sweep DDP jobs with hydra/launcher=slurm (one allocation per job, "
            "tasks_per_node = trainer.devices), or run a DDP job without -m",
            f"{OmegaConf.select(cfg, 'trainer.strategy')} on {trainer.num_devices} devices",
        )


def fit(trainer, task, datamodule, ckpt_path: str | None, run_dir: Path) -> None:
    """Train; a diverged run leaves metrics.json saying so, then raises (an interrupted one:
    GracefulInterrupt writes it)."""
    from rnnlab.callbacks import GracefulInterrupt, RunInterrupted, TrainingDiverged
    from rnnlab.run.results import scalar_metrics, write_metrics

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
    interrupt = next(cb for cb in trainer.callbacks if isinstance(cb, GracefulInterrupt))
    if interrupt.signal is not None:  # came after the last training batch
        trainer.save_checkpoint(interrupt.checkpoint)
        raise RunInterrupted(interrupt.signal, run_dir, "training")


def fit_metrics(trainer, task, datamodule, budget) -> dict:
    """What training leaves to report: the last logged metrics, the network's size (its
    parameters, its width, the numbers of state it carries per layer over the run's
    sequences), how far the schedule and the budget got."""
    from rnnlab.run.results import scalar_metrics

    metrics = scalar_metrics(trainer.callback_metrics)
    steps = next(iter(datamodule.val_dataloader()))[0].shape[1]  # the run's sequence length
    metrics.update(
        {
            "model/params": task.net.num_parameters,
            "model/hidden_size": task.net.hidden_size,
            "model/state_size": task.net.state_size(steps),
        }
    )
    metrics.update(schedule_metrics(trainer))
    if budget is not None:
        metrics.update(budget.summary_metrics())
    return metrics


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


def pruned_at(trainer) -> int | None:
    """The epoch a search's pruner stopped this run in, or None."""
    from rnnlab.callbacks import TrialPruning

    pruning = next((cb for cb in trainer.callbacks if isinstance(cb, TrialPruning)), None)
    return None if pruning is None else pruning.pruned_at


def test(trainer, task, datamodule, best: str | None) -> dict:
    """The test splits' metrics from the best checkpoint (the last weights without one)."""
    from rnnlab.run.results import scalar_metrics

    trainer.test(task, datamodule=datamodule, ckpt_path=best, weights_only=True, verbose=False)
    return scalar_metrics(trainer.callback_metrics)


def callback_summaries(trainer) -> dict:
    """What the looking-inside callbacks add to metrics.json (GradientFlow's before/after)."""
    from rnnlab.callbacks import TaskCallback

    metrics = {}
    for callback in trainer.callbacks:
        if isinstance(callback, TaskCallback):
            metrics.update(callback.summary_metrics())
    return metrics


def finish(trainer, metrics: dict, spec, run_dir: Path, title: str, status: str = "ok") -> dict:
    """Mark the run ok (or pruned), with warnings where its numbers are suspect; write and
    show them."""
    from rnnlab.run.results import print_summary, suspect_results, write_metrics

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


def quiet_worker_logs() -> None:
    """In a DDP worker (rank > 0), log to the console only: the run dir keeps rank 0's
    train.log as its one log (the file handler is created with delay, so no file appears)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(handler)
        handler.close()


def advice(error, cfg: DictConfig) -> str:
    """What to change after a divergence, and what was kept."""
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
        return "diverged", advice(error, cfg), 1
    if isinstance(error, RunInterrupted):
        resume = f"rnnlab-train resume={error.run_dir}"
        if error.phase in ("training", "validation"):
            kept = "checkpoint saved"
        elif error.resumable:
            kept = "training had finished, its checkpoint is kept"
        else:
            kept = "nothing had trained yet; resuming starts it again"
        return "interrupted", f"{error}; {kept}. Resume with:\n  {resume}", 128 + error.signum
    fault = write_fault_in(error)
    if fault is not None:
        return "failed", write_fault(fault, Path(cfg.paths.output_dir)), 1
    return "failed", f"{type(error).__name__}: {error}", None


def write_fault(error: OSError, run_dir: Path) -> str:
    """The one line for a write that failed mid-run: the path, why, and what was kept (the
    last checkpoint, loaded to be sure). A checkpoint the write left half-written is removed
    (a file copied across file systems is written in place); the run's status goes to
    metrics.json where the disk still takes it."""
    from rnnlab.run.checkpoint import read_checkpoint
    from rnnlab.run.results import write_metrics

    path = error.filename2 or error.filename  # shutil's copy names the destination second
    reason = WRITE_FAULTS[error.errno]
    removed = ""
    if path and str(path).endswith(".ckpt") and Path(path).is_file():
        try:
            read_checkpoint(path)
        except Exception:
            Path(path).unlink(missing_ok=True)
            removed = f"; the half-written {Path(path).name} was removed"
    last = run_dir / "checkpoints" / "last.ckpt"
    try:
        checkpoint = read_checkpoint(last)
        kept = (
            f"{last} (epoch {checkpoint.get('epoch')}, step {checkpoint.get('global_step')}) is intact: "
            f"rnnlab-train resume={run_dir} continues from it"
        )
    except Exception:
        kept = "no checkpoint had been written"
    message = f"could not write {path or 'a file of the run'}: {reason}; {kept}{removed}"
    try:
        write_metrics(run_dir / "metrics.json", {"status": "failed", "error": message})
    except OSError as again:
        message += f" (metrics.json could not be written either: {WRITE_FAULTS.get(again.errno, again)})"
    return message


def record_failed_job(cfg: DictConfig, status: str, message: str, code: int | None) -> dict:
    """A sweep job that failed: logged, written to its metrics.json; the sweep goes on."""
    from rnnlab.run.results import write_metrics

    if code is None:
        log.exception("traceback of the failed job")
    log.error("job failed (%s): %s", status, message)
    metrics = {"status": status, "error": message}
    path = Path(cfg.paths.output_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_metrics(path, metrics)
    return metrics
