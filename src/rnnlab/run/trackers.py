"""Experiment trackers (MLflow, Weights & Biases) beside TensorBoard: Lightning's loggers,
checked before training, named after the run, tagged with a sweep's overrides, and given
the run's final metrics and files at the end.

A tracker is a guest: one that cannot be reached stops the run before training, in one
line; one that fails later costs its own record, never the run's (metrics.json, the
checkpoints and the run dir are written first and kept).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from rnnlab.errors import ConfigError, first_line

log = logging.getLogger(__name__)

# the run's own files a tracker keeps a copy of
ARTIFACTS = ("metrics.json", "env.json", ".hydra/config.yaml", ".hydra/overrides.yaml")
# the trackers' classes, the package each needs and the extra that installs it
NEEDS = {
    "lightning.pytorch.loggers.MLFlowLogger": ("mlflow", "mlflow"),
    "lightning.pytorch.loggers.WandbLogger": ("wandb", "wandb"),
}


def trackers(trainer) -> list:
    """The trainer's MLflow and W&B loggers."""
    from lightning.pytorch.loggers import MLFlowLogger, WandbLogger

    return [logger for logger in trainer.loggers if isinstance(logger, MLFlowLogger | WandbLogger)]


def check_installed(setting: str, target: str) -> None:
    """A tracker whose package is missing is one line with the command that installs it."""
    import importlib.util

    if target in NEEDS and importlib.util.find_spec(NEEDS[target][0]) is None:
        package, extra = NEEDS[target]
        raise ConfigError(
            setting, f"a logger whose package is installed: pip install 'rnnlab[{extra}]'", None,
            f"{package} is not installed",
        )  # fmt: skip


URI_ALLOWED = "a tracking URI MLflow can reach (sqlite:///path/mlflow.db, http://host:5000)"


def refused_uri(error: ConfigError, setting: str, conf) -> ConfigError:
    """MLflow's logger checks its tracking URI when it is built: say so by its key."""
    if str(conf.get("_target_")) != "lightning.pytorch.loggers.MLFlowLogger":
        return error
    return ConfigError(f"{setting}.tracking_uri", URI_ALLOWED, conf.get("tracking_uri"), error.detail)


def start(trainer, cfg, run_dir: Path) -> None:
    """Reach each tracker now (an unreachable one is a ConfigError before training), name
    its run after the run dir and tag it with the job's overrides (a sweep's, per job)."""
    from hydra.core.hydra_config import HydraConfig
    from lightning.pytorch.loggers import MLFlowLogger

    if not trainer.is_global_zero or not trackers(trainer):
        return
    name = _run_name(run_dir, Path(cfg.paths.root_dir))
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    tags = dict(override.split("=", 1) for override in overrides if "=" in override)
    for logger in trackers(trainer):
        if isinstance(logger, MLFlowLogger):
            _start_mlflow(logger, name, tags, cfg.logger.mlflow.get("tracking_uri"))
        else:
            _start_wandb(logger, name, tags)
        guard(logger)


# what Lightning calls on a logger while it trains
LOGGER_CALLS = ("log_metrics", "log_hyperparams", "log_graph", "save", "after_save_checkpoint", "finalize")
FAILED = "_rnnlab_tracker_failed"  # set on a tracker that failed: no more calls reach it


def guard(logger) -> None:
    """Make a tracker's failure during training a warning: Lightning calls its loggers from
    inside the training loop, where an exception would end the run before its checkpoint
    and metrics.json. Its first failure is said once and it gets no further calls."""
    for name in LOGGER_CALLS:
        setattr(logger, name, _guarded(logger, name, getattr(logger, name)))


def _guarded(logger, name: str, method):
    def call(*args, **kwargs):
        if getattr(logger, FAILED, False):
            return None
        try:
            return method(*args, **kwargs)
        except Exception as error:  # the tracker's trouble (a server, a disk): not the run's
            setattr(logger, FAILED, True)
            log.warning(
                "%s failed in %s (%s): it records nothing more of this run; the run goes on",
                type(logger).__name__,
                name,
                first_line(error),
            )
            return None

    return call


def _run_name(run_dir: Path, root: Path) -> str:
    try:
        return str(run_dir.resolve().relative_to(root.resolve()))
    except ValueError:
        return run_dir.name


def _start_mlflow(logger, name: str, tags: dict[str, str], uri: str | None) -> None:
    # a server that does not answer fails in seconds, not after MLflow's minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    try:
        client, run_id = logger.experiment, logger.run_id
        client.set_tag(run_id, "mlflow.runName", name)
        for key, value in tags.items():
            client.set_tag(run_id, f"override.{key}", value)
    except Exception as error:  # MLflow's own errors: a URI, a server, a database
        raise ConfigError(
            "logger.mlflow.tracking_uri",
            URI_ALLOWED,
            uri,
            first_line(error),
        ) from None


def _start_wandb(logger, name: str, tags: dict[str, str]) -> None:
    try:
        run = logger.experiment
        run.name = name
        run.config.update({f"override.{key}": value for key, value in tags.items()}, allow_val_change=True)
    except Exception as error:
        raise ConfigError(
            "logger.wandb",
            "a W&B logger that can start its run (offline needs no key)",
            None,
            first_line(error),
        ) from None


def finish(trainer, metrics: dict[str, Any], run_dir: Path) -> None:
    """Give each tracker the run's final numbers and files; a tracker that fails here is
    a warning (the run's own files are already written)."""
    from lightning.pytorch.loggers import MLFlowLogger

    if not trainer.is_global_zero:
        return
    numbers = {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    files = [run_dir / name for name in ARTIFACTS if (run_dir / name).is_file()]
    files += sorted(run_dir.glob("*.png"))
    for logger in trackers(trainer):
        if getattr(logger, FAILED, False):
            continue
        try:
            if isinstance(logger, MLFlowLogger):
                _finish_mlflow(logger, numbers, metrics.get("status"), files)
            else:
                _finish_wandb(logger, numbers, metrics.get("status"), files, run_dir)
        except Exception as error:  # the tracker's problem: the run itself is done and kept
            log.warning(
                "%s could not record the run's end (%s); metrics.json and the checkpoints are in %s",
                type(logger).__name__,
                first_line(error),
                run_dir,
            )


def _finish_mlflow(logger, numbers: dict[str, float], status: str | None, files: list[Path]) -> None:
    client, run_id = logger.experiment, logger.run_id
    logger.log_metrics({f"final/{key}": value for key, value in numbers.items()})
    client.set_tag(run_id, "status", str(status))
    for path in files:
        client.log_artifact(
            run_id, str(path), artifact_path=".hydra" if path.parent.name == ".hydra" else None
        )


def _finish_wandb(
    logger, numbers: dict[str, float], status: str | None, files: list[Path], run_dir: Path
) -> None:
    run = logger.experiment
    try:
        run.summary.update({f"final/{key}": value for key, value in numbers.items()})
        run.summary["status"] = str(status)
        for path in files:
            run.save(str(path), base_path=str(run_dir), policy="now")
    finally:
        run.finish()  # whatever failed above: the run's record is flushed now, not at exit
